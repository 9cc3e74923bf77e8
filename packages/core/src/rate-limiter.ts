import { ClosedError, InvalidArgumentError } from './errors'
import { checkFunction, checkWaitOptions, describe, type WaitOptions } from './options'
import { WaitQueue } from './wait-queue'

// setTimeout overflows above 2^31-1 ms; a longer wait is re-armed when the timer fires (the
// dispatcher recomputes the wait from the clock every time).
const MAX_TIMER_MS = 2_147_483_647
// Floating-point slack for the smoothing bucket's fractional tokens.
const EPSILON = 1e-9

/**
 * Options of {@link RateLimiter}.
 * @example
 * ```ts
 * const opts: RateLimiterOptions = { tokensPerInterval: 100, interval: 1_000, burst: 10, name: 'partner-api' }
 * ```
 */
export interface RateLimiterOptions {
  /** Most tokens granted in any window of `interval` ms; an integer >= 1. */
  tokensPerInterval: number
  /** The window, in milliseconds (a finite number > 0). Default 1,000. */
  interval?: number | undefined
  /**
   * Most tokens granted back to back; an integer from 1 to `tokensPerInterval` (the default).
   * A smaller burst spreads the rest evenly, one token every `interval / tokensPerInterval` ms.
   */
  burst?: number | undefined
  /** A label used in messages and `statistics()`. */
  name?: string | undefined
  /**
   * The clock, in milliseconds (default `performance.now()`, read at every call so fake timers
   * that fake `performance` work). Inject one to drive the limiter by hand in tests.
   */
  now?: (() => number) | undefined
}

/**
 * Options of `RateLimiter.acquire()`: the wait options plus how many tokens to take.
 * @example
 * ```ts
 * await limiter.acquire({ tokens: 5, timeout: 2_000, signal })
 * ```
 */
export interface RateLimiterAcquireOptions extends WaitOptions {
  /** Tokens to take at once; an integer from 1 to `burst`. Default 1. */
  tokens?: number | undefined
}

/**
 * A snapshot of a {@link RateLimiter}, from `statistics()`.
 * @example
 * ```ts
 * const { tokens, waiting } = limiter.statistics()
 * metrics.gauge('partner.tokens', tokens)
 * ```
 */
export interface RateLimiterStatistics {
  /** The `name` option, if any. */
  name: string | undefined
  /** Tokens that could be taken right now without waiting (ignoring queued callers). */
  tokens: number
  /** Callers queued in `acquire()` / `schedule()`. */
  waiting: number
  /** Tokens granted since the limiter was created. */
  granted: number
  tokensPerInterval: number
  interval: number
  burst: number
  closed: boolean
}

/**
 * "At most `tokensPerInterval` per `interval`" for outgoing calls: a partner API's quota, a
 * mailer's send rate. Every token taken comes back `interval` ms later, so **no window of
 * `interval` ms ever sees more than `tokensPerInterval` tokens granted** (a sliding window, not
 * a fixed one that allows twice the rate around a boundary); `burst` additionally spreads them
 * out (a token bucket of `burst` tokens refilled at the same rate).
 *
 * **Fairness.** Strict FIFO on the same wait queue as {@link Semaphore}: a request for 5 tokens
 * at the head is not overtaken by requests for 1 behind it, and `tryAcquire()` never jumps the
 * queue.
 *
 * **Cancellation.** `{ signal, timeout }` as for every wait; tokens are taken only at the grant,
 * so a caller that aborts or times out took nothing and returns nothing.
 *
 * **Timers.** One timer at most, armed only while someone waits, for the moment the head's
 * tokens come back; an idle limiter holds no timer.
 *
 * @example
 * ```ts
 * const partner = new RateLimiter({ tokensPerInterval: 100, interval: 1_000 }) // ≤ 100 calls/s
 * for (const id of ids) {
 *   await partner.acquire({ signal })
 *   void fetch(`https://partner.example/items/${id}`)
 * }
 * ```
 */
export class RateLimiter {
  readonly tokensPerInterval: number
  readonly interval: number
  readonly burst: number
  readonly name: string | undefined
  private readonly clock: () => number
  private readonly label: string
  private readonly queue: WaitQueue<void>
  // The sliding window: when each grant happened and how many tokens it took, oldest first
  // (`times[start..]`). Invariant: `used` = sum of `counts[start..]` ≤ tokensPerInterval.
  private times: number[] = []
  private counts: number[] = []
  private start = 0
  private used = 0
  // The smoothing bucket (only when burst < tokensPerInterval).
  private bucket: number
  private bucketAt: number
  private readonly smooth: boolean
  private readonly perMs: number
  private granted = 0
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private lastNow = -Infinity
  private closedReason: ClosedError | undefined = undefined

  /**
   * @throws {@link InvalidArgumentError} for a missing or out-of-range option.
   */
  constructor(options: RateLimiterOptions) {
    const api = 'new RateLimiter()'
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(`${api}: options must be an object like { tokensPerInterval: 100, interval: 1_000 }, got ${describe(options)}.`)
    }
    const { tokensPerInterval, interval = 1_000, burst = tokensPerInterval, name, now } = options
    if (typeof tokensPerInterval !== 'number' || !Number.isSafeInteger(tokensPerInterval) || tokensPerInterval < 1) {
      throw new InvalidArgumentError(
        `${api}: tokensPerInterval must be an integer >= 1 (tokens granted per interval), got ` +
          `${describe(tokensPerInterval)}. Use e.g. { tokensPerInterval: 100, interval: 1_000 } for 100 per second.`,
      )
    }
    if (typeof interval !== 'number' || !Number.isFinite(interval) || interval <= 0) {
      throw new InvalidArgumentError(`${api}: interval must be a finite number of milliseconds > 0, got ${describe(interval)}.`)
    }
    if (typeof burst !== 'number' || !Number.isSafeInteger(burst) || burst < 1 || burst > tokensPerInterval) {
      throw new InvalidArgumentError(
        `${api}: burst must be an integer from 1 to tokensPerInterval (${tokensPerInterval}), ` +
          `got ${describe(burst)}. Leave it out to allow a whole interval's tokens at once.`,
      )
    }
    if (name !== undefined && typeof name !== 'string') throw new InvalidArgumentError(`${api}: name must be a string, got ${describe(name)}.`)
    if (now !== undefined && typeof now !== 'function')
      throw new InvalidArgumentError(`${api}: now must be a function returning milliseconds, got ${describe(now)}.`)
    this.tokensPerInterval = tokensPerInterval
    this.interval = interval
    this.burst = burst
    this.name = name
    this.clock = now ?? (() => performance.now())
    this.label = name === undefined ? 'RateLimiter' : `RateLimiter(${JSON.stringify(name)})`
    this.queue = new WaitQueue<void>(`${this.label}.acquire()`, this)
    this.smooth = burst < tokensPerInterval
    this.perMs = tokensPerInterval / interval
    this.bucket = burst
    this.bucketAt = this.now()
  }

  /**
   * Waits until `tokens` (default 1) can be taken without exceeding the rate, then takes them.
   * Rejects with `signal.reason` on abort, {@link TimeoutError} on timeout, {@link ClosedError}
   * after `close()`; in all three cases no token was taken.
   * @throws {@link InvalidArgumentError} (synchronously) for malformed options or more tokens than `burst`.
   * @example
   * ```ts
   * await limiter.acquire({ tokens: 2, timeout: 5_000 })
   * ```
   */
  acquire(opts?: RateLimiterAcquireOptions): Promise<void> {
    const api = `${this.label}.acquire()`
    let n = 1
    if (opts !== undefined) {
      const aborted = checkWaitOptions(opts, api)
      if (opts.tokens !== undefined) n = this.checkTokens(opts.tokens, api)
      if (aborted) return Promise.reject(opts.signal!.reason)
    }
    if (this.closedReason !== undefined) return Promise.reject(this.closedReason)
    if (this.queue.length === 0 && this.available(this.now()) >= n) {
      this.take(n, this.lastNow)
      return Promise.resolve()
    }
    const promise = this.queue.park(n, opts)
    if (this.queue.length === 1) this.dispatch()
    return promise
  }

  /**
   * Takes tokens only if that needs no waiting (enough tokens and nobody queued).
   * @returns true if the tokens were taken.
   * @throws {@link ClosedError} after `close()`; {@link InvalidArgumentError} for a bad count.
   * @example
   * ```ts
   * if (!limiter.tryAcquire()) return res.status(429).end()
   * ```
   */
  tryAcquire(tokens: number | { tokens?: number | undefined } = 1): boolean {
    const api = `${this.label}.tryAcquire()`
    const n = this.checkTokens(typeof tokens === 'object' && tokens !== null ? (tokens.tokens ?? 1) : tokens, api)
    if (this.closedReason !== undefined) throw this.closedReason
    if (this.queue.length !== 0 || this.available(this.now()) < n) return false
    this.take(n, this.lastNow)
    return true
  }

  /**
   * Runs `fn` once the tokens are taken (FIFO with every other caller) and returns its result.
   * @throws {@link InvalidArgumentError} synchronously if `fn` is not a function.
   * @example
   * ```ts
   * const user = await limiter.schedule(() => partner.getUser(id), { timeout: 10_000 })
   * ```
   */
  schedule<R>(fn: () => R | PromiseLike<R>, opts?: RateLimiterAcquireOptions): Promise<Awaited<R>> {
    checkFunction(fn, `${this.label}.schedule`)
    return this.acquire(opts).then(fn) as Promise<Awaited<R>>
  }

  /**
   * Closes the limiter: queued and future `acquire()` calls reject with {@link ClosedError},
   * and its timer is cleared.
   * @example
   * ```ts
   * process.once('SIGTERM', () => limiter.close())
   * ```
   */
  close(reason?: unknown): void {
    if (this.closedReason !== undefined) return
    this.closedReason = new ClosedError(
      `${this.label} is closed: close() was called, so it grants no more tokens.`,
      reason === undefined ? undefined : { cause: reason },
    )
    this.clearTimer()
    this.queue.rejectAll(this.closedReason)
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.closedReason !== undefined
  }

  /**
   * A snapshot for logs and metrics.
   * @example
   * ```ts
   * console.log(limiter.statistics()) // { name, tokens, waiting, granted, … }
   * ```
   */
  statistics(): RateLimiterStatistics {
    return {
      name: this.name,
      tokens: Math.floor(this.available(this.now()) + EPSILON),
      waiting: this.queue.length,
      granted: this.granted,
      tokensPerInterval: this.tokensPerInterval,
      interval: this.interval,
      burst: this.burst,
      closed: this.closed,
    }
  }

  /** @internal */
  waiterLeft(wasHead: boolean): void {
    // A head that left may have been a large request blocking smaller ones; an empty queue
    // needs no timer.
    if (this.queue.length === 0) this.clearTimer()
    else if (wasHead) this.dispatch()
  }

  // The clock never runs backwards for us, even if an injected one does.
  private now(): number {
    const t = this.clock()
    if (t > this.lastNow) this.lastNow = t
    return this.lastNow
  }

  /** Tokens free at `now` (drops grants older than one interval from the window). */
  private available(now: number): number {
    const { times, counts, interval } = this
    let i = this.start
    while (i < times.length && times[i]! + interval <= now) this.used -= counts[i++]!
    if (i !== this.start) {
      if (i === times.length) {
        this.times = []
        this.counts = []
        i = 0
      } else if (i > 1024 && i * 2 > times.length) {
        this.times = times.slice(i)
        this.counts = counts.slice(i)
        i = 0
      }
      this.start = i
    }
    const windowFree = this.tokensPerInterval - this.used
    if (!this.smooth) return windowFree
    this.bucket = Math.min(this.burst, this.bucket + (now - this.bucketAt) * this.perMs)
    this.bucketAt = now
    return Math.min(windowFree, this.bucket + EPSILON)
  }

  private take(n: number, now: number): void {
    const last = this.times.length - 1
    if (last >= this.start && this.times[last] === now) this.counts[last]! += n
    else {
      this.times.push(now)
      this.counts.push(n)
    }
    this.used += n
    if (this.smooth) this.bucket -= n
    this.granted += n
  }

  /** Grants queued callers in order while their tokens are free, then waits for the head's. */
  private dispatch(): void {
    this.clearTimer()
    const queue = this.queue
    const now = this.now()
    let head = queue.head
    while (head !== undefined && this.available(now) >= head.weight) {
      this.take(head.weight, now)
      queue.grant(head, undefined)
      head = queue.head
    }
    if (head === undefined) return
    const delay = Math.max(1, Math.ceil(this.readyAt(head.weight) - now))
    this.timer = setTimeout(this.onTimer, Math.min(delay, MAX_TIMER_MS))
  }

  private readonly onTimer = (): void => {
    this.timer = undefined
    this.dispatch()
  }

  /** When `n` tokens will be free, assuming nobody else takes any. */
  private readyAt(n: number): number {
    const { times, counts } = this
    let free = this.tokensPerInterval - this.used
    let at = this.lastNow
    for (let i = this.start; free < n && i < times.length; i++) {
      free += counts[i]!
      at = times[i]! + this.interval
    }
    if (this.smooth && this.bucket + EPSILON < n) at = Math.max(at, this.bucketAt + (n - this.bucket) / this.perMs)
    return at
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }

  private checkTokens(tokens: unknown, api: string): number {
    if (typeof tokens !== 'number' || !Number.isSafeInteger(tokens) || tokens < 1 || tokens > this.burst) {
      throw new InvalidArgumentError(
        `${api}: tokens must be an integer from 1 to ${this.burst} (the limiter's burst), got ${describe(tokens)}. A request for more could never be granted.`,
      )
    }
    return tokens
  }
}
