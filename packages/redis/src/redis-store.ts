import {
  InvalidArgumentError,
  MemoryStore,
  defaultReviveError,
  defaultSerializeError,
  type Acquired,
  type CacheEntry,
  type Lease,
  type LeaseFailure,
  type LeaseWaitResult,
  type ReviveError,
  type SerializedError,
  type SerializeError,
  type Store,
  type StoreInitOptions,
  startTimer,
} from '@yieldpoint/core'
import { checkPrefix, globEscape, jsonCodec, keyEncoder, type Codec, type KeyEncoder } from './codec'
import { checkDuration, Connection, type ConnectionOptions } from './connection'
import { RedisUnavailableError } from './errors'
import { nap, randomToken, Subscriber } from './pubsub'
import { ACQUIRE, DELETE, EXTEND, FINISH, POLL, READ, SET } from './store-scripts'

/**
 * Options of {@link RedisStore}.
 * @example
 * ```ts
 * new RedisStore({ client, prefix: 'shop:', lockTtl: 5_000, l1: { max: 10_000 } })
 * ```
 */
export interface RedisStoreOptions<K = string> extends ConnectionOptions {
  /**
   * An ioredis `Redis`/`Cluster` created with `{ enableOfflineQueue: false }`, a node-redis client
   * created with `{ disableOfflineQueue: true }` (cluster: in `defaults`), or a `RedisClient`.
   */
  client: unknown
  /** A connection of the same library for SUBSCRIBE. Default: a duplicate of `client` (closed by `close()`). */
  subscriber?: unknown
  /** Maps a cache key to a distinct string. Default: strings only (anything else throws `KeyEncodingError`). */
  key?: KeyEncoder<K>
  /** Prefix of every Redis key and channel, to share one Redis between caches (no `{` or `}`). Default `'yp:'`. */
  prefix?: string
  /** How values are serialized. Default: JSON that round-trips Buffers. */
  codec?: Codec
  /** Lease of a load (integer ms); a crashed leader is replaced after it. The watchdog extends it while the load runs. Default 10,000. */
  lockTtl?: number
  /** How often a waiting process re-checks (ms) when no pub/sub message arrives. Default 250. */
  pollInterval?: number
  /** When Redis fails: `'fail-open'` (default) loads in-process (local single-flight still holds); `'fail-closed'` rejects. */
  onRedisError?: 'fail-open' | 'fail-closed'
  /** A local L1 of at most this many entries in front of Redis, invalidated over pub/sub on set/delete. Default off. */
  l1?: { max: number }
  /** Extend the load's lease while it runs. Default true. (Off only to simulate a paused leader in tests.) */
  heartbeat?: boolean
  /** @internal test hook: runs between a follower's failed lease attempt and its first check. */
  afterLockMiss?: () => Promise<void>
  /** @internal test hook: a follower ignores pub/sub and learns outcomes only by polling. */
  ignoreMessages?: boolean
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

/** What a lease's end announces on the `done` channel (one channel per prefix, filtered by key). */
type DoneMessage =
  | { k: string; kind: 'stored' }
  | { k: string; kind: 'value'; p: string }
  | { k: string; kind: 'error'; e: SerializedError }
  | { k: string; kind: 'not-shared' }
  | { k: string; kind: 'retry' }

/** Values whose entry lives shorter than this travel inside the done message (they may be gone before a follower reads them). */
const INLINE_BELOW_MS = 1_000

/**
 * A `Store` for `SingleFlightCache` on Redis: one load per key cluster-wide. It takes part in the
 * cache's single load path through the lease hook ({@link Store.acquire}); it has no
 * single-flight of its own.
 *
 * - **acquire** runs one script: if the entry is no longer the one the cache just read (another
 *   process committed meanwhile), it returns that entry; otherwise it takes the lease
 *   (`SET NX PX` + a fence) or reports it busy.
 * - **wait** (a busy lease): the outcome arrives over pub/sub — the value, `stored`, the leader's
 *   error (serialized with the cache's `serializeError`, revived with its `reviveError`), "not
 *   shared", or "retry" — or, if a message is lost, by polling (one script: a newer entry, or
 *   whether the lease is still held). A crashed leader's lease expires and a follower takes over.
 * - **commit / fail** run one fenced script: the entry is written only if no newer lease,
 *   `set` or `delete` took a fence since the grant; the lease is freed; the outcome announced.
 *   The L1 (if any) is written only after Redis accepted the write.
 *
 * Entries carry remaining durations, never clock readings, so clock skew between hosts does not
 * matter; the cache's clock arrives through `init`. Fences come from the Redis server's clock, so
 * they keep increasing across a restart. Every command has a timeout; when Redis is down the
 * cache degrades to in-process single-flight (`onRedisError`).
 *
 * @example
 * ```ts
 * const store = new RedisStore({ client: new Redis(url, { enableOfflineQueue: false }), prefix: 'shop:' })
 * const products = new SingleFlightCache<string, Product>({ ttl: 5_000, store })
 * ```
 */
export class RedisStore<K = string, V = unknown> implements Store<K, V> {
  private readonly connection: Connection
  private readonly subscriber: Subscriber
  private readonly tag: (key: K) => string
  private readonly prefix: string
  private readonly codec: Codec
  private readonly lockTtl: number
  private readonly pollInterval: number
  private readonly failOpen: boolean
  private readonly heartbeat: boolean
  private readonly l1: MemoryStore<string, V> | undefined
  private readonly doneChannel: string
  private readonly invalidateChannel: string
  private readonly origin = randomToken()
  private readonly afterLockMiss: (() => Promise<void>) | undefined
  private readonly ignoreMessages: boolean
  /** The fence of the write each entry came from, so `acquire` can tell it from a newer one. */
  private readonly fences = new WeakMap<object, string>()
  private now: () => number = () => performance.now()
  private serializeError: SerializeError = defaultSerializeError
  private reviveError: ReviveError = defaultReviveError

  constructor(options: RedisStoreOptions<K>) {
    const api = 'new RedisStore()'
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${api}: pass an options object with a client.`)
    this.prefix = checkPrefix(options.prefix, 'yp:', api)
    this.tag = keyEncoder(options.key, api)
    if (options.codec !== undefined && (typeof options.codec?.encode !== 'function' || typeof options.codec?.decode !== 'function'))
      throw new InvalidArgumentError(`${api}: codec must be { encode(value): string, decode(text): unknown }.`)
    this.codec = options.codec ?? jsonCodec
    this.lockTtl = checkDuration(options.lockTtl, 10_000, `${api}: lockTtl`, { integer: true })
    this.pollInterval = checkDuration(options.pollInterval, 250, `${api}: pollInterval`)
    if (options.onRedisError !== undefined && options.onRedisError !== 'fail-open' && options.onRedisError !== 'fail-closed')
      throw new InvalidArgumentError(`${api}: onRedisError must be 'fail-open' or 'fail-closed', got ${String(options.onRedisError)}.`)
    this.failOpen = (options.onRedisError ?? 'fail-open') === 'fail-open'
    if (options.heartbeat !== undefined && typeof options.heartbeat !== 'boolean') throw new InvalidArgumentError(`${api}: heartbeat must be a boolean.`)
    this.heartbeat = options.heartbeat !== false
    if (options.l1 !== undefined && (options.l1 === null || typeof options.l1 !== 'object' || !Number.isInteger(options.l1.max) || options.l1.max < 1))
      throw new InvalidArgumentError(`${api}: l1 must be { max } with max an integer >= 1.`)
    this.l1 = options.l1 ? new MemoryStore<string, V>({ max: options.l1.max }) : undefined
    this.afterLockMiss = options.afterLockMiss
    this.ignoreMessages = options.ignoreMessages === true
    this.connection = new Connection(options.client, options, api)
    this.doneChannel = `${this.prefix}done`
    this.invalidateChannel = `${this.prefix}invalidate`
    this.subscriber = new Subscriber(this.connection.client, [this.doneChannel, this.invalidateChannel])
    this.subscriber.on(this.invalidateChannel, (message) => {
      const { k, o } = JSON.parse(message) as { k: string | null; o: string }
      if (o === this.origin || this.l1 === undefined) return
      if (k === null) this.l1.clear()
      else this.l1.delete(k)
    })
  }

  /** Called by the cache: its clock and error (de)serializers. */
  init(options: StoreInitOptions): void {
    this.now = options.now
    this.serializeError = options.serializeError
    this.reviveError = options.reviveError
  }

  /** Whether the last Redis command succeeded (false while the circuit breaker is open). */
  get healthy(): boolean {
    return this.connection.healthy
  }

  async get(key: K): Promise<CacheEntry<V> | undefined> {
    const local = this.l1?.get(this.tag(key))
    if (local !== undefined && this.now() < local.staleUntil) return local
    let entry: CacheEntry<V> | undefined
    try {
      entry = await this.read(key)
    } catch (error) {
      if (this.failOpen && error instanceof RedisUnavailableError) return local // Redis down: whatever L1 still has, or a miss
      throw error // an error reply (RedisReplyError) is a bug to surface, not an outage
    }
    if (entry !== undefined) this.l1?.set(this.tag(key), entry)
    return entry
  }

  async set(key: K, entry: CacheEntry<V>, keepFor: number): Promise<void> {
    this.l1?.delete(this.tag(key))
    const fence = (await this.connection.eval(
      'RedisStore.set',
      SET,
      [this.valueKey(key), this.seqKey(key)],
      [this.encodeStored(entry), this.keepMs(keepFor), this.invalidateChannel, this.invalidation(key)],
    )) as string
    this.fences.set(entry, String(fence))
    this.l1?.set(this.tag(key), entry) // only once Redis holds it
  }

  async delete(key: K): Promise<void> {
    this.l1?.delete(this.tag(key))
    await this.connection.eval(
      'RedisStore.delete',
      DELETE,
      [this.valueKey(key), this.seqKey(key)],
      [this.lockTtl, this.invalidateChannel, this.invalidation(key)],
    )
    this.l1?.delete(this.tag(key)) // a commit that raced the delete may have filled it meanwhile
  }

  /** Deletes every entry under this store's prefix (SCAN + UNLINK), and every other process's L1; loads running anywhere do not write back. */
  async clear(): Promise<void> {
    this.l1?.clear()
    await this.connection.run('RedisStore.clear', async (c) => {
      // Fences first, then entries: a load running anywhere when clear() began finds its fence
      // gone and its commit refused (as after a delete), so no value computed before the clear
      // lands after it. New fences still increase: they come from the server's clock.
      for await (const keys of c.scan(`${globEscape(this.prefix)}{*}:seq`)) await c.unlink(keys) // every master of a cluster
      for await (const keys of c.scan(`${globEscape(this.prefix)}{*}:v`)) await c.unlink(keys)
      await c.publish(this.invalidateChannel, this.invalidation(null))
    })
  }

  /** The lease hook (see the class documentation). `found`: the entry the cache read and decided on. */
  async acquire(key: K, found: CacheEntry<V> | undefined, _options: { signal: AbortSignal }): Promise<Acquired<V>> {
    if (!this.connection.healthy) return this.degraded(undefined)
    await this.subscriber.start(this.connection.timeoutMs).catch(() => {}) // polling covers a missing subscription
    const foundFence = (found !== undefined && this.fences.get(found)) || '0'
    // Listen before asking: an outcome published right after the script is never missed.
    const inbox: { message?: DoneMessage; wake?: () => void } = {}
    const stop = this.ignoreMessages
      ? () => true
      : this.subscriber.on(this.doneChannel, (raw) => {
          const message = JSON.parse(raw) as DoneMessage
          if (message.k !== this.tag(key)) return
          inbox.message = message
          inbox.wake?.()
        })
    const token = randomToken()
    let reply: [number, string?, number?]
    try {
      reply = (await this.connection.eval(
        'RedisStore.acquire',
        ACQUIRE,
        [this.valueKey(key), this.lockKey(key), this.seqKey(key)],
        [token, this.lockTtl, foundFence],
      )) as [number, string?, number?]
    } catch (error) {
      stop()
      return this.degraded(error)
    }
    if (reply[0] === 0) {
      stop()
      return { kind: 'entry', entry: this.remember(key, this.decode(reply[1]!, reply[2]!)) }
    }
    if (reply[0] === 1) {
      stop()
      return { kind: 'lease', lease: this.lease(key, token, String(reply[1])) }
    }
    const holder = String(reply[1] ?? '')
    return { kind: 'busy', wait: (signal) => this.wait(key, foundFence, holder, inbox, signal).finally(stop) }
  }

  /** Closes the subscriber connection this store created. */
  close(): void {
    this.subscriber.close()
  }

  private async wait(
    key: K,
    foundFence: string,
    holder: string,
    inbox: { message?: DoneMessage; wake?: () => void },
    signal: AbortSignal,
  ): Promise<LeaseWaitResult<V>> {
    await this.afterLockMiss?.()
    for (;;) {
      if (inbox.message !== undefined) return this.received(key, inbox.message)
      let polled: [number, string?, number?]
      try {
        polled = (await this.connection.eval('RedisStore.poll', POLL, [this.valueKey(key), this.lockKey(key), this.outcomeKey(key, holder)], [foundFence])) as [
          number,
          string?,
          number?,
        ]
      } catch (error) {
        if (this.failOpen && error instanceof RedisUnavailableError) return { kind: 'retry' } // the next acquire finds Redis down and loads here
        throw error
      }
      if (polled[0] === 0) return { kind: 'entry', entry: this.remember(key, this.decode(polled[1]!, polled[2]!)) }
      // The holder's announced outcome, read before its pub/sub message reached us.
      if (polled[0] === 3) return this.received(key, JSON.parse(polled[1]!) as DoneMessage)
      if (polled[0] === 2) {
        // Free and nothing new: the leader died, gave up, or announced while we polled.
        return inbox.message !== undefined ? this.received(key, inbox.message) : { kind: 'retry' }
      }
      await nap(this.pollInterval, signal, (wake) => ((inbox.wake = wake), () => (inbox.wake = undefined)))
    }
  }

  private async received(key: K, message: DoneMessage): Promise<LeaseWaitResult<V>> {
    switch (message.kind) {
      case 'value':
        return { kind: 'value', value: (this.codec.decode(message.p) as Stored).v as V }
      case 'error':
        return { kind: 'error', error: this.reviveError(message.e) }
      case 'not-shared':
        return { kind: 'not-shared' }
      case 'retry':
        return { kind: 'retry' }
      case 'stored': {
        const entry = await this.read(key).catch(() => undefined)
        return entry === undefined ? { kind: 'retry' } : { kind: 'entry', entry: this.remember(key, entry) }
      }
    }
  }

  private lease(key: K, token: string, fence: string): Lease<V> {
    const lockKey = this.lockKey(key)
    const tag = this.tag(key)
    let ended = false
    // The watchdog: extend every third of the lease, re-armed after each answer (one timer helper).
    let watchdog: { clear(): void } | undefined
    const arm = (): void => {
      watchdog = startTimer(
        Math.max(1, Math.floor(this.lockTtl / 3)),
        () => void this.connection.eval('RedisStore.extend', EXTEND, [lockKey, this.seqKey(key)], [token, this.lockTtl]).then(rearm, rearm),
        true,
      )
    }
    const rearm = (): void => {
      if (!ended) arm()
    }
    if (this.heartbeat) arm()
    // Ends the lease exactly once. `announce` builds the outcome messages; like the entry's
    // encoding it may throw (a value the codec cannot write), so both run inside the guard:
    // whatever throws, the lock is freed and the waiting processes hear an error, never silence
    // (a throw before the script ran used to leave the watchdog extending the lock forever).
    const finish = async (entry: CacheEntry<V> | undefined, keepFor: number, announce: () => [DoneMessage, DoneMessage]): Promise<void> => {
      if (ended) return
      ended = true
      watchdog?.clear()
      let payload = ''
      let message: DoneMessage
      let fencedOut: DoneMessage
      try {
        if (entry !== undefined) payload = this.encodeStored(entry)
        ;[message, fencedOut] = announce()
      } catch (error) {
        // The value cannot be stored (e.g. a BigInt through JSON): free the lease and give the
        // waiting processes this error, then let the cache reject its callers with it.
        const failed: DoneMessage = { k: tag, kind: 'error', e: this.serialize(error) }
        await this.end(key, token, fence, '', 0, failed, failed).catch(() => {})
        throw error
      }
      let written: boolean
      try {
        written = await this.end(key, token, fence, payload, this.keepMs(keepFor), message, fencedOut)
      } catch (error) {
        if (this.failOpen && error instanceof RedisUnavailableError) return // Redis gone: our own callers still get the outcome
        throw error
      }
      if (written && entry !== undefined) {
        this.fences.set(entry, fence)
        this.l1?.set(this.tag(key), entry) // only after Redis accepted the fenced write
      }
    }
    return {
      commit: (value, entry, keepFor) =>
        finish(entry, keepFor, () => {
          const message: DoneMessage =
            entry === undefined || keepFor < INLINE_BELOW_MS ? { k: tag, kind: 'value', p: this.codec.encode({ v: value }) } : { k: tag, kind: 'stored' }
          return [message, { k: tag, kind: 'retry' }]
        }),
      fail: (outcome: LeaseFailure, entry, keepFor) =>
        finish(entry, keepFor, () => {
          const message: DoneMessage =
            outcome.kind === 'error'
              ? { k: tag, kind: 'error', e: this.serialize(outcome.error) }
              : outcome.kind === 'not-shared'
                ? { k: tag, kind: 'not-shared' }
                : { k: tag, kind: 'retry' }
          return [message, message]
        }),
    }
  }

  /**
   * `serializeError`, made total: a thrown value it cannot handle (a null-prototype object, a
   * throwing getter) or whose result cannot cross as JSON (a BigInt `code`, a cycle) still
   * crosses, as a plain description — the loader's callers here keep the original.
   */
  private serialize(error: unknown): SerializedError {
    let reason: unknown
    try {
      const serialized = this.serializeError(error)
      JSON.stringify(serialized) // what the scripts will do with it
      return serialized
    } catch (failure) {
      reason = failure
    }
    const what = typeof error
    try {
      if (error instanceof Error) return { name: String(error.name), message: String(error.message) }
    } catch {}
    return {
      name: 'Error',
      message:
        `The load failed in another process with a ${what} that serializeError could not ` +
        `turn into JSON (${reason instanceof Error ? reason.message : 'unknown reason'}).`,
    }
  }

  private async end(key: K, token: string, fence: string, payload: string, keepMs: number, message: DoneMessage, fencedOut: DoneMessage): Promise<boolean> {
    const written = await this.connection.eval(
      'RedisStore.finish',
      FINISH,
      [this.valueKey(key), this.lockKey(key), this.seqKey(key), this.outcomeKey(key, token)],
      [token, fence, payload, keepMs, this.doneChannel, JSON.stringify(message), JSON.stringify(fencedOut), Math.max(1_000, this.pollInterval * 4)],
    )
    return Number(written) === 1
  }

  private degraded(error: unknown): Acquired<V> {
    // Only an outage degrades; an error reply (RedisReplyError) is a bug to surface.
    if (!this.failOpen || (error !== undefined && !(error instanceof RedisUnavailableError))) throw error ?? new Error('unreachable')
    return { kind: 'local' }
  }

  private remember(key: K, entry: CacheEntry<V>): CacheEntry<V> {
    this.l1?.set(this.tag(key), entry)
    return entry
  }

  private async read(key: K): Promise<CacheEntry<V> | undefined> {
    const found = (await this.connection.eval('RedisStore.get', READ, [this.valueKey(key)], [])) as [string, number] | null
    return found ? this.decode(found[0], found[1]) : undefined
  }

  private decode(raw: string, pttl: number): CacheEntry<V> {
    const newline = raw.indexOf('\n')
    const stored = this.codec.decode(raw.slice(newline + 1)) as Stored
    const now = this.now()
    const staleUntil = now + (pttl > 0 ? pttl : stored.s)
    const freshUntil = staleUntil - (stored.s - stored.f)
    const entry: CacheEntry<V> =
      stored.e !== undefined
        ? { kind: 'error', error: this.reviveError(stored.e), freshUntil, staleUntil }
        : {
            kind: 'value',
            value: stored.v as V,
            freshUntil,
            staleUntil,
            delta: stored.d,
            ...(stored.r !== undefined ? { retryAfter: staleUntil - (stored.s - stored.r) } : {}),
          }
    this.fences.set(entry, raw.slice(0, newline))
    return entry
  }

  private encodeStored(entry: CacheEntry<V>): string {
    const now = this.now()
    const stored: Stored = { f: entry.freshUntil - now, s: entry.staleUntil - now, d: 0 }
    if (entry.kind === 'error') stored.e = this.serialize(entry.error)
    else {
      stored.v = entry.value
      stored.d = entry.delta
      if (entry.retryAfter !== undefined) stored.r = entry.retryAfter - now
    }
    return this.codec.encode(stored)
  }

  private keepMs(ms: number): number {
    return Number.isFinite(ms) ? Math.max(1, Math.ceil(ms)) : 365 * 24 * 3_600_000
  }

  private invalidation(key: K | null): string {
    return JSON.stringify({ k: key === null ? null : this.tag(key), o: this.origin })
  }

  private valueKey(key: K): string {
    return `${this.prefix}{${this.tag(key)}}:v`
  }

  private lockKey(key: K): string {
    return `${this.prefix}{${this.tag(key)}}:l`
  }

  /** Where a lease's announced outcome stays briefly, for followers that poll before its message arrives. */
  private outcomeKey(key: K, token: string): string {
    return `${this.prefix}{${this.tag(key)}}:o:${token}`
  }

  private seqKey(key: K): string {
    return `${this.prefix}{${this.tag(key)}}:seq`
  }
}
