/** What a {@link Guard} releases into. @internal */
export interface GuardOwner {
  releaseGuard(token: number): void
}

/**
 * Proof of a grant: returned by `acquire()` of a `Lock`, `Semaphore` or `KeyedLock`. Release it
 * exactly once — `release()` is idempotent, and `[Symbol.dispose]` lets `using` do it for you:
 *
 * @example
 * ```ts
 * {
 *   using guard = await lock.acquire()
 *   counter = (await read()) + 1
 * } // released here, even if the block throws
 * ```
 */
export class Guard implements Disposable, AsyncDisposable {
  /** @internal */
  private owner: GuardOwner | undefined
  /** @internal */
  private readonly token: number

  /** @internal */
  constructor(owner: GuardOwner, token: number) {
    this.owner = owner
    this.token = token
  }

  /** Releases what this guard holds. Calling it again (or after disposal) does nothing. */
  release(): void {
    const owner = this.owner
    if (owner === undefined) return
    // Release first: if the owner refuses (BoundedSemaphore over-release), the guard stays live.
    owner.releaseGuard(this.token)
    this.owner = undefined
  }

  /** True once `release()` (or disposal) ran on this guard. */
  get released(): boolean {
    return this.owner === undefined
  }

  /** Same as `release()`; lets `using guard = await lock.acquire()` release at scope exit. */
  [Symbol.dispose](): void {
    this.release()
  }

  /** Same as `release()`; lets `await using` work too (release itself is synchronous). */
  [Symbol.asyncDispose](): Promise<void> {
    this.release()
    return Promise.resolve()
  }
}
