import { deadlineSignal, Guard, InvalidArgumentError, KeyedLock, type WaitOptions } from '@yieldpoint/core'
import type { Redis } from 'ioredis'
import { Connection, type ConnectionOptions } from './connection'
import { LockLostError } from './errors'
import { nap, randomToken, Subscriber } from './pubsub'
import { ACQUIRE, EXTEND, RELEASE, WAITERS } from './scripts'

/**
 * Options of {@link RedisKeyedLock}.
 * @example
 * ```ts
 * new RedisKeyedLock({ client, prefix: 'app:lock:', lockTtl: 5_000 })
 * ```
 */
export interface RedisKeyedLockOptions extends ConnectionOptions {
  /** An ioredis client for commands. */
  client: Redis
  /** A connection for SUBSCRIBE. Default: `client.duplicate()` (closed by `close()`). */
  subscriber?: Redis
  /** Prefix of every Redis key and channel. Default `'yp:lock:'`. */
  prefix?: string
  /** Lease of a grant (ms); the watchdog extends it every third of it while the holder runs. Default 10,000. */
  lockTtl?: number
  /** How often a waiter re-checks when no release message arrives (ms). Default 100. */
  pollInterval?: number
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
  /** The fencing token of this grant: strictly greater than every earlier grant's for this key. */
  readonly fence: number
  /** Aborts with {@link LockLostError} if the lease could not be extended (the lock may now be someone else's). */
  readonly signal: AbortSignal
  /** Releases and resolves once Redis has the lock back. */
  releaseAsync(): Promise<void>
}

class RedisGuardOwner {
  released = false
  constructor(readonly doRelease: () => Promise<void>) {}
  releaseGuard(): void {
    if (this.released) return
    this.released = true
    this.doRelease().catch(() => {}) // best effort: the lease expires anyway
  }
}

/**
 * The `KeyedLock` contract across processes, on one Redis: `SET key token NX PX ttl` to take a
 * key, a Lua compare-and-delete to release it, a watchdog that extends the lease while the holder
 * runs, and a fencing token per grant. Waiters are woken by pub/sub, with polling as a fallback
 * (pub/sub drops messages on reconnects). Every wait takes `{ signal, timeout }`.
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
 * const locks = new RedisKeyedLock({ client: new Redis(url) })
 * await locks.runExclusive(`account:${id}`, async (guard) => {
 *   const balance = Number(await redis.get(`balance:${id}`))
 *   await redis.set(`balance:${id}`, balance + 10)
 * })
 * ```
 */
export class RedisKeyedLock {
  private readonly connection: Connection
  private readonly subscriber: Subscriber
  private readonly ownsSubscriber: boolean
  private readonly local = new KeyedLock<string>()
  private readonly prefix: string
  private readonly lockTtl: number
  private readonly pollInterval: number
  private readonly channel: string

  constructor(options: RedisKeyedLockOptions) {
    if (!options || typeof options.client?.eval !== 'function') throw new InvalidArgumentError('RedisKeyedLock({ client }): client must be an ioredis client (new Redis(url)).')
    this.connection = new Connection(options.client, options)
    this.prefix = options.prefix ?? 'yp:lock:'
    this.lockTtl = positive(options.lockTtl ?? 10_000, 'lockTtl')
    this.pollInterval = positive(options.pollInterval ?? 100, 'pollInterval')
    this.channel = `${this.prefix}released`
    this.ownsSubscriber = options.subscriber === undefined
    this.subscriber = new Subscriber(options.subscriber ?? options.client.duplicate(), [this.channel], this.connection.timeoutMs)
  }

  /** Waits for `key` across every process and resolves with a fenced guard. */
  async acquire(key: string, opts?: WaitOptions): Promise<RedisLockGuard> {
    if (typeof key !== 'string' || key === '') throw new InvalidArgumentError('RedisKeyedLock.acquire(key): key must be a non-empty string.')
    if (opts?.signal?.aborted) throw opts.signal.reason
    const deadline = deadlineSignal(opts, 'RedisKeyedLock.acquire()')
    try {
      const local = await this.local.acquire(key, { signal: deadline.signal })
      try {
        return await this.acquireRemote(key, local, deadline.signal)
      } catch (error) {
        local.release()
        throw error
      }
    } finally {
      deadline.dispose()
    }
  }

  /**
   * Runs `fn` while holding `key` and releases it however `fn` ends. `fn` receives the guard
   * (its `fence` and `signal`).
   */
  async runExclusive<R>(key: string, fn: (guard: RedisLockGuard) => R | PromiseLike<R>, opts?: WaitOptions): Promise<Awaited<R>> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('RedisKeyedLock.runExclusive(key, fn): fn must be a function.')
    const guard = await this.acquire(key, opts)
    try {
      return await fn(guard)
    } finally {
      await guard.releaseAsync()
    }
  }

  /** True if some process holds `key` right now. */
  async locked(key: string): Promise<boolean> {
    return (await this.connection.run('RedisKeyedLock.locked', (c) => c.exists(this.lockKey(key)))) === 1
  }

  /** Closes the subscriber connection this lock created. */
  close(): void {
    if (this.ownsSubscriber) this.subscriber.close()
  }

  private lockKey(key: string): string {
    return `${this.prefix}{${key}}:l`
  }

  private async acquireRemote(key: string, local: Guard, signal: AbortSignal | undefined): Promise<RedisLockGuard> {
    const token = randomToken()
    const lockKey = this.lockKey(key)
    const seqKey = `${this.prefix}{${key}}:seq`
    const waitersKey = this.waitersKey(key)
    const first = Number(await this.connection.eval('RedisKeyedLock.acquire', ACQUIRE, [lockKey, seqKey], [token, this.lockTtl]))
    if (first > 0) return this.grant(key, lockKey, token, first, local)
    // Contended: count ourselves as a waiter (so releases are announced) and listen, *then* try
    // again — a release between our failed attempt and our wait is never missed.
    await this.subscriber.start(this.connection.timeoutMs).catch(() => {}) // polling works without it
    let wake: (() => void) | undefined
    const stop = this.subscriber.on(this.channel, (message) => {
      if (message === key) wake?.()
    })
    await this.connection.eval('RedisKeyedLock.wait', WAITERS, [waitersKey], [1, this.lockTtl * 10])
    try {
      for (;;) {
        const fence = Number(await this.connection.eval('RedisKeyedLock.acquire', ACQUIRE, [lockKey, seqKey], [token, this.lockTtl]))
        if (fence > 0) return this.grant(key, lockKey, token, fence, local)
        await nap(this.pollInterval, signal, (w) => ((wake = w), () => (wake = undefined)))
      }
    } finally {
      stop()
      void this.connection.eval('RedisKeyedLock.wait', WAITERS, [waitersKey], [-1, this.lockTtl * 10]).catch(() => {})
    }
  }

  private waitersKey(key: string): string {
    return `${this.prefix}{${key}}:w`
  }

  private grant(key: string, lockKey: string, token: string, fence: number, local: Guard): RedisLockGuard {
    const lost = new AbortController()
    const watchdog = setInterval(() => {
      this.connection.eval('RedisKeyedLock.extend', EXTEND, [lockKey], [token, this.lockTtl]).then(
        (ok) => {
          if (Number(ok) !== 1) lose()
        },
        () => lose(),
      )
    }, Math.max(1, Math.floor(this.lockTtl / 3)))
    watchdog.unref()
    const lose = (): void => {
      clearInterval(watchdog)
      lost.abort(new LockLostError(`RedisKeyedLock: the lease on ${key} (fence ${fence}) could not be extended; another process may hold it now.`))
    }
    const owner = new RedisGuardOwner(async () => {
      clearInterval(watchdog)
      try {
        await this.connection.eval('RedisKeyedLock.release', RELEASE, [lockKey, this.waitersKey(key)], [token, this.channel, key])
      } finally {
        local.release()
      }
    })
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

function positive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw new InvalidArgumentError(`${name} must be a number of milliseconds > 0, got ${String(value)}.`)
  return value
}
