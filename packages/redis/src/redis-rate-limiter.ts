import { deadlineSignal, InvalidArgumentError, Lock, RateLimiter, type RateLimiterAcquireOptions, type RateLimiterOptions } from '@yieldpoint/core'
import { randomUUID } from 'node:crypto'
import { Connection, type ConnectionOptions } from './connection'
import { RedisUnavailableError } from './errors'
import { RATE_ACQUIRE, RATE_REFUND } from './rate-limit-script'

/**
 * Options of {@link RedisRateLimiter}: the same limit as core's `RateLimiter`, shared by every
 * process that uses the same `key` on the same Redis.
 * @example
 * ```ts
 * new RedisRateLimiter({ client, key: 'partner-api', tokensPerInterval: 100, interval: 1_000 })
 * ```
 */
export interface RedisRateLimiterOptions extends ConnectionOptions, Omit<RateLimiterOptions, 'now'> {
  /**
   * An ioredis `Redis`/`Cluster` created with `{ enableOfflineQueue: false }`, a node-redis client
   * created with `{ disableOfflineQueue: true }` (cluster: in `defaults`), or a `RedisClient`.
   */
  client: unknown
  /** The limit's identity: every process with the same `prefix` + `key` shares one budget. */
  key: string
  /** Prefix of the Redis keys. Default `'yp:rate:'`. */
  prefix?: string
  /**
   * When Redis fails: `'fail-open'` (default) limits in-process with the same settings (so with
   * P processes up to P × tokensPerInterval per interval until Redis answers again);
   * `'fail-closed'` rejects with {@link RedisUnavailableError}.
   */
  onRedisError?: 'fail-open' | 'fail-closed'
}

/**
 * Core's `RateLimiter` across processes: at most `tokensPerInterval` tokens in any window of
 * `interval` ms, counted once for every process on one Redis. Each attempt is one Lua script
 * (a sliding log in a sorted set, timed by Redis's own clock, so host clocks do not matter),
 * on keys with a `{hash tag}` so a cluster keeps them in one slot.
 *
 * Inside a process, callers queue FIFO on a local wait queue and only the head talks to Redis;
 * when its tokens are not free the script says how long until they are, and the head waits
 * exactly that (abortable). Across processes, order is not FIFO: freed tokens go to whichever
 * process asks first.
 *
 * When Redis is down (every command has a timeout, and a circuit breaker skips Redis for
 * `breakerMs` after a failure), the limiter degrades like `RedisStore`: `'fail-open'` limits
 * in-process, `'fail-closed'` rejects.
 *
 * @example
 * ```ts
 * const partner = new RedisRateLimiter({ client: new Redis(url, { enableOfflineQueue: false }), key: 'partner', tokensPerInterval: 100, interval: 1_000 })
 * await partner.schedule(() => fetch('https://partner.example/api'))
 * ```
 */
export class RedisRateLimiter {
  readonly tokensPerInterval: number
  readonly interval: number
  readonly burst: number
  readonly name: string | undefined
  private readonly connection: Connection
  private readonly redisKey: string
  private readonly failOpen: boolean
  private readonly local = new Lock()
  /** The in-process limit used while Redis is unreachable (fail-open), and for validation. */
  private readonly fallback: RateLimiter
  private granted = 0
  private degraded = 0
  private waiting = 0

  /** @throws `InvalidArgumentError` for a missing client or key, or a bad limit. */
  constructor(options: RedisRateLimiterOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('new RedisRateLimiter(): pass an options object with a client.')
    if (typeof options.key !== 'string' || options.key === '')
      throw new InvalidArgumentError('new RedisRateLimiter({ key }): key must be a non-empty string naming the shared limit, e.g. "partner-api".')
    if (options.onRedisError !== undefined && options.onRedisError !== 'fail-open' && options.onRedisError !== 'fail-closed') {
      throw new InvalidArgumentError(`new RedisRateLimiter({ onRedisError }): must be 'fail-open' or 'fail-closed', got ${String(options.onRedisError)}.`)
    }
    // Core validates the limit itself (one rule, one place).
    this.fallback = new RateLimiter({
      tokensPerInterval: options.tokensPerInterval,
      interval: options.interval,
      burst: options.burst,
      name: options.name ?? options.key,
    })
    this.tokensPerInterval = this.fallback.tokensPerInterval
    this.interval = this.fallback.interval
    this.burst = this.fallback.burst
    this.name = options.name
    this.connection = new Connection(options.client, options, 'new RedisRateLimiter()') // validates the client
    this.redisKey = `${options.prefix ?? 'yp:rate:'}{${options.key}}`
    this.failOpen = options.onRedisError !== 'fail-closed'
  }

  /**
   * Waits until `tokens` (default 1) are free cluster-wide, then takes them. Resolves with the
   * grant's time on Redis's clock (ms since the epoch), or `undefined` when it was granted by the
   * in-process fallback while Redis was down.
   * Rejects with `signal.reason` on abort, `TimeoutError` on timeout (no token taken in either
   * case), {@link RedisUnavailableError} with `'fail-closed'` when Redis is down.
   * @example
   * ```ts
   * await limiter.acquire({ tokens: 2, timeout: 5_000 })
   * ```
   */
  async acquire(opts?: RateLimiterAcquireOptions): Promise<number | undefined> {
    const api = `RedisRateLimiter(${JSON.stringify(this.redisKey)}).acquire()`
    const tokens = opts?.tokens ?? 1
    if (typeof tokens !== 'number' || !Number.isSafeInteger(tokens) || tokens < 1 || tokens > this.burst) {
      throw new InvalidArgumentError(`${api}: tokens must be an integer from 1 to ${this.burst} (the limiter's burst), got ${String(tokens)}.`)
    }
    const { signal, dispose } = deadlineSignal(opts, api)
    this.waiting++
    try {
      if (signal?.aborted) throw signal.reason
      // Local FIFO: only the head of this process asks Redis.
      const head = await this.local.acquire(signal === undefined ? undefined : { signal })
      try {
        for (;;) {
          let reply: [number, number]
          try {
            const id = randomUUID()
            reply = (await this.connection.eval(
              api,
              RATE_ACQUIRE,
              [this.redisKey, `${this.redisKey}:b`],
              [this.interval, this.tokensPerInterval, this.burst, tokens, id],
              // The caller's timeout/abort bounds the command too; a grant that lands after the
              // caller left is given back, so an aborted caller takes nothing.
              { signal, late: (late) => this.refund(late as [number, number], id, tokens) },
            )) as [number, number]
          } catch (error) {
            if (!this.failOpen || !(error instanceof RedisUnavailableError)) throw error
            await this.fallback.acquire({ tokens, signal })
            this.degraded += tokens
            return undefined
          }
          if (Number(reply[0]) === 1) {
            this.granted += tokens
            return Number(reply[1])
          }
          await sleep(Math.max(1, Number(reply[1])), signal)
        }
      } finally {
        head.release()
      }
    } finally {
      this.waiting--
      dispose()
    }
  }

  private refund(reply: [number, number], id: string, tokens: number): void {
    if (Number(reply[0]) !== 1) return
    void this.connection
      .eval('RedisRateLimiter.refund', RATE_REFUND, [this.redisKey, `${this.redisKey}:b`], [id, tokens, this.burst, this.tokensPerInterval])
      .catch(() => {}) // best effort: the entries expire after one interval anyway
  }

  /**
   * Takes tokens only if they are free right now cluster-wide and nobody in this process is
   * queued (one script, no wait). With `'fail-open'` and Redis down it asks the fallback.
   * @example
   * ```ts
   * if (!(await limiter.tryAcquire())) return reply.code(429).send()
   * ```
   */
  async tryAcquire(tokens = 1): Promise<boolean> {
    const api = `RedisRateLimiter(${JSON.stringify(this.redisKey)}).tryAcquire()`
    if (!Number.isSafeInteger(tokens) || tokens < 1 || tokens > this.burst)
      throw new InvalidArgumentError(`${api}: tokens must be an integer from 1 to ${this.burst}, got ${String(tokens)}.`)
    const head = this.local.tryAcquire()
    if (head === undefined) return false
    try {
      const reply = (await this.connection.eval(
        api,
        RATE_ACQUIRE,
        [this.redisKey, `${this.redisKey}:b`],
        [this.interval, this.tokensPerInterval, this.burst, tokens, randomUUID()],
      )) as [number, number]
      if (Number(reply[0]) !== 1) return false
      this.granted += tokens
      return true
    } catch (error) {
      if (!this.failOpen || !(error instanceof RedisUnavailableError)) throw error
      const ok = this.fallback.tryAcquire(tokens)
      if (ok) this.degraded += tokens
      return ok
    } finally {
      head.release()
    }
  }

  /**
   * Runs `fn` once the tokens are taken and returns its result.
   * @example
   * ```ts
   * const rows = await limiter.schedule(() => partner.search(q), { timeout: 10_000 })
   * ```
   */
  async schedule<R>(fn: () => R | PromiseLike<R>, opts?: RateLimiterAcquireOptions): Promise<Awaited<R>> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('RedisRateLimiter.schedule(fn): fn must be a function.')
    await this.acquire(opts)
    return await fn()
  }

  /**
   * A snapshot for logs and metrics: tokens this process was granted through Redis and by the
   * in-process fallback, and callers waiting in this process.
   * @example
   * ```ts
   * const { granted, degraded, waiting } = limiter.statistics()
   * ```
   */
  statistics(): RedisRateLimiterStatistics {
    return {
      name: this.name,
      granted: this.granted,
      degraded: this.degraded,
      waiting: this.waiting,
      healthy: this.connection.healthy,
      tokensPerInterval: this.tokensPerInterval,
      interval: this.interval,
      burst: this.burst,
    }
  }
}

/**
 * A snapshot of a {@link RedisRateLimiter} in this process.
 * @example
 * ```ts
 * if (!limiter.statistics().healthy) log.warn('rate limit is per-process while Redis is down')
 * ```
 */
export interface RedisRateLimiterStatistics {
  name: string | undefined
  /** Tokens granted through Redis to this process. */
  granted: number
  /** Tokens granted by the in-process fallback while Redis was unreachable. */
  degraded: number
  /** Callers of this process waiting. */
  waiting: number
  /** False while the circuit breaker skips Redis. */
  healthy: boolean
  tokensPerInterval: number
  interval: number
  burst: number
}

// The wait is at most one interval (validated finite by core); setTimeout's 2^31 ms limit is
// still respected by capping, after which the loop asks Redis again.
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      },
      Math.min(ms, 2_147_483_647),
    )
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
