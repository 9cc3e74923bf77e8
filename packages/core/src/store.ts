import { LRUCache } from 'lru-cache'

/**
 * What a {@link SingleFlightCache} keeps per key (see {@link Store} for an example of a store
 * holding them). Times are in the cache's own monotonic clock
 * (`performance.now()` by default), so a store shared between processes must persist remaining
 * durations (`freshUntil - now`) rather than these numbers — the Redis store does.
 */
export interface CacheEntry<V> {
  /** The cached value (absent for a cached error). */
  value: V
  /** Until when the value is fresh. */
  freshUntil: number
  /** Until when it may still be served stale (stale-while-revalidate / stale-if-error / soft timeout). */
  staleUntil: number
  /** How long the load took, in ms (XFetch's `delta`). */
  delta: number
  /** A cached failure (`errorTtl`): callers reject with it until `freshUntil`. */
  error?: unknown
  /** After a failed refresh with a stale value kept: serve it without retrying until then. */
  retryAfter?: number
}

/**
 * Where a {@link SingleFlightCache} keeps its entries: the in-memory {@link MemoryStore} by
 * default, or your own (the Redis backend plugs in here). Methods may be synchronous or return
 * promises. A store only stores: freshness, coalescing and errors are the cache's job.
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
  /**
   * Optional: run `load` at most once across every process sharing this store (a distributed
   * single-flight). The cache calls it on a miss instead of calling its loader directly; it
   * resolves with the entry — loaded here (and written by the store itself, fenced) or by another
   * process — or rejects with the load's error. The cache already coalesces callers inside one
   * process, so it is called at most once per key per process at a time.
   */
  load?(key: K, load: () => Promise<CacheEntry<V>>, options: { signal: AbortSignal }): Promise<CacheEntry<V>>
  get(key: K): CacheEntry<V> | undefined | Promise<CacheEntry<V> | undefined>
  /** `keepFor`: how long (ms) the entry is worth keeping; a store may use it as its expiry. */
  set(key: K, entry: CacheEntry<V>, keepFor: number): void | Promise<void>
  delete(key: K): void | Promise<void>
  clear(): void | Promise<void>
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
