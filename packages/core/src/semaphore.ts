import { ClosedError, InvalidArgumentError } from './errors'
import { Guard, type GuardOwner } from './guard'
import { runWith } from './lock'
import { checkFunction, checkWaitOptions, describe, type WaitOptions } from './options'
import { WaitQueue, type WaitQueueOwner } from './wait-queue'

/**
 * Options of `Semaphore.acquire()`: the wait options plus how many permits to take.
 * @example
 * ```ts
 * using _ = await pool.acquire({ permits: 2, timeout: 1_000 })
 * ```
 */
export interface SemaphoreAcquireOptions extends WaitOptions {
  /** Permits to take at once (tokio's `acquire_many`); an integer >= 1. Default 1. */
  permits?: number | undefined
}

/**
 * A counting semaphore with asyncio's semantics: `value` permits, `acquire()` takes one (or
 * `permits`), `release()` returns one.
 *
 * **Fairness.** Strict FIFO, head-of-line, no barging: while anyone is queued a newcomer queues
 * too (`locked()` is true), even if permits are free; a large request at the head is not
 * overtaken by smaller ones behind it (tokio's rule). Released permits are handed straight to
 * queued waiters in order.
 *
 * **Cancellation.** Whichever of grant and abort happens first wins. A waiter that aborts leaves
 * the queue at once and takes no permit with it; if it was a large request blocking the head, the
 * waiters behind it are re-examined immediately, so no permit is stranded.
 *
 * `release()` is unbounded, as in asyncio; use {@link BoundedSemaphore} to catch over-release.
 *
 * @example
 * ```ts
 * const sem = new Semaphore(4) // at most 4 requests to the partner API at once
 * const body = await sem.runExclusive(() => fetch(url).then((r) => r.text()))
 * ```
 */
export class Semaphore implements GuardOwner, WaitQueueOwner {
  /** @internal */
  protected permits: number
  private closedReason: ClosedError | undefined = undefined
  private readonly queue: WaitQueue<Guard>

  /**
   * @param value initial number of permits, an integer >= 0. Default 1.
   * @throws {@link InvalidArgumentError} for a negative or fractional value.
   */
  constructor(value = 1) {
    checkPermitCount(value, new.target.name)
    this.permits = value
    this.queue = new WaitQueue<Guard>(`${new.target.name}.acquire()`, this)
  }

  /** Free permits right now. */
  get value(): number {
    return this.permits
  }

  /** True when `acquire()` would have to wait: no free permit, or someone is already queued. */
  locked(): boolean {
    return this.permits === 0 || this.queue.length > 0
  }

  /**
   * Waits for permits and resolves with a {@link Guard} that returns them.
   * Rejects with `signal.reason` on abort, {@link TimeoutError} on timeout, {@link ClosedError}
   * after `close()`.
   */
  acquire(opts?: SemaphoreAcquireOptions): Promise<Guard> {
    let n = 1
    if (opts !== undefined) {
      if (opts.permits !== undefined) n = this.checkRequest(opts.permits, 'acquire')
      if (checkWaitOptions(opts, `${this.constructor.name}.acquire()`)) return Promise.reject(opts.signal!.reason)
    }
    if (this.closedReason !== undefined) return Promise.reject(this.closedReason)
    if (this.queue.length === 0 && this.permits >= n) {
      this.permits -= n
      return Promise.resolve(new Guard(this, n))
    }
    return this.queue.park(n, opts)
  }

  /**
   * Takes permits only if that needs no waiting (free permits and nobody queued).
   * @returns a Guard, or `undefined`.
   * @throws {@link ClosedError} after `close()`.
   */
  tryAcquire(permits = 1): Guard | undefined {
    const n = this.checkRequest(permits, 'tryAcquire')
    if (this.closedReason !== undefined) throw this.closedReason
    if (this.queue.length !== 0 || this.permits < n) return undefined
    this.permits -= n
    return new Guard(this, n)
  }

  /** Returns one permit, handing it to the longest waiter if it can now proceed. */
  release(): void {
    this.releasePermits(1)
  }

  /**
   * Runs `fn` while holding a permit (or `opts.permits`) and returns them however `fn` ends.
   * @throws {@link InvalidArgumentError} synchronously if `fn` is not a function.
   */
  runExclusive<R>(fn: () => R | PromiseLike<R>, opts?: SemaphoreAcquireOptions): Promise<Awaited<R>> {
    checkFunction(fn, `${this.constructor.name}.runExclusive`)
    return runWith(this.acquire(opts), fn)
  }

  /**
   * Closes the semaphore: queued and future `acquire()` calls reject with {@link ClosedError}.
   * Permits already granted can still be released without error.
   */
  close(reason?: unknown): void {
    if (this.closedReason !== undefined) return
    this.closedReason = new ClosedError(`${this.constructor.name} is closed: close() was called, so it grants no more permits.`, reason === undefined ? undefined : { cause: reason })
    this.queue.rejectAll(this.closedReason)
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.closedReason !== undefined
  }

  /** A snapshot for logs and metrics. */
  statistics(): { value: number; waiting: number; locked: boolean; closed: boolean } {
    return { value: this.permits, waiting: this.queue.length, locked: this.locked(), closed: this.closed }
  }

  /** @internal */
  releaseGuard(permits: number): void {
    this.releasePermits(permits)
  }

  /** @internal */
  waiterLeft(wasHead: boolean): void {
    // Only a head that asked for more than is free can have blocked the waiters behind it.
    if (wasHead) this.dispatch()
  }

  /** @internal */
  protected releasePermits(n: number): void {
    this.permits += n
    this.dispatch()
  }

  /** @internal */
  protected checkRequest(permits: unknown, method: string): number {
    if (typeof permits !== 'number' || !Number.isInteger(permits) || permits < 1) {
      throw new InvalidArgumentError(`${this.constructor.name}.${method}(): permits must be an integer >= 1, got ${describe(permits)}.`)
    }
    return permits
  }

  private dispatch(): void {
    const queue = this.queue
    let head = queue.head
    while (head !== undefined && head.weight <= this.permits) {
      this.permits -= head.weight
      queue.grant(head, new Guard(this, head.weight))
      head = queue.head
    }
  }
}

/** @internal */
export function checkPermitCount(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(
      `${what} value must be an integer >= 0 (the number of permits), got ${describe(value)}. Use e.g. new ${what}(4); use 0 to start with none free.`,
    )
  }
}
