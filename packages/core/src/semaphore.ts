import { ClosedError, InvalidArgumentError } from './errors'
import { Guard } from './guard'
import { failNow, runWith } from './lock'
import { probes } from './diagnostics'
import { Meta, watchAcquire, watchAcquireCallback, watchTryAcquire, type PrimitiveOptions } from './diagnostics-watch'
import { checkFunction, checkWaitOptions, describe, type WaitOptions } from './options'
import { parkWithdrawable, WaitQueue } from './wait-queue'

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
 * What `Semaphore.statistics()` (and `BoundedSemaphore.statistics()`) returns.
 * @example
 * ```ts
 * const { value, waiting } = sem.statistics()
 * ```
 */
export interface SemaphoreStatistics {
  /** Free permits right now. */
  value: number
  /** Tasks queued for permits. */
  waiting: number
  /** True when `acquire()` would have to wait. */
  locked: boolean
  /** True after `close()`. */
  closed: boolean
}

/**
 * A counting semaphore with asyncio's semantics: `new Semaphore(permits)` starts with `permits`
 * free, `acquire()` takes one (or `{ permits }`), `release()` returns one; `value` is how many are
 * free now.
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
export class Semaphore {
  /** @internal */
  protected permits: number
  private closedReason: ClosedError | undefined = undefined
  private readonly queue: WaitQueue<Guard>
  /** @internal */
  readonly meta: Meta

  /**
   * @param permits how many permits it starts with (its capacity), an integer >= 0. Default 1.
   * @param options `name` (messages, warnings, the `yieldpoint:semaphore` channel) and `warnAfter`.
   * @throws {@link InvalidArgumentError} for a negative or fractional count or a malformed option.
   */
  constructor(permits = 1, options?: PrimitiveOptions) {
    checkPermitCount(permits, new.target.name)
    this.permits = permits
    this.meta = new Meta(new.target.name, options)
    this.queue = new WaitQueue<Guard>(this.meta.label('acquire()'), this)
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
    // Diagnostics and misuse detection take a separate path, so the plain one stays as it was.
    if (probes.semaphore.on) {
      const info = { primitive: this.meta.primitive, name: this.meta.name, permits: typeof opts?.permits === 'number' ? opts.permits : 1 }
      return watchAcquire(probes.semaphore, this.meta, info, this.queue.length, opts?.signal, this.acquire, () => this.take(opts))
    }
    return this.take(opts)
  }

  private take(opts: SemaphoreAcquireOptions | undefined): Promise<Guard> {
    let n = 1
    if (opts !== undefined) {
      if (opts.permits !== undefined) n = this.checkRequest(opts.permits, 'acquire')
      if (checkWaitOptions(opts, this.queue.api)) return Promise.reject(opts.signal!.reason)
    }
    if (this.closedReason !== undefined) return Promise.reject(this.closedReason)
    if (this.queue.length === 0 && this.permits >= n) {
      this.permits -= n
      return Promise.resolve(new Guard(this, n))
    }
    return this.queue.park(n, opts)
  }

  /**
   * `acquire()` with callbacks, for adapters that must own the grant in the same tick it is made
   * (see `Lock.acquireCallback`). `onGrant` runs synchronously, at once or inside the release
   * that frees the permits.
   * @returns a function that withdraws the wait (a no-op after the grant).
   * @example
   * ```ts
   * const withdraw = sem.acquireCallback((guard) => start(guard), (err) => fail(err), { permits: 2 })
   * ```
   */
  acquireCallback(onGrant: (guard: Guard) => void, onError: (reason: unknown) => void, opts?: SemaphoreAcquireOptions): () => void {
    if (probes.semaphore.on) {
      const info = { primitive: this.meta.primitive, name: this.meta.name, permits: typeof opts?.permits === 'number' ? opts.permits : 1 }
      return watchAcquireCallback(probes.semaphore, this.meta, info, this.queue.length, opts?.signal, this.acquireCallback, onGrant, onError, (g, e) =>
        this.takeCallback(g, e, opts),
      )
    }
    return this.takeCallback(onGrant, onError, opts)
  }

  private takeCallback(onGrant: (guard: Guard) => void, onError: (reason: unknown) => void, opts: SemaphoreAcquireOptions | undefined): () => void {
    let n = 1
    if (opts !== undefined) {
      if (opts.permits !== undefined) n = this.checkRequest(opts.permits, 'acquireCallback')
      if (checkWaitOptions(opts, `${this.constructor.name}.acquireCallback()`)) return failNow(onError, opts.signal!.reason)
    }
    if (this.closedReason !== undefined) return failNow(onError, this.closedReason)
    if (this.queue.length === 0 && this.permits >= n) {
      this.permits -= n
      onGrant(new Guard(this, n))
      return () => {}
    }
    return parkWithdrawable(this.queue, n, onGrant, onError, opts)
  }

  /**
   * Takes permits (one, or `opts.permits`) only if that needs no waiting (free permits and
   * nobody queued).
   * @returns a Guard, or `undefined`.
   * @throws {@link ClosedError} after `close()`.
   * @example
   * ```ts
   * const guard = sem.tryAcquire({ permits: 2 })
   * if (guard === undefined) return busy()
   * ```
   */
  tryAcquire(opts?: { permits?: number | undefined }): Guard | undefined {
    if (opts !== undefined && (typeof opts !== 'object' || opts === null)) {
      throw new InvalidArgumentError(`${this.constructor.name}.tryAcquire(): options must be an object like { permits: 2 }, got ${describe(opts)}.`)
    }
    const n = opts === undefined || opts.permits === undefined ? 1 : this.checkRequest(opts.permits, 'tryAcquire')
    if (this.closedReason !== undefined) throw this.closedReason
    if (this.queue.length !== 0 || this.permits < n) return undefined
    this.permits -= n
    const guard = new Guard(this, n)
    if (!probes.semaphore.on) return guard
    return watchTryAcquire(probes.semaphore, this.meta, { primitive: this.meta.primitive, name: this.meta.name, permits: n }, this.tryAcquire, guard)
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
    this.closedReason = new ClosedError(
      `${this.meta.who} is closed: close() was called, so it grants no more permits.`,
      reason === undefined ? undefined : { cause: reason },
    )
    this.queue.rejectAll(this.closedReason)
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.closedReason !== undefined
  }

  /** A snapshot for logs and metrics. */
  statistics(): SemaphoreStatistics {
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
      `${what}(permits): permits must be an integer >= 0 (how many it starts with), ` +
        `got ${describe(value)}. Use e.g. new ${what}(4); use 0 to start with none free.`,
    )
  }
}
