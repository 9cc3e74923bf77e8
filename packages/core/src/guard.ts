import { InvalidArgumentError } from './errors'
import { describe } from './options'

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
  #owner: GuardOwner | undefined
  readonly #token: number

  /** @internal */
  constructor(owner: GuardOwner, token: number) {
    this.#owner = owner
    this.#token = token
  }

  /**
   * A guard for anything that is released by calling `release` once — the supported way for an
   * adapter (e.g. `@yieldpoint/redis`) to hand out its own grants as yieldpoint Guards. The
   * guard calls `release` at most once; if `release` throws, the guard stays live and the error
   * propagates, so a retry can release again.
   * @example
   * ```ts
   * const guard = Guard.from(() => connection.unlock(token))
   * using _ = guard // or guard.release()
   * ```
   */
  static from(release: () => void): Guard {
    if (typeof release !== 'function') throw new InvalidArgumentError(`Guard.from(release): release must be a function, got ${describe(release)}.`)
    return new Guard({ releaseGuard: release }, 0)
  }

  /** Releases what this guard holds. Calling it again (or after disposal) does nothing. */
  release(): void {
    const owner = this.#owner
    if (owner === undefined) return
    // Release first: if the owner refuses (BoundedSemaphore over-release), the guard stays live.
    owner.releaseGuard(this.#token)
    this.#owner = undefined
  }

  /** True once `release()` (or disposal) ran on this guard. */
  get released(): boolean {
    return this.#owner === undefined
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

// Why: `acquire()` resolves a promise with a fresh Guard, and resolving with an object makes the
// engine read `resolution.then` (the thenable check). Without an own answer on Guard.prototype that
// read walks on to Object.prototype on every grant: ~80 of ~1,090 instructions per
// uncontended acquire + release on Node 20 (tooling/bench src/instructions.mjs, callgrind). A non-enumerable `then: undefined` here
// ends the walk one step earlier and still says "not a thenable" (only a callable `then` is one).
Object.defineProperty(Guard.prototype, 'then', { value: undefined, writable: false, enumerable: false, configurable: false })
