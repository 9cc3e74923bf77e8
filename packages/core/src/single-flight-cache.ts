import { InvalidArgumentError, NotSharedError, TimeoutError } from './errors'
import { Flight } from './flight'
import { reentrancyDetection } from './reentrancy'
import { checkKey } from './keys'
import { checkFunction, checkWaitOptions, describe, type WaitOptions } from './options'
import { defaultReviveError, defaultSerializeError, type ReviveError, type SerializeError } from './remote-error'
import type { Coalescer, RunContext } from './single-flight'
import { MemoryStore, type Acquired, type CacheEntry, type Lease, type LeaseWaitResult, type Store, type ValueEntry } from './store'
import { startTimer } from './wait-queue'
import { deadlineSignal } from './deadline'
import { checkName, label, probes, publishLookup, traceLoad, type LoadTrace } from './diagnostics'

/**
 * What a loader receives. Set `ttl` to choose the entry's freshness from the value, and
 * `keep` / `share` to declare what may happen to the outcome (instead of throwing to say so).
 * @example
 * ```ts
 * cache.getOrSet(url, async (ctx) => {
 *   const res = await fetch(url, { signal: ctx.signal })
 *   if (res.headers.has('set-cookie')) ctx.share = false // this user's response: nobody else gets it
 *   else if (!res.ok) ctx.keep = false // give the 404 to the requests waiting now, but don't cache it
 *   return { status: res.status, body: await res.text() }
 * })
 * ```
 */
export interface LoaderContext<K, V> extends RunContext {
  /** The key being loaded. */
  key: K
  /**
   * Aborts when the load is no longer wanted: its `loadTimeout` passed (reason: a
   * `TimeoutError`), or every caller left with `abortLoaderWhenNoWaiters`.
   */
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
  /** Where entries live. Default: a {@link MemoryStore} bounded by `max`. The cache calls its `init` once, with its clock and error (de)serializers. */
  store?: Store<K, V>
  /**
   * Reject a loader that asks for its own key (directly or through other keys) with
   * {@link ReentrancyError} instead of deadlocking. It uses AsyncLocalStorage while loads run.
   * Default: on where that is cheap — Node >= 24 (AsyncContextFrame) — and off on Node 20 and 22,
   * where async_hooks slows every promise the process creates meanwhile (measured 1.35–4.5× per
   * coalesced caller); there `loadTimeout` turns a re-entrant wait into an error. `true` forces it
   * on any Node; `false` turns it off.
   */
  detectReentrancy?: boolean
  /**
   * A load's deadline (ms): when it passes, the loader's signal aborts with a `TimeoutError`,
   * the callers waiting for that load reject with it (or get the stale value, per
   * `staleIfError`), and the key is free for the next caller — so a loader that never settles
   * cannot pin its key. Until then, callers that arrive join the running load even if every
   * earlier caller has left (SF-16). Covers the whole load, including the store write and, with a
   * remote store, waiting for another process. Default 60,000 (an HTTP upstream's usual read
   * timeout); `Infinity` for none.
   */
  loadTimeout?: number
  /**
   * How a loader's error is sent to other processes by a remote store. Default
   * {@link defaultSerializeError}: `name`, `message`, `code`, `status`, `statusCode`.
   */
  serializeError?: SerializeError
  /**
   * How another process's error is rebuilt here. Default {@link defaultReviveError}: a
   * {@link RemoteError} with the same name, message, code and status — so an HTTP 404 stays a
   * 404. Adapters provide richer ones (`@yieldpoint/nestjs`'s `reviveHttpException`).
   */
  reviveError?: ReviveError
  /** Monotonic clock in ms. Default `performance.now()`. It is handed to the store (`Store.init`). */
  now?: () => number
  /** Random source for XFetch, in [0, 1). Default `Math.random`. */
  random?: () => number
}

/**
 * What `SingleFlightCache.statistics()` returns: counters since the cache was created, and the
 * loads running now.
 * @example
 * ```ts
 * const { hits, misses, coalesced, inFlight } = cache.statistics()
 * const hitRatio = hits / (hits + misses + coalesced)
 * ```
 */
export interface SingleFlightCacheStatistics {
  /** Loads running now. */
  inFlight: number
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

class CacheFlight<K, V> extends Flight<V> {
  /** delete/set/clear happened during the load: its result must not be stored. */
  discarded = false
  /** A refresh started while the entry was still servable (SWR, XFetch): callers read the store. */
  background = false
  /** Committed, failed or expired: whatever the loader does later is ignored. */
  done = false
  /** The stale entry kept when the load started (for softTimeout and staleIfError). */
  stale: CacheEntry<V> | undefined = undefined
  /** The remote store's lease, while this process holds it. */
  lease: Lease<V> | undefined = undefined
  /** Diagnostics of this load, only while someone listens. */
  trace: LoadTrace | undefined = undefined
  /** The store cannot take writes now (`acquire` answered `local`): load here, write nothing. */
  local = false
  /** `loadTimeout`'s timer, cleared when the load's outcome has been written and delivered. */
  deadline: { clear(): void } | undefined = undefined
  /** Every caller left and `abortLoaderWhenNoWaiters` aborted the load: its outcome goes nowhere. */
  abandoned = false
  started = 0
  context!: LoaderContext<K, V>
}

/** How a load ended, in this process or another: the one input of {@link SingleFlightCache.settle}. */
type Outcome<V> =
  /** This process's loader returned `value`. */
  | { kind: 'loaded'; value: V }
  /** This process's loader (or its deadline, or the store) failed. */
  | { kind: 'failed'; error: unknown }
  /** Another process's outcome, handed over by the store: nothing to write. */
  | { kind: 'remote'; result: LeaseWaitResult<V> }

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
 * - **Loads are bounded**: `loadTimeout` (default 60 s) aborts a loader that never settles and
 *   frees its key.
 * - **Outcomes, not exceptions**: a loader sets `ctx.keep = false` (share with the callers
 *   waiting now, don't store) or `ctx.share = false` (only the caller that started the load gets
 *   it; the others reject with {@link NotSharedError}) — honoured across processes too.
 * - **Staleness**: `staleWhileRevalidate` serves the stale value at once and runs exactly one
 *   background refresh; `staleIfError` serves it when the load fails; `softTimeout` serves it
 *   when the load is slow; `earlyRefresh` (XFetch) refreshes hot keys before they expire.
 * - `delete`, `set` and `clear` during a load win over its late result. Memory is bounded (`max`,
 *   LRU), eviction never loses a load, TTLs use a monotonic clock, and a loader that asks for its
 *   own key rejects with {@link ReentrancyError} instead of deadlocking.
 * - **One load path, whatever the store**: a load is started, committed or failed in one place
 *   here; a store shared between processes takes part through its lease hook
 *   ({@link Store.acquire}), never with a single-flight of its own.
 *
 * Keys follow the {@link KeyedLock} rule (Map semantics; plain objects and arrays rejected).
 * `run(key, fn, opts)` makes it a {@link Coalescer}, like {@link SingleFlight}.
 *
 * @example
 * ```ts
 * const products = new SingleFlightCache<string, Product>({ ttl: 5_000, staleWhileRevalidate: 30_000 })
 * app.get('/products/:id', async (req, res) => {
 *   res.json(await products.getOrSet(req.params.id, ({ key, signal }) => db.product(key, { signal })))
 * })
 * ```
 */
export class SingleFlightCache<K = string, V = unknown> implements Coalescer<K, V> {
  private readonly flights = new Map<K, CacheFlight<K, V>>()
  /** Store reads in progress (async stores): concurrent callers of a key share one read. */
  private readonly reads = new Map<K, Promise<CacheEntry<V> | undefined>>()
  private readonly store: Store<K, V>
  private readonly memoryStore: boolean
  private readonly ttl: number
  private readonly swr: number
  private readonly sie: number
  private readonly errorTtl: number
  private readonly softTimeout: number | undefined
  private readonly loadTimeout: number
  private readonly beta: number | undefined
  private readonly abortWhenAbandoned: boolean
  private readonly detectReentrancy: boolean
  private readonly now: () => number
  private readonly random: () => number
  private readonly counters: Omit<SingleFlightCacheStatistics, 'inFlight'> = { hits: 0, misses: 0, coalesced: 0, loads: 0, staleServed: 0, errors: 0 }
  /** The `name` option: labels messages and `yieldpoint:cache` payloads. */
  readonly name: string | undefined
  private readonly api: string

  /** @throws {@link InvalidArgumentError} for a negative or non-numeric duration, `max < 1`, `beta <= 0`, a store without get/set/delete/clear. */
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
    this.loadTimeout = duration(options.loadTimeout, 'loadTimeout', 60_000)
    if (this.loadTimeout === 0) {
      throw new InvalidArgumentError('SingleFlightCache: loadTimeout must be > 0 ms (a load needs time to run; Infinity for no deadline), got 0.')
    }
    if (options.earlyRefresh !== undefined) {
      const beta = options.earlyRefresh?.beta ?? 1
      if (typeof beta !== 'number' || !(beta > 0) || !Number.isFinite(beta)) {
        throw new InvalidArgumentError(
          `SingleFlightCache: earlyRefresh.beta must be a number > 0 (1 is the XFetch default; higher refreshes earlier), got ${describe(beta)}.`,
        )
      }
      this.beta = beta
    }
    const max = options.max ?? 10_000
    if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1) {
      throw new InvalidArgumentError(`SingleFlightCache: max must be an integer >= 1 (the most entries kept in memory), got ${describe(max)}.`)
    }
    for (const fn of ['now', 'random', 'serializeError', 'reviveError'] as const) {
      if (options[fn] !== undefined) checkFunction(options[fn], 'SingleFlightCache', `options.${fn}`)
    }
    if (options.store !== undefined) {
      const s = options.store as unknown as Record<string, unknown>
      if (s === null || typeof s !== 'object' || !['get', 'set', 'delete', 'clear'].every((m) => typeof s[m] === 'function')) {
        throw new InvalidArgumentError('SingleFlightCache: options.store must implement get, set, delete and clear (see the Store interface).')
      }
      for (const m of ['init', 'acquire'] as const) {
        if (s[m] !== undefined && typeof s[m] !== 'function')
          throw new InvalidArgumentError(`SingleFlightCache: options.store.${m} must be a method when present (see the Store interface).`)
      }
    }
    this.store = options.store ?? new MemoryStore<K, V>({ max })
    this.memoryStore = this.store instanceof MemoryStore
    this.abortWhenAbandoned = options.abortLoaderWhenNoWaiters === true
    this.detectReentrancy = reentrancyDetection(options.detectReentrancy)
    this.now = options.now ?? (() => performance.now())
    this.random = options.random ?? Math.random
    // One clock and one error format for cache and store, handed over once (express-rate-limit's Store.init).
    this.store.init?.({
      now: this.now,
      serializeError: options.serializeError ?? defaultSerializeError,
      reviveError: options.reviveError ?? defaultReviveError,
    })
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
    if (reading !== undefined) return this.afterRead(key, reading, loader, opts)
    let found: CacheEntry<V> | undefined | Promise<CacheEntry<V> | undefined>
    try {
      found = this.store.get(key)
    } catch (error) {
      return Promise.reject(error) // a throwing store rejects this call; nothing is left behind
    }
    if (!isThenable<CacheEntry<V> | undefined>(found)) return this.decide(key, found, loader, opts)
    const read = Promise.resolve(found)
    this.reads.set(key, read)
    const done = (): void => {
      if (this.reads.get(key) === read) this.reads.delete(key)
    }
    read.then(done, done)
    return this.afterRead(key, read, loader, opts)
  }

  /**
   * Decides once the store's read answers. The caller's `signal`/`timeout` count from its call,
   * so they cover the read too: a hung store (a paused Redis) cannot hold a caller past its
   * timeout. One deadline for the whole call: the read, then the wait for the load.
   */
  private afterRead(key: K, read: Promise<CacheEntry<V> | undefined>, loader: Loader<K, V>, opts: GetOrSetOptions | undefined): Promise<V> {
    if (opts === undefined || (opts.signal === undefined && (opts.timeout === undefined || opts.timeout === Infinity))) {
      return read.then((entry) => this.decide(key, entry, loader, opts))
    }
    const { signal, dispose } = deadlineSignal(opts, this.api)
    const deadline = signal as AbortSignal // defined: a signal or a finite timeout was given
    return new Promise<V>((resolve, reject) => {
      const onAbort = (): void => {
        dispose()
        reject(deadline.reason)
      }
      deadline.addEventListener('abort', onAbort, { once: true })
      read.then(
        (entry) => {
          if (deadline.aborted) return // the caller left already
          deadline.removeEventListener('abort', onAbort)
          const decided = this.decide(key, entry, loader, { ...opts, signal: deadline, timeout: undefined })
          decided.then(dispose, dispose)
          resolve(decided)
        },
        (error: unknown) => {
          if (deadline.aborted) return
          deadline.removeEventListener('abort', onAbort)
          dispose()
          reject(error)
        },
      )
    })
  }

  /**
   * {@link Coalescer} form of {@link getOrSet}: `fn` receives the load's signal and its context
   * (`keep`, `share`), so adapters can take a `SingleFlight` or a cache alike.
   * @example
   * ```ts
   * const coalescer: Coalescer<string, Page> = cache
   * await coalescer.run(url, (signal) => render(url, { signal }), { timeout: 2_000 })
   * ```
   */
  run(key: K, fn: (signal: AbortSignal, context: RunContext) => V | PromiseLike<V>, opts?: GetOrSetOptions): Promise<V> {
    checkFunction(fn, 'SingleFlightCache.run', 'fn')
    return this.getOrSet(key, (context) => fn(context.signal, context), opts)
  }

  /** The value if it can be served without loading (fresh, or stale within `staleWhileRevalidate`). */
  async get(key: K): Promise<V | undefined> {
    checkKey(key, 'SingleFlightCache.get()')
    const entry = await this.store.get(key)
    if (entry === undefined || entry.kind !== 'value') return undefined
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

  /** A snapshot for logs and metrics: a copy of the counters, and the loads running now. */
  statistics(): SingleFlightCacheStatistics {
    return { inFlight: this.flights.size, ...this.counters }
  }

  private decide(key: K, found: CacheEntry<V> | undefined, loader: Loader<K, V>, opts: GetOrSetOptions | undefined): Promise<V> {
    const now = this.now()
    let stale: CacheEntry<V> | undefined
    if (found !== undefined) {
      if (found.kind === 'error') {
        if (now < found.freshUntil) {
          this.counters.hits++
          if (opts?.status) opts.status.result = 'hit'
          if (probes.cache.on) publishLookup(probes.cache, 'SingleFlightCache', this.name, 'hit', key)
          return Promise.reject(found.error)
        }
      } else if (now < found.freshUntil) {
        this.counters.hits++
        if (opts?.status) opts.status.result = 'hit'
        if (probes.cache.on) publishLookup(probes.cache, 'SingleFlightCache', this.name, 'hit', key)
        if (this.beta !== undefined && !this.flights.has(key) && now - found.delta * this.beta * Math.log(1 - this.random()) >= found.freshUntil) {
          this.startFlight(key, loader, found, found, undefined, true)
        }
        return Promise.resolve(found.value)
      } else if (now < found.staleUntil) {
        const backingOff = found.retryAfter !== undefined && now < found.retryAfter
        if (now < found.freshUntil + this.swr || backingOff) {
          this.counters.staleServed++
          if (opts?.status) opts.status.result = 'stale'
          if (probes.cache.on) publishLookup(probes.cache, 'SingleFlightCache', this.name, 'stale', key)
          if (!backingOff && !this.flights.has(key)) this.startFlight(key, loader, found, found, undefined, true)
          return Promise.resolve(found.value)
        }
        stale = found
      } else if (this.memoryStore) {
        this.store.delete(key)
      }
    }
    const flight = this.flights.get(key)
    if (flight !== undefined) return this.join(key, flight, stale, opts)
    this.counters.misses++
    if (opts?.status) opts.status.result = 'miss'
    if (probes.cache.on) publishLookup(probes.cache, 'SingleFlightCache', this.name, 'miss', key)
    return this.wait(this.startFlight(key, loader, found, stale, opts?.ttl, false), stale, opts, true)
  }

  private join(key: K, flight: CacheFlight<K, V>, stale: CacheEntry<V> | undefined, opts: GetOrSetOptions | undefined): Promise<V> {
    const reentry = this.detectReentrancy ? flight.reentered(this.api, key) : undefined
    if (reentry !== undefined) return reentry
    this.counters.coalesced++
    if (opts?.status) opts.status.result = 'coalesced'
    if (probes.cache.on) publishLookup(probes.cache, 'SingleFlightCache', this.name, 'coalesced', key)
    return this.wait(flight, stale, opts, false)
  }

  private wait(flight: CacheFlight<K, V>, stale: CacheEntry<V> | undefined, opts: WaitOptions | undefined, leader: boolean): Promise<V> {
    const joined = leader ? flight.joinAsLeader(opts) : flight.join(opts)
    const soft = this.softTimeout
    if (soft === undefined || stale === undefined || stale.kind !== 'value' || flight.state !== 0) return joined
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

  /**
   * Starts the one load of `key` in this process. Whatever the store, it ends in
   * {@link settle} exactly once: the loader's value or error, the deadline, a store failure, or
   * (remote store) another process's outcome.
   */
  private startFlight(
    key: K,
    loader: Loader<K, V>,
    found: CacheEntry<V> | undefined,
    stale: CacheEntry<V> | undefined,
    ttl: number | undefined,
    background: boolean,
  ): CacheFlight<K, V> {
    const flight = new CacheFlight<K, V>(this.api, this.abortWhenAbandoned && !background, (f) => this.abandon(key, f as CacheFlight<K, V>))
    const context: LoaderContext<K, V> = {
      key,
      signal: flight.controller.signal,
      ttl: ttl ?? this.ttl,
      staleValue: stale?.kind === 'value' ? stale.value : undefined,
      keep: true,
      share: true,
    }
    flight.context = context
    flight.background = background
    flight.stale = stale
    flight.started = this.now()
    this.flights.set(key, flight)
    this.counters.loads++
    if (probes.cache.on) flight.trace = traceLoad(probes.cache, 'SingleFlightCache', this.name, key, background)
    if (this.loadTimeout !== Infinity) flight.deadline = startTimer(this.loadTimeout, () => this.expire(key, flight))
    const acquire = this.store.acquire
    const work = acquire === undefined ? () => loader(context) : () => this.coordinate(key, flight, found, loader)
    flight.start<unknown>(work, this.detectReentrancy).then(
      (value) => {
        if (acquire === undefined) this.settle(key, flight, { kind: 'loaded', value: value as V })
      },
      (error: unknown) => this.settle(key, flight, { kind: 'failed', error }),
    )
    return flight
  }

  /**
   * A remote store's part of the load: acquire the lease (conditional on the entry read for the
   * decision), or wait for the process that holds it, or take the result someone committed
   * meanwhile. Every path ends in {@link settle}.
   */
  private async coordinate(key: K, flight: CacheFlight<K, V>, found: CacheEntry<V> | undefined, loader: Loader<K, V>): Promise<void> {
    const signal = flight.controller.signal
    for (;;) {
      const acquired: Acquired<V> = await this.store.acquire!(key, found, { signal })
      if (flight.done) {
        // Expired or abandoned while acquiring: give a lease back at once.
        if (acquired.kind === 'lease') await acquired.lease.fail({ kind: 'abandoned' }, undefined, 0)
        return
      }
      switch (acquired.kind) {
        case 'entry':
          return this.settle(key, flight, { kind: 'remote', result: acquired })
        case 'busy': {
          const result = await acquired.wait(signal)
          if (result.kind === 'retry') continue // the lease is free again with no result: try to take it
          return this.settle(key, flight, { kind: 'remote', result })
        }
        case 'lease':
        case 'local': {
          // Load here: under the lease, or without one (the store cannot coordinate, write nothing).
          if (acquired.kind === 'lease') flight.lease = acquired.lease
          else flight.local = true
          const value = await loader(flight.context)
          return this.settle(key, flight, { kind: 'loaded', value })
        }
      }
    }
  }

  /**
   * THE completion path: every load — memory or remote store, loaded here or elsewhere — ends
   * here, once. Order: decide the outcome, write it (the store, or the lease: fenced, and
   * announced to other processes), then settle the callers, then free the key. Writing first
   * means no caller — here or elsewhere — sees an outcome the store does not hold yet
   * (`errorTtl` across processes), and a failing store rejects the callers instead of escaping.
   */
  private settle(key: K, flight: CacheFlight<K, V>, outcome: Outcome<V>): void {
    if (flight.done) return // the deadline (or an abandonment) settled it already: the late outcome is dropped
    flight.done = true
    const lease = flight.lease
    flight.lease = undefined
    if (flight.abandoned) {
      // Every caller left (abortLoaderWhenNoWaiters): nothing to write, nobody to tell here.
      flight.deadline?.clear()
      if (lease !== undefined)
        this.contain(
          key,
          flight,
          () => lease.fail({ kind: 'abandoned' }, undefined, 0),
          () => {},
        )
      return
    }
    const context = flight.context
    if (outcome.kind === 'remote') return this.adopt(key, flight, outcome.result)
    let ok = outcome.kind === 'loaded'
    let result: unknown = ok ? (outcome as { value: V }).value : (outcome as { error: unknown }).error
    if (ok) {
      const invalid = loaderTtlError(context.ttl)
      if (invalid !== undefined) {
        ok = false
        result = invalid
      }
    }
    const now = this.now()
    const keep = context.keep !== false && context.share !== false && !flight.discarded && !flight.local
    if (ok) {
      const value = result as V
      const entry = keep ? this.entry(value, now, context.ttl, now - flight.started) : undefined
      const keepFor = this.keepFor(context.ttl)
      if (context.share === false) {
        this.write(key, flight, lease ? () => lease.fail({ kind: 'not-shared' }, undefined, 0) : undefined, () => this.deliver(flight, true, value))
      } else {
        this.write(key, flight, lease ? () => lease.commit(value, entry, keepFor) : entry ? () => this.store.set(key, entry, keepFor) : undefined, () =>
          this.deliver(flight, true, value),
        )
      }
      return
    }
    this.counters.errors++
    const stale = flight.stale
    const serveStale = context.share !== false && stale !== undefined && stale.kind === 'value' && now < stale.freshUntil + Math.max(this.sie, this.swr)
    let entry: CacheEntry<V> | undefined
    let keepFor = 0
    if (keep && this.errorTtl > 0) {
      if (serveStale) {
        entry = { ...(stale as ValueEntry<V>), retryAfter: now + this.errorTtl }
        keepFor = Math.max(0, stale.staleUntil - now)
      } else {
        entry = { kind: 'error', error: result, freshUntil: now + this.errorTtl, staleUntil: now + this.errorTtl }
        keepFor = this.errorTtl
      }
    }
    const failure = context.share === false ? ({ kind: 'not-shared' } as const) : ({ kind: 'error', error: result } as const)
    const deliver = (): void => {
      if (serveStale) {
        this.counters.staleServed += flight.waiting
        this.deliver(flight, true, (stale as ValueEntry<V>).value)
      } else this.deliver(flight, false, result)
    }
    this.write(key, flight, lease ? () => lease.fail(failure, entry, keepFor) : entry ? () => this.store.set(key, entry, keepFor) : undefined, deliver)
  }

  /** Another process's outcome (or an entry it committed): settle this process's callers with it. */
  private adopt(key: K, flight: CacheFlight<K, V>, result: LeaseWaitResult<V>): void {
    flight.deadline?.clear()
    let ok: boolean
    let outcome: unknown
    switch (result.kind) {
      case 'value':
        ok = true
        outcome = result.value
        break
      case 'entry':
        // A tagged entry: a cached error is never handed out as a value.
        ok = result.entry.kind === 'value'
        outcome = result.entry.kind === 'value' ? result.entry.value : result.entry.error
        break
      case 'error':
        ok = false
        outcome = result.error
        break
      default:
        ok = false
        outcome = new NotSharedError(
          `SingleFlightCache: the load of key ${String(key)} (in another process) declared its outcome private (ctx.share = false); do this work yourself.`,
        )
    }
    if (!ok && result.kind !== 'not-shared') {
      this.counters.errors++
      const stale = flight.stale
      if (stale !== undefined && stale.kind === 'value' && this.now() < stale.freshUntil + Math.max(this.sie, this.swr)) {
        this.counters.staleServed += flight.waiting
        ok = true
        outcome = stale.value
      }
    }
    this.dropFlight(key, flight)
    if (flight.trace !== undefined) {
      if (ok) flight.trace.ended(flight.waiting)
      else flight.trace.failed(outcome, flight.waiting)
    }
    if (ok) flight.fulfill(outcome as V)
    else flight.fail(outcome)
  }

  /** Runs `write` (sync or async); then `deliver` and free the key — or, if the store failed, reject the callers with its error. */
  private write(key: K, flight: CacheFlight<K, V>, write: (() => void | Promise<void>) | undefined, deliver: () => void): void {
    if (write === undefined) {
      flight.deadline?.clear()
      this.dropFlight(key, flight)
      return deliver()
    }
    this.contain(key, flight, write, deliver)
  }

  private contain(key: K, flight: CacheFlight<K, V>, write: () => void | Promise<void>, deliver: () => void): void {
    const fail = (error: unknown): void => {
      flight.deadline?.clear()
      this.dropFlight(key, flight)
      this.counters.errors++
      flight.trace?.failed(error, flight.waiting)
      flight.fail(error)
    }
    let written: void | Promise<void>
    try {
      written = write()
    } catch (error) {
      return fail(error)
    }
    const ok = (): void => {
      flight.deadline?.clear()
      this.dropFlight(key, flight)
      deliver()
    }
    // The flight stays joinable until the write lands, so nobody reloads in that gap.
    if (isThenable(written)) Promise.resolve(written).then(ok, fail)
    else ok()
  }

  /** Hands the load's outcome to the callers (only the one that started it, when `share` is false). */
  private deliver(flight: CacheFlight<K, V>, ok: boolean, outcome: unknown): void {
    if (flight.state !== 0) return // the deadline rejected them already
    if (flight.trace !== undefined) {
      if (ok) flight.trace.ended(flight.waiting)
      else flight.trace.failed(outcome, flight.waiting)
    }
    if (flight.context.share === false) {
      flight.settleUnshared(
        ok,
        outcome,
        new NotSharedError(
          `SingleFlightCache: the load of key ${String(flight.context.key)} declared its outcome private (ctx.share = false); do this work yourself.`,
        ),
      )
    } else if (ok) flight.fulfill(outcome as V)
    else flight.fail(outcome)
  }

  /** `loadTimeout` passed: abort the loader, fail the load (its callers, its lease), free the key. */
  private expire(key: K, flight: CacheFlight<K, V>): void {
    if (flight.done) {
      // Settled, still writing: the write is what overran — free the key and reject the callers.
      if (flight.state === 0) {
        this.dropFlight(key, flight)
        flight.fail(this.timeoutError(key))
      }
      return
    }
    const error = this.timeoutError(key)
    flight.controller.abort(error)
    this.settle(key, flight, { kind: 'failed', error })
  }

  private timeoutError(key: K): TimeoutError {
    return new TimeoutError(
      `SingleFlightCache: the load of key ${String(key)} did not finish within loadTimeout (${this.loadTimeout} ` +
        `ms); its signal was aborted and the key freed. Raise loadTimeout if loads legitimately take longer.`,
      this.loadTimeout,
    )
  }

  /** Every caller left with `abortLoaderWhenNoWaiters`: the key is free now; the late outcome is dropped. */
  private abandon(key: K, flight: CacheFlight<K, V>): void {
    flight.abandoned = true
    this.dropFlight(key, flight)
  }

  private entry(value: V, now: number, ttl: number, delta: number): ValueEntry<V> {
    return { kind: 'value', value, freshUntil: now + ttl, staleUntil: now + ttl + Math.max(this.swr, this.sie), delta }
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

  private dropFlight(key: K, flight: CacheFlight<K, V>): void {
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
