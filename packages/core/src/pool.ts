import { ClosedError, InvalidArgumentError } from './errors'
import { checkFunction, checkTimeout, checkWaitOptions, describe, type WaitOptions } from './options'
import { WaitQueue, type Waiter } from './wait-queue'

// setTimeout overflows above 2^31-1 ms; the eviction timer recomputes its deadline when it
// fires, so a longer idleTimeout/maxLifetime simply re-arms.
const MAX_TIMER_MS = 2_147_483_647

/**
 * Options of {@link Pool}.
 * @example
 * ```ts
 * const opts: PoolOptions<pg.Client> = {
 *   create: async () => { const c = new pg.Client(); await c.connect(); return c },
 *   destroy: (c) => c.end(),
 *   max: 10,
 * }
 * ```
 */
export interface PoolOptions<R> {
  /** Makes a resource (a connection). Its failure rejects the `acquire()` that asked for it. */
  create: () => R | PromiseLike<R>
  /** Disposes of a resource (broken, evicted, or on close). Its errors are ignored. */
  destroy?: ((resource: R) => unknown) | undefined
  /** Checked before an idle resource is lent again; `false` (or a throw) destroys it. */
  validate?: ((resource: R) => boolean | PromiseLike<boolean>) | undefined
  /** Most resources alive at once (idle + lent + being created); an integer >= 1. */
  max: number
  /** Resources kept even when idle (created up front); an integer from 0 to `max`. Default 0. */
  min?: number | undefined
  /** An idle resource above `min` is destroyed after this many ms unused. Default: never. */
  idleTimeout?: number | undefined
  /** A resource is destroyed (when next idle) once it is this many ms old. Default: never. */
  maxLifetime?: number | undefined
  /** A label used in messages and `statistics()`. */
  name?: string | undefined
  /** The clock in ms (default `performance.now()`, read at every call). */
  now?: (() => number) | undefined
}

/**
 * A snapshot of a {@link Pool}, from `statistics()`.
 * @example
 * ```ts
 * const { size, idle, borrowed, waiting } = pool.statistics()
 * ```
 */
export interface PoolStatistics {
  name: string | undefined
  /** Resources alive: idle + borrowed + being created or validated. Never above `max`. */
  size: number
  /** Resources waiting in the pool to be lent. */
  idle: number
  /** Resources lent out right now. */
  borrowed: number
  /** Callers queued in `acquire()`. */
  waiting: number
  /** `create()` calls in progress. */
  creating: number
  max: number
  min: number
  closed: boolean
}

interface Slot<R> {
  resource: R
  createdAt: number
  idleSince: number
}

/**
 * A resource lent by {@link Pool.acquire}: use `resource`, then give it back with `release()`
 * or by leaving a `using` block. Call `markBroken()` first if it must not be reused (its
 * connection died, a transaction is in an unknown state): it is then destroyed instead.
 * @example
 * ```ts
 * using conn = await pool.acquire({ timeout: 2_000 })
 * try {
 *   await conn.resource.query('select 1')
 * } catch (e) {
 *   conn.markBroken()
 *   throw e
 * }
 * ```
 */
export class PoolLease<R> implements Disposable, AsyncDisposable {
  /** The lent resource. */
  readonly resource: R
  private pool: Pool<R> | undefined
  private readonly slot: Slot<R>
  private broken = false

  /** @internal */
  constructor(pool: Pool<R>, slot: Slot<R>) {
    this.pool = pool
    this.slot = slot
    this.resource = slot.resource
  }

  /** Destroy the resource when it is given back instead of reusing it. */
  markBroken(): void {
    this.broken = true
  }

  /** Gives the resource back (or destroys it if marked broken). Idempotent. */
  release(): void {
    const pool = this.pool
    if (pool === undefined) return
    this.pool = undefined
    pool.giveBack(this.slot, this.broken)
  }

  /** Marks the resource broken and gives it back, which destroys it. */
  destroy(): void {
    this.broken = true
    this.release()
  }

  /** True once released (or destroyed). */
  get released(): boolean {
    return this.pool === undefined
  }

  /** Same as `release()`, for `using`. */
  [Symbol.dispose](): void {
    this.release()
  }

  /** Same as `release()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.release()
    return Promise.resolve()
  }
}

/**
 * A bounded pool of reusable resources (database connections, browser pages, sockets) on the
 * same FIFO wait queue as every other wait: at most `max` exist at once, whoever has waited
 * longest is served first, `{ signal, timeout }` work as everywhere (whichever of grant and
 * abort comes first wins; an aborted caller takes nothing and loses nothing — a resource made
 * or freed for it goes to the next caller or back to the pool).
 *
 * A `create()` failure rejects the caller it was started for (instead of leaving everyone to
 * time out); the other callers keep their places and a new `create()` starts for them.
 *
 * @example
 * ```ts
 * const pool = new Pool({ create: () => connect(url), destroy: (c) => c.close(), max: 10, idleTimeout: 30_000 })
 * async function handler() {
 *   using conn = await pool.acquire({ timeout: 2_000 })
 *   return conn.resource.query('select now()')
 * }
 * ```
 */
export class Pool<R> {
  readonly max: number
  readonly min: number
  readonly name: string | undefined
  private readonly options: PoolOptions<R>
  private readonly clock: () => number
  private readonly label: string
  private readonly queue: WaitQueue<PoolLease<R>>
  /** Idle resources, least recently returned first; lent from the end (LIFO keeps them warm). */
  private idle: Slot<R>[] = []
  private borrowed = 0
  private creating = 0
  /** Idle resources being validated for a waiter. */
  private checking = 0
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private timerDue = Infinity
  /** destroy() calls still running. */
  private destroying = 0
  private closedReason: ClosedError | undefined = undefined
  private readonly drained: (() => void)[] = []

  /**
   * @throws {@link InvalidArgumentError} for a missing `create`, a bad `max`/`min`, or a bad duration.
   */
  constructor(options: PoolOptions<R>) {
    const api = 'new Pool()'
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(`${api}: options must be an object like { create, destroy, max: 10 }, got ${describe(options)}.`)
    }
    const { create, destroy, validate, max, min = 0, idleTimeout, maxLifetime, name, now } = options
    checkFunction(create, api, 'options.create')
    if (destroy !== undefined) checkFunction(destroy, api, 'options.destroy')
    if (validate !== undefined) checkFunction(validate, api, 'options.validate')
    if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1) {
      throw new InvalidArgumentError(`${api}: max must be an integer >= 1 (most resources alive at once), got ${describe(max)}.`)
    }
    if (typeof min !== 'number' || !Number.isSafeInteger(min) || min < 0 || min > max) {
      throw new InvalidArgumentError(`${api}: min must be an integer from 0 to max (${max}), got ${describe(min)}.`)
    }
    if (idleTimeout !== undefined) checkTimeout(idleTimeout, `${api} options.idleTimeout`)
    if (maxLifetime !== undefined) checkTimeout(maxLifetime, `${api} options.maxLifetime`)
    if (name !== undefined && typeof name !== 'string') throw new InvalidArgumentError(`${api}: name must be a string, got ${describe(name)}.`)
    if (now !== undefined) checkFunction(now, api, 'options.now')
    this.options = options
    this.max = max
    this.min = min
    this.name = name
    this.clock = now ?? (() => performance.now())
    this.label = name === undefined ? 'Pool' : `Pool(${JSON.stringify(name)})`
    this.queue = new WaitQueue<PoolLease<R>>(`${this.label}.acquire()`, this)
    this.fill()
  }

  /**
   * Waits for a resource and resolves with a {@link PoolLease}; `using` gives it back.
   * Rejects with `signal.reason` on abort, {@link TimeoutError} on timeout, {@link ClosedError}
   * after `close()`/`drain()`, or with `create()`'s own error if the resource made for this
   * caller could not be made.
   * @example
   * ```ts
   * using conn = await pool.acquire({ signal: req.signal, timeout: 2_000 })
   * ```
   */
  acquire(opts?: WaitOptions): Promise<PoolLease<R>> {
    if (opts !== undefined && checkWaitOptions(opts, `${this.label}.acquire()`)) return Promise.reject(opts.signal!.reason)
    if (this.closedReason !== undefined) return Promise.reject(this.closedReason)
    // Fast path: nobody queued and an idle resource that needs no (async) validation.
    if (this.queue.length === 0 && this.options.validate === undefined) {
      const slot = this.takeIdle()
      if (slot !== undefined) return Promise.resolve(this.lend(slot))
    }
    const promise = this.queue.park(0, opts)
    this.supply()
    return promise
  }

  /**
   * Runs `fn` with a resource and gives it back however `fn` ends; if `fn` throws, the resource
   * is treated as broken and destroyed (its state is unknown).
   * @example
   * ```ts
   * const rows = await pool.use((conn) => conn.query('select 1'), { timeout: 2_000 })
   * ```
   */
  async use<T>(fn: (resource: R) => T | PromiseLike<T>, opts?: WaitOptions): Promise<Awaited<T>> {
    checkFunction(fn, `${this.label}.use`)
    const lease = await this.acquire(opts)
    try {
      return await fn(lease.resource)
    } catch (error) {
      lease.markBroken()
      throw error
    } finally {
      lease.release()
    }
  }

  /**
   * Stops lending: queued and future `acquire()` calls reject with {@link ClosedError}, idle
   * resources are destroyed now and lent ones when they are given back.
   * @example
   * ```ts
   * pool.close()
   * ```
   */
  close(reason?: unknown): void {
    if (this.closedReason !== undefined) return
    this.closedReason = new ClosedError(
      `${this.label} is closed: close() or drain() was called, so it lends no more resources.`,
      reason === undefined ? undefined : { cause: reason },
    )
    this.clearTimer()
    this.queue.rejectAll(this.closedReason)
    for (const slot of this.idle.splice(0)) this.destroySlot(slot)
    this.checkDrained()
  }

  /**
   * `close()`, then resolves once every resource (including those lent out and being created)
   * has been given back and destroyed, and every `destroy()` promise has settled.
   * @example
   * ```ts
   * process.once('SIGTERM', async () => { await pool.drain(); process.exit(0) })
   * ```
   */
  drain(reason?: unknown): Promise<void> {
    this.close(reason)
    if (this.size === 0 && this.destroying === 0) return Promise.resolve()
    return new Promise((resolve) => this.drained.push(resolve))
  }

  /** True after `close()` or `drain()`. */
  get closed(): boolean {
    return this.closedReason !== undefined
  }

  /**
   * A snapshot for logs and metrics.
   * @example
   * ```ts
   * const { size, idle, borrowed, waiting } = pool.statistics()
   * ```
   */
  statistics(): PoolStatistics {
    return {
      name: this.name,
      size: this.size,
      idle: this.idle.length,
      borrowed: this.borrowed,
      waiting: this.queue.length,
      creating: this.creating,
      max: this.max,
      min: this.min,
      closed: this.closed,
    }
  }

  /** Invariant: size ≤ max, enforced in `supply()` and `fill()`, the only places that create. */
  private get size(): number {
    return this.idle.length + this.borrowed + this.creating + this.checking
  }

  /** @internal */
  waiterLeft(): void {
    // A waiter left before its grant; it held nothing. A resource on its way to it goes to the
    // next waiter (or back to idle) when it arrives, via offer().
  }

  /** @internal a lease comes back */
  giveBack(slot: Slot<R>, broken: boolean): void {
    this.borrowed--
    if (broken || this.closedReason !== undefined || this.expired(slot)) {
      this.destroySlot(slot)
      this.supply()
      this.fill()
      this.checkDrained()
      return
    }
    this.offer(slot, true)
  }

  private now(): number {
    return this.clock()
  }

  private lend(slot: Slot<R>): PoolLease<R> {
    this.borrowed++
    return new PoolLease(this, slot)
  }

  /**
   * Hands `slot` to the longest waiter, or keeps it idle. `needsCheck` is false for a resource
   * that was just created or validated.
   */
  private offer(slot: Slot<R>, needsCheck: boolean): void {
    const head = this.queue.head
    if (this.closedReason !== undefined) {
      this.destroySlot(slot)
      return
    }
    if (head === undefined) {
      if (this.options.idleTimeout !== undefined) slot.idleSince = this.now()
      this.idle.push(slot)
      this.armTimer()
      return
    }
    if (needsCheck && this.options.validate !== undefined) {
      this.check(slot)
      return
    }
    this.queue.grant(head, this.lend(slot))
  }

  /** Serves waiters that nothing is on its way to yet: idle resources first, then new ones. */
  private supply(): void {
    if (this.closedReason !== undefined) return
    let need = this.queue.length - this.creating - this.checking
    while (need > 0) {
      const slot = this.takeIdle()
      if (slot === undefined) break
      need--
      if (this.options.validate === undefined) this.queue.grant(this.queue.head!, this.lend(slot))
      else this.check(slot)
    }
    if (need <= 0 || this.size >= this.max) return
    // The last `need` waiters have nothing on its way yet; each create is made for one of them
    // (oldest first), so its failure can reach that caller.
    let waiter = this.queue.tail
    for (let i = 1; i < need; i++) waiter = waiter!.prev
    // Invariant: size ≤ max — a create starts only below it.
    for (; need > 0 && this.size < this.max; need--) {
      this.create(waiter)
      waiter = waiter!.next
    }
  }

  /** Keeps `min` resources alive when nobody is asking. */
  private fill(): void {
    if (this.closedReason !== undefined) return
    while (this.size < this.min) this.create(undefined)
  }

  private create(forWaiter: Waiter<PoolLease<R>> | undefined): void {
    this.creating++
    let made: PromiseLike<R> | R
    try {
      made = this.options.create()
    } catch (error) {
      made = Promise.reject(error)
    }
    Promise.resolve(made).then(
      (resource) => {
        this.creating--
        const now = this.now()
        this.offer({ resource, createdAt: now, idleSince: now }, false)
        this.checkDrained()
      },
      (error: unknown) => {
        this.creating--
        // The failure reaches the caller it was made for, if that caller still waits; the
        // others keep their places and get a create of their own.
        if (forWaiter !== undefined && forWaiter.queue === this.queue) this.queue.abandon(forWaiter, error)
        // No fill() here: a failing create() for `min` would otherwise retry in a tight loop.
        this.supply()
        this.checkDrained()
      },
    )
  }

  private check(slot: Slot<R>): void {
    this.checking++
    let verdict: boolean | PromiseLike<boolean>
    try {
      verdict = this.options.validate!(slot.resource)
    } catch {
      verdict = false
    }
    Promise.resolve(verdict)
      .then(
        (ok) => ok === true,
        () => false,
      )
      .then((ok) => {
        this.checking--
        if (ok && !this.expired(slot)) this.offer(slot, false)
        else {
          this.destroySlot(slot)
          this.supply()
          this.fill()
        }
        this.checkDrained()
      })
  }

  private takeIdle(): Slot<R> | undefined {
    let slot = this.idle.pop()
    while (slot !== undefined && this.expired(slot)) {
      this.destroySlot(slot)
      slot = this.idle.pop()
    }
    if (this.idle.length === 0) this.clearTimer()
    return slot
  }

  // The clock is read only when a lifetime is set: the borrow/return path stays cheap.
  private expired(slot: Slot<R>, now?: number): boolean {
    const { maxLifetime } = this.options
    return maxLifetime !== undefined && (now ?? this.now()) - slot.createdAt >= maxLifetime
  }

  private destroySlot(slot: Slot<R>): void {
    const { destroy } = this.options
    if (destroy === undefined) return
    let done: unknown
    try {
      done = destroy(slot.resource)
    } catch {
      // Errors of destroy() are the resource's last words; nobody is waiting for them.
      return
    }
    if (!isThenable(done)) return
    // drain() also waits for destroys still running (a connection's close handshake).
    this.destroying++
    const settled = (): void => {
      this.destroying--
      this.checkDrained()
    }
    Promise.resolve(done).then(settled, settled)
  }

  /** One timer for the idle resource that expires first; none while nothing is idle. */
  private armTimer(): void {
    const { idleTimeout, maxLifetime } = this.options
    if (this.idle.length === 0 || (idleTimeout === undefined && maxLifetime === undefined)) return this.clearTimer()
    let due = Infinity
    // Idle resources are kept oldest-returned first; only those above `min` expire for idleness.
    if (idleTimeout !== undefined && this.size > this.min) due = this.idle[0]!.idleSince + idleTimeout
    if (maxLifetime !== undefined) for (const slot of this.idle) due = Math.min(due, slot.createdAt + maxLifetime)
    if (due === Infinity) return this.clearTimer()
    // A timer that fires no later is kept: a resource coming back rarely moves the first deadline.
    if (this.timer !== undefined && this.timerDue <= due) return
    this.clearTimer()
    const delay = Math.max(1, Math.ceil(due - this.now()))
    this.timerDue = due
    this.timer = setTimeout(this.onTimer, Math.min(delay, MAX_TIMER_MS))
    // Evicting idle resources is housekeeping: it must not keep the process alive.
    ;(this.timer as { unref?: () => void }).unref?.()
  }

  private readonly onTimer = (): void => {
    this.timer = undefined
    const now = this.now()
    const { idleTimeout } = this.options
    const kept: Slot<R>[] = []
    // Oldest-returned first; never evict below `min` for idleness (lifetime always applies).
    let alive = this.size
    for (const slot of this.idle) {
      const idleTooLong = idleTimeout !== undefined && now - slot.idleSince >= idleTimeout && alive > this.min
      if (this.expired(slot, now) || idleTooLong) {
        alive--
        this.destroySlot(slot)
      } else kept.push(slot)
    }
    this.idle = kept
    this.fill()
    this.armTimer()
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }

  private checkDrained(): void {
    if (this.closedReason === undefined || this.size !== 0 || this.destroying !== 0) return
    for (const resolve of this.drained.splice(0)) resolve()
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function'
}
