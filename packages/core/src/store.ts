import { LRUCache } from 'lru-cache'
import type { ReviveError, SerializeError } from './remote-error'

/**
 * What a {@link SingleFlightCache} keeps per key: a value or a cached error (`errorTtl`), told
 * apart by `kind`, so a cached error can never be read as a value. Times are in the cache's own
 * monotonic clock (`performance.now()` by default, handed to the store by {@link Store.init}), so
 * a store shared between processes persists remaining durations (`freshUntil - now`) rather than
 * these numbers — the Redis store does.
 * @example
 * ```ts
 * const hit: CacheEntry<string> = { kind: 'value', value: 'v', freshUntil: now + 5_000, staleUntil: now + 35_000, delta: 12 }
 * const miss: CacheEntry<string> = { kind: 'error', error: new Error('down'), freshUntil: now + 1_000, staleUntil: now + 1_000 }
 * ```
 */
export type CacheEntry<V> = ValueEntry<V> | ErrorEntry

/**
 * A loaded value (see {@link CacheEntry}).
 * @example
 * ```ts
 * if (entry.kind === 'value') return entry.value
 * ```
 */
export interface ValueEntry<V> {
  kind: 'value'
  value: V
  /** Until when the value is fresh. */
  freshUntil: number
  /** Until when it may still be served stale (stale-while-revalidate / stale-if-error / soft timeout). */
  staleUntil: number
  /** How long the load took, in ms (XFetch's `delta`). */
  delta: number
  /** After a failed refresh with a stale value kept: serve it without retrying until then. */
  retryAfter?: number
}

/**
 * A cached failure (`errorTtl`): callers reject with `error` until `freshUntil` (see {@link CacheEntry}).
 * @example
 * ```ts
 * if (entry.kind === 'error') throw entry.error
 * ```
 */
export interface ErrorEntry {
  kind: 'error'
  error: unknown
  freshUntil: number
  staleUntil: number
}

/**
 * What the cache hands its store once, when it is created (express-rate-limit's `Store.init`):
 * the cache's clock and its error (de)serializers, so users never pass them twice.
 * @example
 * ```ts
 * init({ now }) { this.now = now }
 * ```
 */
export interface StoreInitOptions {
  /** The cache's monotonic clock (ms). Entry times handed to the store are in this clock. */
  now: () => number
  /** How a loader's error crosses a process boundary (cache option `serializeError`). */
  serializeError: SerializeError
  /** How it is rebuilt on the other side (cache option `reviveError`). */
  reviveError: ReviveError
}

/**
 * The right to load a key across processes, granted by {@link Store.acquire}. The cache calls
 * exactly one of `commit` / `fail` when the load ends, whatever the outcome, and only once.
 * A store must make both fenced: a write whose lease was overtaken (a newer `set`/`delete`, or
 * the lease expired and another process took over) must not land.
 * @example
 * ```ts
 * const lease: Lease<string> = {
 *   commit: (value, entry, keepFor) => (entry ? redisWriteFenced(entry, keepFor) : undefined, publish({ value })),
 *   fail: (outcome, entry, keepFor) => (entry ? redisWriteFenced(entry, keepFor) : undefined, publish(outcome)),
 * }
 * ```
 */
export interface Lease<V> {
  /**
   * The load produced `value`. Write `entry` if given (it is absent when the loader set
   * `ctx.keep = false` or a `delete`/`set` overtook the load), free the lease, and hand `value`
   * to the processes waiting for it. Callers here settle after this settles.
   */
  commit(value: V, entry: ValueEntry<V> | undefined, keepFor: number): void | Promise<void>
  /**
   * The load did not produce a shareable value: `error` (serialize it for other processes),
   * `not-shared` (`ctx.share = false`: waiters elsewhere reject with `NotSharedError`), or
   * `abandoned` (nobody here wants it any more: another process may load). Write `entry` first
   * if given (negative caching, or a stale value's `retryAfter`), then free the lease and tell
   * the waiters.
   */
  fail(outcome: LeaseFailure, entry: CacheEntry<V> | undefined, keepFor: number): void | Promise<void>
}

/**
 * How a lease ended without a shareable value (see {@link Lease.fail}).
 * @example
 * ```ts
 * const outcome: LeaseFailure = { kind: 'error', error: new Error('origin down') }
 * ```
 */
export type LeaseFailure = { kind: 'error'; error: unknown } | { kind: 'not-shared' } | { kind: 'abandoned' }

/**
 * What {@link Store.acquire} decided for one process's miss.
 * - `lease`: this process loads, then commits or fails the lease;
 * - `entry`: someone else committed since the caller's read — use it, load nothing;
 * - `busy`: another process holds the lease — `wait` for its outcome;
 * - `local`: the store cannot coordinate right now (e.g. Redis down, fail-open) — load here and
 *   write nothing.
 * @example
 * ```ts
 * const acquired: Acquired<string> = { kind: 'busy', wait: (signal) => waitForLeader(key, signal) }
 * ```
 */
export type Acquired<V> =
  | { kind: 'lease'; lease: Lease<V> }
  | { kind: 'entry'; entry: CacheEntry<V> }
  | { kind: 'busy'; wait: (signal: AbortSignal) => Promise<LeaseWaitResult<V>> }
  | { kind: 'local' }

/**
 * What a process waiting on another's lease receives.
 * - `value`: the leader's value, handed over (kept in the store or not);
 * - `entry`: an entry read from the store (a value or a cached error);
 * - `error`: the leader's error, revived with `reviveError`;
 * - `not-shared`: the leader's outcome is private — reject with `NotSharedError`;
 * - `retry`: the lease is free again with no result (leader crashed, abandoned, fenced out) —
 *   acquire again.
 * @example
 * ```ts
 * const result: LeaseWaitResult<string> = { kind: 'error', error: reviveError({ name: 'Error', message: 'down' }) }
 * ```
 */
export type LeaseWaitResult<V> =
  | { kind: 'value'; value: V }
  | { kind: 'entry'; entry: CacheEntry<V> }
  | { kind: 'error'; error: unknown }
  | { kind: 'not-shared' }
  | { kind: 'retry' }

/**
 * Where a {@link SingleFlightCache} keeps its entries: the in-memory {@link MemoryStore} by
 * default, or your own. Methods may be synchronous or return promises. A store only stores:
 * freshness, coalescing, deadlines and errors are the cache's job. A store shared between
 * processes (the Redis store) also implements {@link Store.acquire}, the lease-shaped hook by
 * which the cache's single load path extends across processes.
 *
 * @example
 * ```ts
 * const store: Store<string, User> = {
 *   get: (key) => map.get(key),
 *   set: (key, entry) => void map.set(key, entry),
 *   delete: (key) => void map.delete(key),
 *   clear: () => map.clear(),
 * }
 * const cache = new SingleFlightCache<string, User>({ ttl: 5_000, store })
 * ```
 */
export interface Store<K, V> {
  /** Called once by the cache that uses this store, from its constructor. */
  init?(options: StoreInitOptions): void
  get(key: K): CacheEntry<V> | undefined | Promise<CacheEntry<V> | undefined>
  /** `keepFor`: how long (ms) the entry is worth keeping; a store may use it as its expiry. */
  set(key: K, entry: CacheEntry<V>, keepFor: number): void | Promise<void>
  delete(key: K): void | Promise<void>
  clear(): void | Promise<void>
  /**
   * Optional, for stores shared between processes: called on a miss (at most once per key per
   * process at a time — the cache coalesces callers inside a process) with the entry the cache
   * just read and decided on (`found`; `undefined` for none), so the store need not read it again.
   * It must decide atomically against `found`: if the stored entry is no longer the one the caller
   * read (another process committed meanwhile), answer `entry`; otherwise grant a `lease` if
   * nobody holds one, else `busy`.
   */
  acquire?(key: K, found: CacheEntry<V> | undefined, options: { signal: AbortSignal }): Promise<Acquired<V>>
}

/**
 * The default store: an LRU of at most `max` entries (lru-cache), so memory stays bounded however
 * many distinct keys pass through. Expired entries are dropped when read or evicted by the LRU.
 *
 * @example
 * ```ts
 * new SingleFlightCache({ ttl: 5_000, store: new MemoryStore({ max: 50_000 }) })
 * ```
 */
export class MemoryStore<K, V> implements Store<K, V> {
  private readonly lru: LRUCache<NonNullable<K>, CacheEntry<V>>

  constructor(options: { max: number }) {
    this.lru = new LRUCache<NonNullable<K>, CacheEntry<V>>({ max: options.max })
  }

  get(key: K): CacheEntry<V> | undefined {
    return this.lru.get(key as NonNullable<K>)
  }

  set(key: K, entry: CacheEntry<V>): void {
    this.lru.set(key as NonNullable<K>, entry)
  }

  delete(key: K): void {
    this.lru.delete(key as NonNullable<K>)
  }

  clear(): void {
    this.lru.clear()
  }

  /** Entries held right now. */
  get size(): number {
    return this.lru.size
  }
}
