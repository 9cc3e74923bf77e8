import { InvalidArgumentError, MemoryStore, type CacheEntry, type Store } from '@yieldpoint/core'
import type { Redis } from 'ioredis'
import { jsonCodec, RemoteError, serializeError, type Codec, type SerializedError } from './codec'
import { Connection, type ConnectionOptions } from './connection'
import { RedisUnavailableError } from './errors'
import { nap, randomToken, Subscriber } from './pubsub'
import { ACQUIRE, COMMIT, DELETE, EXTEND, READ, RELEASE, SET } from './scripts'

/**
 * Options of {@link RedisStore}.
 * @example
 * ```ts
 * new RedisStore({ client, prefix: 'shop:', lockTtl: 5_000, l1: { max: 10_000 } })
 * ```
 */
export interface RedisStoreOptions extends ConnectionOptions {
  /** An ioredis client for commands. Tip: `new Redis(url, { enableOfflineQueue: false })` so commands fail fast while Redis is down. */
  client: Redis
  /** A connection for SUBSCRIBE. Default: `client.duplicate()` (closed by `close()`). */
  subscriber?: Redis
  /** Prefix of every Redis key and channel, to share one Redis between caches. Default `'yp:'`. */
  prefix?: string
  /** How values are serialized. Default: JSON that round-trips Buffers. */
  codec?: Codec
  /** Lease of a load's lock (ms); a crashed leader is replaced after it. The watchdog extends it while the load runs. Default 10,000. */
  lockTtl?: number
  /** How often a waiting process re-checks (ms) when no pub/sub message arrives. Default 250. */
  pollInterval?: number
  /** When Redis fails: `'fail-open'` (default) loads in-process (local single-flight still holds); `'fail-closed'` rejects. */
  onRedisError?: 'fail-open' | 'fail-closed'
  /** A local L1 of at most this many entries in front of Redis, invalidated over pub/sub on set/delete. Default off. */
  l1?: { max: number }
  /** Extend the load's lease while it runs. Default true. (Off only to simulate a paused leader in tests.) */
  heartbeat?: boolean
  /** The cache's clock; must be the same as the cache's `now`. Default `performance.now()`. */
  now?: () => number
  /** @internal test hook: runs between a follower's failed lock attempt and its re-check. */
  afterLockMiss?: () => Promise<void>
}

interface Stored {
  v?: unknown
  e?: SerializedError
  /** ms of freshness left at write time; `s`: ms until it may no longer be served. */
  f: number
  s: number
  d: number
  r?: number
}

type DoneMessage = { k: string; ok: true } | { k: string; ok: false; e: SerializedError }

/**
 * A `Store` for `SingleFlightCache` on Redis, with a distributed single-flight: one load per key
 * cluster-wide. The first process to miss takes a lease (`SET NX PX` + a fencing token), loads,
 * and writes the result only if its fence is still current (a stalled leader's late write, or a
 * write racing `set`/`delete`, is rejected). Every other process subscribes first, then
 * re-checks, then waits for the leader's pub/sub message or its own poll tick, and receives the
 * leader's value — or its error, serialized (`name`, `message`, `code`), within moments. A
 * crashed leader's lease expires and the next process takes over.
 *
 * Entries carry remaining durations, never clock readings, so clock skew between hosts does not
 * matter. Every command has a timeout; when Redis is down the cache degrades to in-process
 * single-flight (`onRedisError`), and returns to cluster-wide single-flight when it is back.
 *
 * @example
 * ```ts
 * const store = new RedisStore({ client: new Redis(url, { enableOfflineQueue: false }), prefix: 'shop:' })
 * const products = new SingleFlightCache<string, Product>({ ttl: 5_000, store })
 * ```
 */
export class RedisStore<K extends string = string, V = unknown> implements Store<K, V> {
  private readonly connection: Connection
  private readonly subscriber: Subscriber
  private readonly ownsSubscriber: boolean
  private readonly prefix: string
  private readonly codec: Codec
  private readonly lockTtl: number
  private readonly pollInterval: number
  private readonly failOpen: boolean
  private readonly heartbeat: boolean
  private readonly now: () => number
  private readonly l1: MemoryStore<K, V> | undefined
  private readonly doneChannel: string
  private readonly invalidateChannel: string
  private readonly origin = randomToken()
  private readonly afterLockMiss: (() => Promise<void>) | undefined

  constructor(options: RedisStoreOptions) {
    if (!options || typeof options.client?.eval !== 'function') throw new InvalidArgumentError('RedisStore({ client }): client must be an ioredis client (new Redis(url)).')
    this.connection = new Connection(options.client, options)
    this.prefix = options.prefix ?? 'yp:'
    this.codec = options.codec ?? jsonCodec
    this.lockTtl = options.lockTtl ?? 10_000
    this.pollInterval = options.pollInterval ?? 250
    this.failOpen = (options.onRedisError ?? 'fail-open') === 'fail-open'
    this.heartbeat = options.heartbeat !== false
    this.now = options.now ?? (() => performance.now())
    this.l1 = options.l1 ? new MemoryStore<K, V>({ max: options.l1.max }) : undefined
    this.afterLockMiss = options.afterLockMiss
    this.doneChannel = `${this.prefix}done`
    this.invalidateChannel = `${this.prefix}invalidate`
    this.ownsSubscriber = options.subscriber === undefined
    this.subscriber = new Subscriber(options.subscriber ?? options.client.duplicate(), [this.doneChannel, this.invalidateChannel], this.connection.timeoutMs)
    this.subscriber.on(this.invalidateChannel, (message) => {
      const { k, o } = JSON.parse(message) as { k: string | null; o: string }
      if (o === this.origin || this.l1 === undefined) return
      if (k === null) this.l1.clear()
      else this.l1.delete(k as K)
    })
  }

  /** Whether the last Redis command succeeded (false while the circuit breaker is open). */
  get healthy(): boolean {
    return this.connection.healthy
  }

  async get(key: K): Promise<CacheEntry<V> | undefined> {
    const local = this.l1?.get(key)
    if (local !== undefined && this.now() < local.staleUntil) return local
    let entry: CacheEntry<V> | undefined
    try {
      entry = await this.read(key)
    } catch (error) {
      if (this.failOpen) return local // Redis down: whatever L1 still has, or a miss
      throw error
    }
    if (entry !== undefined) this.l1?.set(key, entry)
    return entry
  }

  async set(key: K, entry: CacheEntry<V>, keepFor: number): Promise<void> {
    this.l1?.set(key, entry)
    await this.connection.eval('RedisStore.set', SET, [this.valueKey(key), this.seqKey(key)], [this.encode(entry), this.keepMs(keepFor), this.invalidateChannel, this.invalidation(key)])
  }

  async delete(key: K): Promise<void> {
    this.l1?.delete(key)
    await this.connection.eval('RedisStore.delete', DELETE, [this.valueKey(key), this.seqKey(key)], [this.invalidateChannel, this.invalidation(key)])
  }

  /** Deletes every entry under this store's prefix (SCAN + UNLINK), and every other process's L1. */
  async clear(): Promise<void> {
    this.l1?.clear()
    await this.connection.run('RedisStore.clear', async (c) => {
      let cursor = '0'
      do {
        const [next, keys] = await c.scan(cursor, 'MATCH', `${this.prefix}{*}:v`, 'COUNT', 500)
        cursor = next
        if (keys.length) await c.unlink(...keys)
      } while (cursor !== '0')
      await c.publish(this.invalidateChannel, this.invalidation(null))
    })
  }

  /** The distributed single-flight (see the class documentation). */
  async load(key: K, loadHere: () => Promise<CacheEntry<V>>, { signal }: { signal: AbortSignal }): Promise<CacheEntry<V>> {
    if (!this.connection.healthy) return this.degraded(loadHere, new RedisUnavailableError('Redis is unreachable'))
    await this.subscriber.start(this.connection.timeoutMs).catch(() => {}) // polling covers a missing subscription
    const token = randomToken()
    const lockKey = this.lockKey(key)
    // What was there when we missed (nothing, or a stale entry): any other payload is a newer result.
    const missed = await this.readRaw(key).then((r) => r?.[0], () => undefined)
    for (;;) {
      let wake: ((message: DoneMessage) => void) | undefined
      let failure: SerializedError | undefined
      // Subscribe first, then try: a result published in between is never missed.
      const stop = this.subscriber.on(this.doneChannel, (raw) => {
        const message = JSON.parse(raw) as DoneMessage
        if (message.k !== key) return
        if (!message.ok) failure = message.e
        wake?.(message)
      })
      try {
        let fence: number
        try {
          fence = Number(await this.connection.eval('RedisStore.load', ACQUIRE, [lockKey, this.seqKey(key)], [token, this.lockTtl]))
        } catch (error) {
          return await this.degraded(loadHere, error)
        }
        if (fence > 0) return await this.lead(key, token, fence, loadHere)
        await this.afterLockMiss?.()
        for (;;) {
          if (failure) throw new RemoteError(failure)
          const entry = await this.newerEntry(key, missed)
          if (entry !== undefined) return entry
          const ttl = await this.connection.run('RedisStore.load', (c) => c.pttl(lockKey)).catch(() => -2)
          if (ttl === -2) {
            // No lock any more. COMMIT writes the value and frees the lock in one step, so the
            // leader may have finished just after our read above: look again before taking over.
            const committed = await this.newerEntry(key, missed)
            if (committed !== undefined) return committed
            break // the leader died or failed: take over
          }
          await nap(this.pollInterval, signal, (w) => ((wake = () => w()), () => (wake = undefined)))
        }
      } finally {
        stop()
      }
    }
  }

  /** Closes the subscriber connection this store created. */
  close(): void {
    if (this.ownsSubscriber) this.subscriber.close()
  }

  private async lead(key: K, token: string, fence: number, loadHere: () => Promise<CacheEntry<V>>): Promise<CacheEntry<V>> {
    const lockKey = this.lockKey(key)
    const watchdog = this.heartbeat
      ? setInterval(() => void this.connection.eval('RedisStore.extend', EXTEND, [lockKey], [token, this.lockTtl]).catch(() => {}), Math.max(1, Math.floor(this.lockTtl / 3)))
      : undefined
    watchdog?.unref()
    let entry: CacheEntry<V>
    try {
      entry = await loadHere()
    } catch (error) {
      clearInterval(watchdog)
      const message: DoneMessage = { k: key, ok: false, e: serializeError(error) }
      // Remote followers fail fast with the same error instead of waiting for the lease.
      await this.connection.run('RedisStore.fail', (c) => c.publish(this.doneChannel, JSON.stringify(message))).catch(() => {})
      await this.connection.eval('RedisStore.release', RELEASE, [lockKey, `${this.prefix}{${key}}:w`], [token, `${this.prefix}released`, key]).catch(() => {})
      throw error
    }
    clearInterval(watchdog)
    this.l1?.set(key, entry)
    const now = this.now()
    await this.connection
      .eval('RedisStore.commit', COMMIT, [this.valueKey(key), lockKey, this.seqKey(key)], [token, fence, this.encode(entry), this.keepMs(entry.staleUntil - now), this.doneChannel, JSON.stringify({ k: key, ok: true } satisfies DoneMessage)])
      .catch(() => 0) // Redis gone: our own callers still get the value
    return entry
  }

  private async degraded(loadHere: () => Promise<CacheEntry<V>>, error: unknown): Promise<CacheEntry<V>> {
    if (!this.failOpen) throw error
    return loadHere()
  }

  /** The stored entry if it is fresh or differs from the one this process missed on. */
  private async newerEntry(key: K, missed: string | undefined): Promise<CacheEntry<V> | undefined> {
    const found = await this.readRaw(key).catch(() => null)
    if (!found) return undefined
    const entry = this.decode(found)
    if (found[0] === missed && this.now() >= entry.freshUntil) return undefined
    this.l1?.set(key, entry)
    return entry
  }

  private readRaw(key: K): Promise<[string, number] | null> {
    return this.connection.eval('RedisStore.get', READ, [this.valueKey(key)], []) as Promise<[string, number] | null>
  }

  private async read(key: K): Promise<CacheEntry<V> | undefined> {
    const found = await this.readRaw(key)
    return found ? this.decode(found) : undefined
  }

  private decode([payload, pttl]: [string, number]): CacheEntry<V> {
    const stored = this.codec.decode(payload) as Stored
    const now = this.now()
    const staleUntil = now + (pttl > 0 ? pttl : stored.s)
    const entry: CacheEntry<V> = {
      value: stored.v as V,
      freshUntil: staleUntil - (stored.s - stored.f),
      staleUntil,
      delta: stored.d,
      ...(stored.r !== undefined ? { retryAfter: staleUntil - (stored.s - stored.r) } : {}),
    }
    if (stored.e !== undefined) entry.error = new RemoteError(stored.e)
    return entry
  }

  private encode(entry: CacheEntry<V>): string {
    const now = this.now()
    const stored: Stored = { f: entry.freshUntil - now, s: entry.staleUntil - now, d: entry.delta }
    if ('error' in entry && entry.error !== undefined) stored.e = serializeError(entry.error)
    else stored.v = entry.value
    if (entry.retryAfter !== undefined) stored.r = entry.retryAfter - now
    return this.codec.encode(stored)
  }

  private keepMs(ms: number): number {
    return Number.isFinite(ms) ? Math.max(1, Math.ceil(ms)) : 365 * 24 * 3_600_000
  }

  private invalidation(key: string | null): string {
    return JSON.stringify({ k: key, o: this.origin })
  }

  private valueKey(key: string): string {
    return `${this.prefix}{${key}}:v`
  }

  private lockKey(key: string): string {
    return `${this.prefix}{${key}}:l`
  }

  private seqKey(key: string): string {
    return `${this.prefix}{${key}}:seq`
  }
}
