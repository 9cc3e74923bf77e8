import { InvalidArgumentError } from './errors'
import { Flight } from './flight'
import { checkKey } from './keys'
import { checkFunction, checkWaitOptions, describe, type WaitOptions } from './options'
import { MemoryStore, type CacheEntry, type Store } from './store'
import { startTimer } from './wait-queue'
import { checkName, label, probes, publishLookup, traceLoad, type LoadTrace } from './diagnostics'

/**
 * What a loader receives. Set `ttl` to choose the entry's freshness from the value.
 * @example
 * ```ts
 * cache.getOrSet(host, async (ctx) => { const r = await resolve(ctx.key, { signal: ctx.signal }); ctx.ttl = r.ttl * 1000; return r.address })
 * ```
 */
export interface LoaderContext<K, V> {
  /** The key being loaded. */
  key: K
  /** Aborts only when the load is no longer wanted (see `abortLoaderWhenNoWaiters`). */
  signal: AbortSignal
  /** Freshness (ms) for the value being loaded; the loader may change it. */
  ttl: number
  /** The previous value, if one is still kept (stale). */
  staleValue: V | undefined
}

/**
 * Loads the value for a key; may return a value or a promise.
 * @example
 * ```ts
 * const load: Loader<string, User> = ({ key, signal }) => db.user(key, { signal })
 * ```
 */
export type Loader<K, V> = (context: LoaderContext<K, V>) => V | PromiseLike<V>

/**
 * How one `getOrSet` call was answered.
 * @example
 * ```ts
 * const status: { result?: CacheResult } = {}
 * await cache.getOrSet(key, load, { status })
 * res.setHeader('x-cache', status.result ?? 'miss')
 * ```
 */
export type CacheResult = 'hit' | 'stale' | 'miss' | 'coalesced'

/**
 * Per-call options of `getOrSet`: the wait options plus a `ttl` for a value loaded by this call.
 * @example
 * ```ts
 * await cache.getOrSet(key, load, { signal: req.signal, timeout: 2_000, ttl: 60_000 })
 * ```
 */
export interface GetOrSetOptions extends WaitOptions {
  /** Freshness (ms) of a value loaded by this call; overrides the cache's `ttl`. */
  ttl?: number | undefined
  /**
   * Filled in with how this call was answered: `hit` (fresh entry or cached error), `stale`
   * (stale-while-revalidate), `miss` (this call started the load) or `coalesced` (it joined one).
   */
  status?: { result?: CacheResult } | undefined
}

/**
 * Options of {@link SingleFlightCache}. All durations are milliseconds.
 * @example
 * ```ts
 * new SingleFlightCache({ ttl: 5_000, staleWhileRevalidate: 30_000, staleIfError: 300_000, max: 50_000 })
 * ```
 */
export interface SingleFlightCacheOptions<K, V> {
  /** A label for error messages and the `yieldpoint:cache` diagnostics channel. */
  name?: string
  /** How long a loaded value is fresh. Default `Infinity` (until evicted or deleted). */
  ttl?: number
  /** After `ttl`, serve the stale value at once and refresh it in the background, for this long. Default 0. */
  staleWhileRevalidate?: number
  /** After `ttl`, serve the stale value when a load fails, for this long. Default 0. */
  staleIfError?: number
  /**
   * Negative caching: remember a failed load for this long, so callers fail fast without calling
   * the loader (and, when a stale value is served on error, back off before retrying). Default 0 (off).
   */
  errorTtl?: number
  /** When a kept stale value exists and a load takes longer than this, serve the stale value. Default off. */
  softTimeout?: number
  /** Most entries kept by the default in-memory store (LRU). Default 10,000. Ignored with `store`. */
  max?: number
  /** XFetch early refresh: hot keys refresh before they expire. `beta` > 0, default 1 (higher = earlier). */
  earlyRefresh?: { beta?: number }
  /** Abort the loader's signal (and drop its result) when every waiting caller has left. Default false: the load completes and fills the cache. */
  abortLoaderWhenNoWaiters?: boolean
  /** Where entries live. Default: a {@link MemoryStore} bounded by `max`. */
  store?: Store<K, V>
  /**
   * Reject a loader that asks for its own key (directly or through other keys) with
   * {@link ReentrancyError} instead of deadlocking. Default true. It uses AsyncLocalStorage while
   * loads run, which on Node 20 slows every promise the process creates meanwhile; turn it off if
   * your loaders never call back into the same cache.
   */
  detectReentrancy?: boolean
  /** Monotonic clock in ms. Default `performance.now()`. */
  now?: () => number
  /** Random source for XFetch, in [0, 1). Default `Math.random`. */
  random?: () => number
}

/**
 * Counters since the cache was created.
 * @example
 * ```ts
 * const { hits, misses, coalesced } = cache.stats()
 * const hitRatio = hits / (hits + misses + coalesced)
 * ```
 */
export interface SingleFlightCacheStats {
  /** Calls answered from a fresh entry (or a cached error). */
  hits: number
  /** Calls that found no usable entry and started a load. */
  misses: number
  /** Calls that found no usable entry and joined a load already running. */
  coalesced: number
  /** Loader invocations (foreground and background). */
  loads: number
  /** Calls answered with a stale value (stale-while-revalidate, stale-if-error, soft timeout). */
  staleServed: number
  /** Loads that failed. */
  errors: number
}

class CacheFlight<V> extends Flight<V> {
  /** delete/set/clear happened during the load: its result must not be stored. */
  discarded = false
  /** A refresh started while the entry was still servable (SWR, XFetch): callers read the store. */
  background = false
  /** The stale entry kept when the load started (for softTimeout and staleIfError). */
  stale: CacheEntry<V> | undefined = undefined
  /** Diagnostics of this load, only while someone listens. */
  trace: LoadTrace | undefined = undefined
}

const isThenable = <T>(value: unknown): value is PromiseLike<T> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<T>).then === 'function'

/**
 * A stampede-proof cache: one load per key per burst, however many callers miss at once.
 *
 * - **Hits never wait**; concurrent misses share one load (`coalesced`), and every caller can
 *   leave on its own `signal`/`timeout` without affecting the others.
 * - **Errors are shared, not cached** (tokio's `get_or_try_init`): the burst's callers all get
 *   the same error from one load, and the next call retries — no convoy of serial retries.
 *   `errorTtl` turns on negative caching.
 * - **Staleness**: `staleWhileRevalidate` serves the stale value at once and runs exactly one
 *   background refresh; `staleIfError` serves it when the load fails; `softTimeout` serves it
 *   when the load is slow; `earlyRefresh` (XFetch) refreshes hot keys before they expire.
 * - `delete`, `set` and `clear` during a load win over its late result. Memory is bounded (`max`,
 *   LRU), eviction never loses a load, TTLs use a monotonic clock, and a loader that asks for its
 *   own key rejects with {@link ReentrancyError} instead of deadlocking.
 *
 * Keys follow the {@link KeyedLock} rule (Map semantics; plain objects and arrays rejected).
 *
 * @example
 * ```ts
 * const products = new SingleFlightCache<string, Product>({ ttl: 5_000, staleWhileRevalidate: 30_000 })
 * app.get('/products/:id', async (req, res) => {
 *   res.json(await products.getOrSet(req.params.id, ({ key, signal }) => db.product(key, { signal })))
 * })
 * ```
 */
export class SingleFlightCache<K = string, V = unknown> {
  private readonly flights = new Map<K, CacheFlight<V>>()
  /** Store reads in progress (async stores): concurrent callers of a key share one read. */
  private readonly reads = new Map<K, Promise<CacheEntry<V> | undefined>>()
  private readonly store: Store<K, V>
  private readonly memoryStore: boolean
  private readonly ttl: number
  private readonly swr: number
  private readonly sie: number
  private readonly errorTtl: number
  private readonly softTimeout: number | undefined
  private readonly beta: number | undefined
  private readonly abortWhenAbandoned: boolean
  private readonly detectReentrancy: boolean
  private readonly now: () => number
  private readonly random: () => number
  private readonly counters: SingleFlightCacheStats = { hits: 0, misses: 0, coalesced: 0, loads: 0, staleServed: 0, errors: 0 }
  /** The `name` option: labels messages and `yieldpoint:cache` payloads. */
  readonly name: string | undefined
  private readonly api: string

  /** @throws {@link InvalidArgumentError} for a negative or non-numeric duration, `max < 1`, `beta <= 0`. */
  constructor(options: SingleFlightCacheOptions<K, V> = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError(`SingleFlightCache: options must be an object like { ttl: 5_000 }, got ${describe(options)}.`)
    }
    this.name = checkName(options.name, 'SingleFlightCache')
    this.api = label('SingleFlightCache', this.name, 'getOrSet()')
    this.ttl = duration(options.ttl, 'ttl', Infinity)
    this.swr = duration(options.staleWhileRevalidate, 'staleWhileRevalidate', 0)
    this.sie = duration(options.staleIfError, 'staleIfError', 0)
    this.errorTtl = duration(options.errorTtl, 'errorTtl', 0)
    this.softTimeout = options.softTimeout === undefined ? undefined : duration(options.softTimeout, 'softTimeout', 0)
    if (options.earlyRefresh !== undefined) {
      const beta = options.earlyRefresh?.beta ?? 1
      if (typeof beta !== 'number' || !(beta > 0) || !Number.isFinite(beta)) {
        throw new InvalidArgumentError(`SingleFlightCache: earlyRefresh.beta must be a number > 0 (1 is the XFetch default; higher refreshes earlier), got ${describe(beta)}.`)
      }
      this.beta = beta
    }
    const max = options.max ?? 10_000
    if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1) {
      throw new InvalidArgumentError(`SingleFlightCache: max must be an integer >= 1 (the most entries kept in memory), got ${describe(max)}.`)
    }
    for (const fn of ['now', 'random'] as const) {
      if (options[fn] !== undefined) checkFunction(options[fn], 'SingleFlightCache', `options.${fn}`)
    }
    if (options.store !== undefined) {
      const s = options.store as unknown as Record<string, unknown>
      if (s === null || typeof s !== 'object' || !['get', 'set', 'delete', 'clear'].every((m) => typeof s[m] === 'function')) {
        throw new InvalidArgumentError('SingleFlightCache: options.store must implement get, set, delete and clear (see the Store interface).')
      }
    }
    this.store = options.store ?? new MemoryStore<K, V>({ max })
    this.memoryStore = this.store instanceof MemoryStore
    this.abortWhenAbandoned = options.abortLoaderWhenNoWaiters === true
    this.detectReentrancy = options.detectReentrancy !== false
    this.now = options.now ?? (() => performance.now())
    this.random = options.random ?? Math.random
  }

  /**
   * Returns the cached value for `key`, or loads it with `loader` — once, however many callers
   * ask at the same time.
   * @throws {@link InvalidArgumentError} synchronously for an invalid key, a non-function loader or bad options.
   */
  getOrSet(key: K, loader: Loader<K, V>, opts?: GetOrSetOptions): Promise<V> {
    checkKey(key, this.api)
    checkFunction(loader, 'SingleFlightCache.getOrSet', 'loader')
    if (opts !== undefined) {
      if (opts.ttl !== undefined) duration(opts.ttl, 'getOrSet() ttl', 0)
      if (checkWaitOptions(opts, this.api)) return Promise.reject(opts.signal!.reason)
    }
    // A load for a missing key is running here: join it without reading the store or the clock
    // (with a remote store, only one caller per process talks to it per flight). `size` first,
    // so a hit pays one property read for this.
    if (this.flights.size !== 0) {
      const running = this.flights.get(key)
      if (running !== undefined && !running.background) return this.join(key, running, running.stale, opts)
    }
    // The in-memory store answers at once: read it, hits stay on the shortest path.
    if (this.memoryStore) return this.decide(key, (this.store as MemoryStore<K, V>).get(key), loader, opts)
    const reading = this.reads.get(key)
    if (reading !== undefined) return reading.then((entry) => this.decide(key, entry, loader, opts))
    const found = this.store.get(key)
    if (!isThenable<CacheEntry<V> | undefined>(found)) return this.decide(key, found, loader, opts)
    const read = Promise.resolve(found)
    this.reads.set(key, read)
    const done = (): void => {
      if (this.reads.get(key) === read) this.reads.delete(key)
    }
    read.then(done, done)
    return read.then((entry) => this.decide(key, entry, loader, opts))
  }

  /** The value if it can be served without loading (fresh, or stale within `staleWhileRevalidate`). */
  async get(key: K): Promise<V | undefined> {
    checkKey(key, 'SingleFlightCache.get()')
    const entry = await this.store.get(key)
    if (entry === undefined || 'error' in entry) return undefined
    return this.now() < entry.freshUntil + this.swr ? entry.value : undefined
  }

  /** Stores `value` (fresh for `ttl`, default the cache's); a load running for `key` will not overwrite it. */
  async set(key: K, value: V, opts?: { ttl?: number }): Promise<void> {
    checkKey(key, 'SingleFlightCache.set()')
    const ttl = opts?.ttl === undefined ? this.ttl : duration(opts.ttl, 'set() ttl', 0)
    this.discardFlight(key)
    const now = this.now()
    await this.store.set(key, this.entry(value, now, ttl, 0), this.keepFor(ttl))
  }

  /** Removes `key`; a load running for it will not write its result back. */
  async delete(key: K): Promise<void> {
    checkKey(key, 'SingleFlightCache.delete()')
    this.discardFlight(key)
    await this.store.delete(key)
  }

  /** Removes every entry; running loads will not write their results back. */
  async clear(): Promise<void> {
    for (const flight of this.flights.values()) flight.discarded = true
    this.flights.clear()
    await this.store.clear()
  }

  /** A copy of the counters. */
  stats(): SingleFlightCacheStats {
    return { ...this.counters }
  }

  /** Number of loads running. */
  get inFlight(): number {
    return this.flights.size
  }

  private decide(key: K, found: CacheEntry<V> | undefined, loader: Loader<K, V>, opts: GetOrSetOptions | undefined): Promise<V> {
    const now = this.now()
    let stale: CacheEntry<V> | undefined
    if (found !== undefined) {
      if ('error' in found) {
        if (now < found.freshUntil) {
          this.counters.hits++
          if (opts?.status) opts.status.result = 'hit'
          if (probes.cache.active) publishLookup(probes.cache, 'SingleFlightCache', this.name, 'hit', key)
          return Promise.reject(found.error)
        }
      } else if (now < found.freshUntil) {
        this.counters.hits++
        if (opts?.status) opts.status.result = 'hit'
        if (probes.cache.active) publishLookup(probes.cache, 'SingleFlightCache', this.name, 'hit', key)
        if (this.beta !== undefined && !this.flights.has(key) && now - found.delta * this.beta * Math.log(1 - this.random()) >= found.freshUntil) {
          this.startFlight(key, loader, found, undefined, true)
        }
        return Promise.resolve(found.value)
      } else if (now < found.staleUntil) {
        const backingOff = found.retryAfter !== undefined && now < found.retryAfter
        if (now < found.freshUntil + this.swr || backingOff) {
          this.counters.staleServed++
          if (opts?.status) opts.status.result = 'stale'
          if (probes.cache.active) publishLookup(probes.cache, 'SingleFlightCache', this.name, 'stale', key)
          if (!backingOff && !this.flights.has(key)) this.startFlight(key, loader, found, undefined, true)
          return Promise.resolve(found.value)
        }
        stale = found
      } else if (this.store instanceof MemoryStore) {
        this.store.delete(key)
      }
    }
    const flight = this.flights.get(key)
    if (flight !== undefined) return this.join(key, flight, stale, opts)
    this.counters.misses++
    if (opts?.status) opts.status.result = 'miss'
    if (probes.cache.active) publishLookup(probes.cache, 'SingleFlightCache', this.name, 'miss', key)
    return this.wait(this.startFlight(key, loader, stale, opts?.ttl, false), stale, opts)
  }

  private join(key: K, flight: CacheFlight<V>, stale: CacheEntry<V> | undefined, opts: GetOrSetOptions | undefined): Promise<V> {
    const reentry = this.detectReentrancy ? flight.reentered(this.api, key) : undefined
    if (reentry !== undefined) return reentry
    this.counters.coalesced++
    if (opts?.status) opts.status.result = 'coalesced'
    if (probes.cache.active) publishLookup(probes.cache, 'SingleFlightCache', this.name, 'coalesced', key)
    return this.wait(flight, stale, opts)
  }

  private wait(flight: CacheFlight<V>, stale: CacheEntry<V> | undefined, opts: WaitOptions | undefined): Promise<V> {
    const joined = flight.join(opts)
    const soft = this.softTimeout
    if (soft === undefined || stale === undefined || flight.state !== 0) return joined
    return new Promise<V>((resolve, reject) => {
      let done = false
      const timer = startTimer(soft, () => {
        if (done) return
        done = true
        this.counters.staleServed++
        resolve(stale.value)
      })
      joined.then(
        (value) => {
          if (done) return
          done = true
          timer.clear()
          resolve(value)
        },
        (error: unknown) => {
          if (done) return
          done = true
          timer.clear()
          reject(error)
        },
      )
    })
  }

  private startFlight(key: K, loader: Loader<K, V>, stale: CacheEntry<V> | undefined, ttl: number | undefined, background: boolean): CacheFlight<V> {
    const flight = new CacheFlight<V>(this.api, this.abortWhenAbandoned && !background, (f) => this.dropFlight(key, f as CacheFlight<V>))
    flight.background = background
    flight.stale = stale
    this.flights.set(key, flight)
    this.counters.loads++
    if (probes.cache.active) flight.trace = traceLoad(probes.cache, 'SingleFlightCache', this.name, key, background)
    const context: LoaderContext<K, V> = { key, signal: flight.controller.signal, ttl: ttl ?? this.ttl, staleValue: stale?.value }
    const started = this.now()
    const distributed = this.store.load
    if (distributed === undefined) {
      flight.start(() => loader(context), this.detectReentrancy).then(
        (value) => this.loaded(key, flight, value, context.ttl, started),
        (error: unknown) => this.failed(key, flight, error, stale),
      )
      return flight
    }
    // The store coordinates the load across processes and writes the result itself.
    const loadHere = async (): Promise<CacheEntry<V>> => {
      const value = await loader(context)
      const invalid = loaderTtlError(context.ttl)
      if (invalid) throw invalid
      const now = this.now()
      return this.entry(value, now, context.ttl, now - started)
    }
    flight.start(() => distributed.call(this.store, key, loadHere, { signal: flight.controller.signal }), this.detectReentrancy).then(
      (entry) => {
        flight.trace?.ended(flight.waiting)
        flight.fulfill(entry.value)
        this.dropFlight(key, flight)
      },
      (error: unknown) => this.failed(key, flight, error, stale),
    )
    return flight
  }

  private loaded(key: K, flight: CacheFlight<V>, value: V, ttl: number, started: number): void {
    flight.trace?.ended(flight.waiting)
    if (flight.controller.signal.aborted && this.flights.get(key) !== flight) return // abandoned by every caller
    const invalid = loaderTtlError(ttl)
    if (invalid) return this.failed(key, flight, invalid, undefined)
    const now = this.now()
    flight.fulfill(value)
    if (flight.discarded) return this.dropFlight(key, flight)
    const written = this.store.set(key, this.entry(value, now, ttl, now - started), this.keepFor(ttl))
    // The flight stays joinable until the write lands, so nobody reloads in that gap.
    if (isThenable(written)) Promise.resolve(written).then(() => this.dropFlight(key, flight), () => this.dropFlight(key, flight))
    else this.dropFlight(key, flight)
  }

  private failed(key: K, flight: CacheFlight<V>, error: unknown, stale: CacheEntry<V> | undefined): void {
    flight.trace?.failed(error, flight.waiting)
    this.counters.errors++
    const now = this.now()
    const serveStale = stale !== undefined && now < stale.freshUntil + Math.max(this.sie, this.swr)
    if (serveStale) {
      this.counters.staleServed += flight.waiting
      flight.fulfill(stale.value)
    } else {
      flight.fail(error)
    }
    if (!flight.discarded && this.errorTtl > 0) {
      const entry: CacheEntry<V> = serveStale
        ? { ...stale, retryAfter: now + this.errorTtl }
        : { value: undefined as V, error, freshUntil: now + this.errorTtl, staleUntil: now + this.errorTtl, delta: 0 }
      const written = this.store.set(key, entry, serveStale ? Math.max(0, stale.staleUntil - now) : this.errorTtl)
      if (isThenable(written)) Promise.resolve(written).catch(() => {})
    }
    this.dropFlight(key, flight)
  }

  private entry(value: V, now: number, ttl: number, delta: number): CacheEntry<V> {
    return { value, freshUntil: now + ttl, staleUntil: now + ttl + Math.max(this.swr, this.sie), delta }
  }

  private keepFor(ttl: number): number {
    return ttl + Math.max(this.swr, this.sie)
  }

  private discardFlight(key: K): void {
    const flight = this.flights.get(key)
    if (flight === undefined) return
    flight.discarded = true
    this.flights.delete(key)
  }

  private dropFlight(key: K, flight: CacheFlight<V>): void {
    if (this.flights.get(key) === flight) this.flights.delete(key)
  }
}

/** The error for a loader that set `context.ttl` to something that is not a duration. */
function loaderTtlError(ttl: unknown): InvalidArgumentError | undefined {
  if (typeof ttl === 'number' && !Number.isNaN(ttl) && ttl >= 0) return undefined
  return new InvalidArgumentError(`SingleFlightCache: the loader set context.ttl to ${describe(ttl)}; it must be a number of milliseconds >= 0.`)
}

function duration(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(`SingleFlightCache: ${name} must be a number of milliseconds >= 0 (Infinity for no limit), got ${describe(value)}.`)
  }
  return value
}
