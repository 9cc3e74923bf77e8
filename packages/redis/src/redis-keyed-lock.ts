import { deadlineSignal, Guard, InvalidArgumentError, KeyedLock, startTimer, type WaitOptions } from '@yieldpoint/core'
import { checkPrefix, keyEncoder, type KeyEncoder } from './codec'
import { checkDuration, Connection, type ConnectionOptions } from './connection'
import { LockLostError } from './errors'
import { nap, randomToken, Subscriber } from './pubsub'
import { ACQUIRE, EXISTS, EXTEND, RELEASE, WAITERS } from './scripts'

/**
 * Options of {@link RedisKeyedLock}.
 * @example
 * ```ts
 * new RedisKeyedLock({ client, prefix: 'app:lock:', lockTtl: 5_000 })
 * ```
 */
export interface RedisKeyedLockOptions<K = string> extends ConnectionOptions {
  /**
   * An ioredis `Redis`/`Cluster` created with `{ enableOfflineQueue: false }`, a node-redis client
   * created with `{ disableOfflineQueue: true }` (cluster: in `defaults`), or a {@link RedisClient}.
   */
  client: unknown
  /** A connection of the same library for SUBSCRIBE. Default: a duplicate of `client` (closed by `close()`). */
  subscriber?: unknown
  /** Prefix of every Redis key and channel (no `{` or `}`). Default `'yp:lock:'`. */
  prefix?: string
  /** Lease of a grant (integer ms); the watchdog extends it every third of it while the holder runs. Default 10,000. */
  lockTtl?: number
  /** How often a waiter re-checks when no release message arrives (ms). Default 100. */
  pollInterval?: number
  /** Maps a key to a distinct string. Default: strings only (anything else throws `KeyEncodingError`). */
  key?: KeyEncoder<K>
  /**
   * Called when releasing a lock in Redis failed (Redis down): the lease then expires by itself
   * after at most `lockTtl`. `runExclusive` still returns `fn`'s outcome. Default: `process.emitWarning`.
   */
  onReleaseError?: (error: unknown, key: K) => void
}

/**
 * A grant of a {@link RedisKeyedLock}.
 * @example
 * ```ts
 * await using guard = await locks.acquire('report')
 * await storage.write(report, { fence: guard.fence })
 * ```
 */
export interface RedisLockGuard extends Guard {
  /**
   * The fencing token of this grant: strictly greater than every earlier grant's for this key,
   * across restarts of Redis and failovers (it is derived from the server's clock in µs).
   */
  readonly fence: number
  /** Aborts with {@link LockLostError} if the lease could not be extended (the lock may now be someone else's). */
  readonly signal: AbortSignal
  /** Releases and resolves once Redis has the lock back; rejects if Redis could not be told (the lease then expires by itself). */
  releaseAsync(): Promise<void>
}

class RedisGuardOwner {
  released = false
  constructor(
    readonly doRelease: () => Promise<void>,
    readonly report: (error: unknown) => void,
  ) {}
  releaseGuard(): void {
    if (this.released) return
    this.released = true
    this.doRelease().catch(this.report) // the lease expires by itself
  }
}

/**
 * The `KeyedLock` contract across processes, on one Redis or a Redis Cluster: `SET key token NX PX
 * ttl` to take a key, a Lua compare-and-delete to release it, a watchdog that extends the lease
 * while the holder runs, and a fencing token per grant. Waiters are woken by pub/sub, with polling
 * as a fallback (pub/sub drops messages on reconnects). Every wait takes `{ signal, timeout }`,
 * and they bound the Redis commands too: an abort rejects with `signal.reason` and a timeout with
 * `TimeoutError` when asked, even if Redis does not answer.
 *
 * Inside one process, waiters for a key queue on a local `KeyedLock` (FIFO), so only one of them
 * talks to Redis at a time. Across processes, order is not FIFO: released keys go to whichever
 * process retries first.
 *
 * This is an *efficiency* lock with fencing, not a consensus system: a process paused past its
 * lease can still believe it holds the key. Make writes that must not be lost carry
 * `guard.fence`, and have the resource reject lower fences.
 *
 * @example
 * ```ts
 * const locks = new RedisKeyedLock({ client: new Redis(url, { enableOfflineQueue: false }) })
 * await locks.runExclusive(`account:${id}`, async (guard) => {
 *   const balance = Number(await redis.get(`balance:${id}`))
 *   await redis.set(`balance:${id}`, balance + 10)
 * })
 * ```
 */
export class RedisKeyedLock<K = string> {
  private readonly connection: Connection
  private readonly subscriber: Subscriber
  private readonly local = new KeyedLock<string>()
  private readonly prefix: string
  private readonly lockTtl: number
  private readonly pollInterval: number
  private readonly channel: string
  private readonly encode: (key: K) => string
  private readonly onReleaseError: (error: unknown, key: K) => void

  constructor(options: RedisKeyedLockOptions<K>) {
    const api = 'new RedisKeyedLock()'
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${api}: pass an options object with a client.`)
    this.prefix = checkPrefix(options.prefix, 'yp:lock:', api)
    this.lockTtl = checkDuration(options.lockTtl, 10_000, `${api}: lockTtl`, { integer: true })
    this.pollInterval = checkDuration(options.pollInterval, 100, `${api}: pollInterval`)
    this.encode = keyEncoder(options.key, api)
    if (options.onReleaseError !== undefined && typeof options.onReleaseError !== 'function')
      throw new InvalidArgumentError(`${api}: onReleaseError must be a function (error, key) => void.`)
    this.onReleaseError =
      options.onReleaseError ??
      ((error, key) =>
        process.emitWarning(
          `RedisKeyedLock: releasing ${String(key)} failed (${(error as Error)?.message ?? String(error)}); its lease expires by itself within lockTtl.`,
          { code: 'YP_REDIS_RELEASE_FAILED' },
        ))
    this.connection = new Connection(options.client, options, api)
    this.channel = `${this.prefix}released`
    this.subscriber = new Subscriber(this.connection.client, [this.channel])
  }

  /**
   * Waits for `key` across every process and resolves with a fenced guard. `timeout`/`signal`
   * bound the whole call, Redis commands included.
   * @throws InvalidArgumentError / KeyEncodingError synchronously for a bad key or options.
   */
  acquire(key: K, opts?: WaitOptions): Promise<RedisLockGuard> {
    const tag = this.checkedTag(key, 'RedisKeyedLock.acquire()')
    const deadline = deadlineSignal(opts, 'RedisKeyedLock.acquire()') // validates opts synchronously
    if (deadline.signal?.aborted) {
      deadline.dispose()
      return Promise.reject(deadline.signal.reason)
    }
    return this.acquireTag(key, tag, deadline.signal).finally(deadline.dispose)
  }

  /**
   * Runs `fn` while holding `key` and releases it however `fn` ends. Resolves with `fn`'s result
   * or rejects with `fn`'s error — never with a release failure: if Redis cannot be told, the
   * failure goes to `onReleaseError` and the lease expires by itself within `lockTtl`. `fn`
   * receives the guard (its `fence` and `signal`).
   * @throws InvalidArgumentError synchronously if `fn` is not a function (or the key/options are bad).
   */
  runExclusive<R>(key: K, fn: (guard: RedisLockGuard) => R | PromiseLike<R>, opts?: WaitOptions): Promise<Awaited<R>> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('RedisKeyedLock.runExclusive(key, fn): fn must be a function.')
    return this.acquire(key, opts).then(async (guard): Promise<Awaited<R>> => {
      try {
        return await fn(guard)
      } finally {
        await guard.releaseAsync().catch((error: unknown) => this.onReleaseError(error, key))
      }
    })
  }

  /** True if some process holds `key` right now. */
  async locked(key: K): Promise<boolean> {
    const tag = this.checkedTag(key, 'RedisKeyedLock.locked()')
    return Number(await this.connection.eval('RedisKeyedLock.locked', EXISTS, [this.lockKey(tag)], [])) === 1
  }

  /** Closes the subscriber connection this lock created. */
  close(): void {
    this.subscriber.close()
  }

  private checkedTag(key: K, api: string): string {
    if (key === undefined || key === null)
      throw new InvalidArgumentError(`${api}: key must not be ${String(key)}. Pass a string that identifies the resource, e.g. \`account:\${id}\`.`)
    return this.encode(key)
  }

  private lockKey(tag: string): string {
    return `${this.prefix}{${tag}}:l`
  }

  private async acquireTag(key: K, tag: string, signal: AbortSignal | undefined): Promise<RedisLockGuard> {
    const local = await this.local.acquire(tag, signal ? { signal } : undefined)
    try {
      return await this.acquireRemote(key, tag, local, signal)
    } catch (error) {
      local.release()
      throw error
    }
  }

  private async acquireRemote(key: K, tag: string, local: Guard, signal: AbortSignal | undefined): Promise<RedisLockGuard> {
    const token = randomToken()
    const lockKey = this.lockKey(tag)
    const seqKey = `${this.prefix}{${tag}}:seq`
    const waitersKey = `${this.prefix}{${tag}}:w`
    // If the caller gives up while ACQUIRE is on its way and it then succeeds, nobody holds that
    // lease: give it back at once instead of leaving it to expire.
    const late = (fence: unknown): void => {
      if (Number(fence) > 0) void this.connection.eval('RedisKeyedLock.release', RELEASE, [lockKey, waitersKey], [token, this.channel, tag]).catch(() => {})
    }
    const tryAcquire = async (): Promise<number> =>
      Number(await this.connection.eval('RedisKeyedLock.acquire', ACQUIRE, [lockKey, seqKey], [token, this.lockTtl], { signal, late }))
    const first = await tryAcquire()
    if (first > 0) return this.grant(key, tag, token, first, local)
    // Contended: count ourselves as a waiter (so releases are announced) and listen, *then* try
    // again — a release between our failed attempt and our wait is never missed.
    await untilAborted(
      this.subscriber.start(this.connection.timeoutMs).catch(() => {}),
      signal,
    ) // polling works without it
    let wake: (() => void) | undefined
    const stop = this.subscriber.on(this.channel, (message) => {
      if (message === tag) wake?.()
    })
    const waiters = (delta: number): Promise<unknown> => this.connection.eval('RedisKeyedLock.wait', WAITERS, [waitersKey], [delta, this.lockTtl * 10])
    let counted = false
    try {
      await this.connection.eval('RedisKeyedLock.wait', WAITERS, [waitersKey], [1, this.lockTtl * 10], { signal, late: () => void waiters(-1).catch(() => {}) })
      counted = true
      for (;;) {
        const fence = await tryAcquire()
        if (fence > 0) return this.grant(key, tag, token, fence, local)
        await nap(this.pollInterval, signal, (w) => ((wake = w), () => (wake = undefined)))
      }
    } finally {
      stop()
      if (counted) void waiters(-1).catch(() => {})
    }
  }

  private grant(key: K, tag: string, token: string, fence: number, local: Guard): RedisLockGuard {
    const lockKey = this.lockKey(tag)
    const seqKey = `${this.prefix}{${tag}}:seq`
    const lost = new AbortController()
    let stopped = false
    let timer: { clear(): void } | undefined
    // The watchdog: extend every third of the lease, re-armed after each answer (one timer helper).
    const arm = (): void => {
      timer = startTimer(
        Math.max(1, Math.floor(this.lockTtl / 3)),
        () => {
          this.connection.eval('RedisKeyedLock.extend', EXTEND, [lockKey, seqKey], [token, this.lockTtl]).then(
            (ok) => (Number(ok) === 1 ? !stopped && arm() : lose()),
            () => lose(),
          )
        },
        true,
      )
    }
    const stop = (): void => {
      stopped = true
      timer?.clear()
    }
    const lose = (): void => {
      if (stopped) return
      stop()
      lost.abort(new LockLostError(`RedisKeyedLock: the lease on ${String(key)} (fence ${fence}) could not be extended; another process may hold it now.`))
    }
    arm()
    const owner = new RedisGuardOwner(
      async () => {
        stop()
        try {
          await this.connection.eval('RedisKeyedLock.release', RELEASE, [lockKey, `${this.prefix}{${tag}}:w`], [token, this.channel, tag])
        } finally {
          local.release()
        }
      },
      (error) => this.onReleaseError(error, key),
    )
    const guard = Guard.from(() => owner.releaseGuard()) as RedisLockGuard
    Object.defineProperties(guard, {
      fence: { value: fence, enumerable: true },
      signal: { value: lost.signal },
      releaseAsync: {
        value: async () => {
          if (owner.released) return
          owner.released = true
          await owner.doRelease()
        },
      },
    })
    return guard
  }
}

/** Resolves when `promise` settles, or rejects with `signal.reason` if it aborts first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
