import {
  InvalidArgumentError,
  NotSharedError,
  SingleFlightCache,
  TimeoutError,
  YieldpointError,
  type CacheResult,
  type LoaderContext,
  type SingleFlightCacheOptions,
} from '@yieldpoint/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { LRUCache } from 'lru-cache'
import { ByteBudgetStore } from './byte-budget-store'
import { captureResponse, LeaderFailed, replayResponse, type Capture, type CapturedResponse } from './capture'
import { requestSignal } from './request-signal'
import { BYPASS_HEADERS, credentialPartition, KEYED_PRECONDITIONS, origin } from './request-key'

/**
 * Options of {@link coalesce}. Durations are milliseconds. `ttl`, `staleWhileRevalidate`,
 * `staleIfError` and `store` are those of core's `SingleFlightCache` (for the default cache).
 * @example
 * ```ts
 * coalesce({ ttl: 5_000, staleWhileRevalidate: 30_000, credentialHeaders: ['authorization', 'cookie', 'x-api-key'] })
 * ```
 */
export interface CoalesceOptions
  extends Pick<SingleFlightCacheOptions<string, CapturedResponse>, 'ttl' | 'staleWhileRevalidate' | 'staleIfError' | 'loadTimeout' | 'store'> {
  /**
   * Methods that are coalesced. Default `['GET', 'HEAD']`. Any other method (POST, PUT, PATCH,
   * DELETE, …) needs a `key` that includes everything the response depends on (such as a hash of
   * the body); without one the configuration is refused. Requests with other methods pass
   * through, marked `x-coalesce: bypass`.
   */
  methods?: string[]
  /**
   * The part of the key that names the resource. Default: `originalUrl`. The method, the scheme
   * and host, the credential partition, revalidation preconditions and `Vary` headers are always
   * added to it.
   */
  key?: (req: Request) => string
  /**
   * Statuses that may be kept by the micro-cache. Default: 2xx except 206. Other statuses are still
   * shared with the requests waiting at that moment, never kept.
   */
  cacheStatuses?: (status: number) => boolean
  /**
   * Requests carrying any of `credentialHeaders`: `'partition'` (default) coalesces only requests
   * with the same values; `'bypass'` never coalesces them; `'ignore'` treats them like any other
   * (only if the response never depends on the user).
   */
  credentials?: 'partition' | 'bypass' | 'ignore'
  /** Request headers that identify a user. Default `['authorization', 'cookie']`. Any other per-user input must be in the key. */
  credentialHeaders?: string[]
  /** How long a follower waits for the leader before running the handler itself (`x-coalesce: bypass`). Default 10,000. */
  followerTimeout?: number
  /** Bodies larger than this (bytes) are neither shared nor kept; followers run the handler themselves. Default 5 MiB. */
  maxBodySize?: number
  /** Response header that tells what happened: `leader`, `coalesced`, `hit`, `stale`, or `bypass`. Default `'x-coalesce'`; `false` for none. */
  header?: string | false
  /** Add `Server-Timing: coalesce-wait;dur=…, coalesce-load;dur=…` (how long this request waited; how long the handler took). Default true. */
  serverTiming?: boolean
  /**
   * The cache to use — e.g. one with a Redis `store`, shared between processes. Default: an
   * in-memory one built from `ttl`, `staleWhileRevalidate`, `staleIfError`, `store`, `max`,
   * `maxBytes` (which are refused next to `cache`).
   */
  cache?: SingleFlightCache<string, CapturedResponse>
  /** Most responses kept in memory by the default store. Default 1,000. */
  max?: number
  /** Most bytes of responses kept in memory by the default store. Default 64 MiB. */
  maxBytes?: number
}

/**
 * A handler returned by {@link coalesce}, with the cache it uses.
 * @example
 * ```ts
 * const products = coalesce({ ttl: 60_000 })
 * app.get('/products/:id', products, show)
 * app.put('/products/:id', update, () => products.cache.clear())
 * ```
 */
export type CoalesceHandler = RequestHandler & { cache: SingleFlightCache<string, CapturedResponse> }

/**
 * The handler answered with a server error (5xx, not in `cacheStatuses`): a failed load in RFC
 * 5861's sense, so `staleIfError` may answer with the stale copy instead; otherwise the waiting
 * requests replay this response. (Other outcomes are declared with `ctx.keep`/`ctx.share`.)
 */
class ServerErrorResponse extends YieldpointError {
  constructor(readonly response: CapturedResponse) {
    super('ERR_YP_SERVER_ERROR_RESPONSE', `the handler answered ${response.status}`)
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD'])
const DEFAULT_CACHE_OPTIONS = ['ttl', 'staleWhileRevalidate', 'staleIfError', 'loadTimeout', 'store', 'max', 'maxBytes'] as const

function fail(message: string): never {
  throw new InvalidArgumentError(`coalesce(options): ${message}`)
}

function duration(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0)
    fail(`${name} must be a number of milliseconds >= 0 (Infinity for no limit), got ${String(value)}.`)
  return value
}

function count(value: unknown, name: string, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) fail(`${name} must be an integer >= 1 (${what}), got ${String(value)}.`)
  return value
}

/**
 * Request coalescing for Express (nginx's `proxy_cache_lock`, Varnish's request coalescing):
 * concurrent identical requests run the handler once, and every other request receives the
 * leader's status, headers and body — including bodies written in chunks or streamed. With `ttl`
 * it is also a micro-cache (with stale-while-revalidate and stale-if-error) bounded by entries
 * and bytes.
 *
 * **Safe by default.** The key holds the method, the scheme and host (as `req.protocol` and
 * `req.host` see them, so `trust proxy` decides whether `X-Forwarded-*` count), the URL, the
 * credential partition and every header named by `Vary`. A response with `Set-Cookie`,
 * `Cache-Control: private` or `no-store`, or `Vary: *` is never given to anyone else; `Range` and
 * `If-Match`-style requests bypass. What is replayed is the handler's own representation, so each
 * request's `compression()` encodes it for that client. A waiting request whose client
 * disconnects leaves without affecting the others; a leader whose client disconnects still
 * finishes the work for the others; a leader whose response cannot complete releases them at once.
 *
 * @example
 * ```ts
 * app.use(compression())
 * app.get('/products/:id', coalesce({ ttl: 5_000, staleWhileRevalidate: 30_000 }), async (req, res) => {
 *   res.json(await db.product(req.params.id))
 * })
 * ```
 * @throws {@link InvalidArgumentError} for any invalid option, `store`/`ttl`/… next to `cache`, or a non-safe method without `key`.
 */
export function coalesce(options: CoalesceOptions = {}): CoalesceHandler {
  if (options === null || typeof options !== 'object') fail('options must be an object like { ttl: 5_000 }.')
  const keyOf = options.key
  if (keyOf !== undefined && typeof keyOf !== 'function') fail('key must be a function (req) => string.')
  if (options.methods !== undefined && (!Array.isArray(options.methods) || options.methods.some((m) => typeof m !== 'string'))) {
    fail(`methods must be an array of method names like ['GET', 'HEAD'], got ${String(options.methods)}.`)
  }
  const methods = new Set((options.methods ?? ['GET', 'HEAD']).map((m) => m.toUpperCase()))
  const unsafe = [...methods].filter((m) => !SAFE_METHODS.has(m))
  if (unsafe.length && keyOf === undefined) {
    fail(
      `methods includes ${unsafe.join(', ')}: requests with these methods carry bodies that change the answer, and the default key ` +
        '(the URL) would merge requests whose bodies differ. Give a key function that includes everything the response depends on ' +
        '(e.g. a hash of the body), or leave them out.',
    )
  }
  const credentials = options.credentials ?? 'partition'
  if (!['partition', 'bypass', 'ignore'].includes(credentials))
    fail(`credentials must be 'partition', 'bypass' or 'ignore', got ${JSON.stringify(credentials)}.`)
  const credentialHeaders = options.credentialHeaders ?? ['authorization', 'cookie']
  if (!Array.isArray(credentialHeaders) || credentialHeaders.some((h) => typeof h !== 'string' || h === '')) {
    fail(`credentialHeaders must be an array of request header names like ['authorization', 'cookie', 'x-api-key'], got ${String(credentialHeaders)}.`)
  }
  const credentialNames = credentialHeaders.map((h) => h.toLowerCase())
  const followerTimeout = duration(options.followerTimeout, 'followerTimeout', 10_000)
  const maxBodySize = duration(options.maxBodySize, 'maxBodySize', 5 * 1024 * 1024)
  const header = options.header === undefined ? 'x-coalesce' : options.header
  if (header !== false && (typeof header !== 'string' || header === '')) fail(`header must be a header name or false, got ${String(header)}.`)
  const serverTiming = options.serverTiming ?? true
  if (typeof serverTiming !== 'boolean') fail(`serverTiming must be true or false, got ${String(serverTiming)}.`)
  if (options.cacheStatuses !== undefined && typeof options.cacheStatuses !== 'function') fail('cacheStatuses must be a function (status) => boolean.')
  const cacheable = options.cacheStatuses ?? ((status: number) => status >= 200 && status < 300 && status !== 206)
  let cache: SingleFlightCache<string, CapturedResponse>
  if (options.cache !== undefined) {
    if (!(options.cache instanceof SingleFlightCache)) fail('cache must be a SingleFlightCache<string, CapturedResponse>.')
    const beside = DEFAULT_CACHE_OPTIONS.filter((name) => options[name] !== undefined)
    if (beside.length)
      fail(`${beside.join(', ')} configure the default cache and would be ignored next to cache: set them on the SingleFlightCache you pass, or drop cache.`)
    cache = options.cache
  } else {
    const ttl = duration(options.ttl, 'ttl', 0)
    cache = new SingleFlightCache<string, CapturedResponse>({
      ttl,
      staleWhileRevalidate: duration(options.staleWhileRevalidate, 'staleWhileRevalidate', 0),
      staleIfError: duration(options.staleIfError, 'staleIfError', 0),
      // A handler that never finishes frees its key after the load's deadline (core's default 60 s).
      ...(options.loadTimeout === undefined ? {} : { loadTimeout: options.loadTimeout }),
      store:
        options.store ??
        new ByteBudgetStore({
          max: count(options.max, 'max', 1_000, 'responses kept'),
          maxBytes: count(options.maxBytes, 'maxBytes', 64 * 1024 * 1024, 'bytes kept'),
        }),
      // A handler never calls back into this middleware for the same request.
      detectReentrancy: false,
    })
  }
  // Which request headers each URL's responses vary on, learnt from their `Vary`.
  // Its keys are URLs (up to 16 KiB each): bounded by their bytes too, not only by count.
  const varyByBase = new LRUCache<string, string[]>({
    max: 10_000,
    maxSize: 4 * 1024 * 1024,
    sizeCalculation: (names, base) => base.length + names.join().length + 64,
  })

  const varyValues = (req: Request, names: string[]): string => names.map((n) => `${n}=${req.headers[n] ?? ''}`).join('&')

  const bypass = (res: Response, next: NextFunction): void => {
    if (header && !res.headersSent) res.setHeader(header, 'bypass')
    next()
  }

  const timing = (waitMs: number, loadMs: number | undefined): Record<string, string> =>
    serverTiming ? { 'server-timing': `coalesce-wait;dur=${waitMs.toFixed(1)}${loadMs === undefined ? '' : `, coalesce-load;dur=${loadMs.toFixed(1)}`}` } : {}

  /** Headers this request adds to a replayed response: what happened, timings, and `Age` on hits. */
  const extraHeaders = (response: CapturedResponse, how: string, waitMs: number): Record<string, string> => {
    const extra: Record<string, string> = { ...timing(waitMs, response.loadMs) }
    const own = response.headers['server-timing']
    if (extra['server-timing'] && own !== undefined) extra['server-timing'] = `${String(own)}, ${extra['server-timing']}`
    if (header) extra[header] = how
    if ((how === 'hit' || how === 'stale') && response.storedAt !== undefined) {
      const age = Math.max(0, Math.floor((Date.now() - response.storedAt) / 1000)) + (Number(response.headers.age) || 0)
      extra.age = String(age)
    }
    return extra
  }

  const handle = async (req: Request, res: Response, next: NextFunction, base: string, attempt: number, arrived: number): Promise<void> => {
    const knownVary = varyByBase.get(base)
    const key = knownVary?.length ? `${base} vary:${varyValues(req, knownVary)}` : base
    const signal = requestSignal(req, res)
    const status: { result?: CacheResult } = {}
    let own: Capture | undefined
    const lead = (ctx: LoaderContext<string, CapturedResponse>): Promise<CapturedResponse> => {
      if (header) res.setHeader(header, 'leader')
      // With a stale copy at hand, hold this request's own response back: if the refresh fails,
      // this request gets the stale copy too (RFC 5861 stale-if-error), not the error.
      const capture = captureResponse(res, {
        maxBodySize,
        buffer: ctx.staleValue !== undefined,
        vary: (names) => varyValues(req, names),
        onHead: (loadMs) => {
          if (serverTiming) res.appendHeader('server-timing', timing(0, loadMs)['server-timing']!)
        },
      })
      own = capture
      // An error once the body started ends in Express's final handler destroying the socket:
      // the capture sees the connection close mid-body and releases the followers.
      next()
      return capture.done.then((captured) => {
        if (captured.vary.length) varyByBase.set(base, captured.vary)
        else varyByBase.delete(base)
        if (!captured.shareable) {
          ctx.share = false // this request's own: the followers run the handler themselves
          return captured
        }
        if (!cacheable(captured.status)) {
          if (captured.status >= 500) throw new ServerErrorResponse(captured)
          ctx.keep = false // given to the requests waiting now (no stampede on a 404), never kept
          return captured
        }
        // Loaded before the URL's Vary was known: keep it under its variant too, where later
        // requests (which now know the Vary) look for it.
        if (captured.vary.length && key === base) cache.set(`${base} vary:${captured.varyValues}`, captured).catch(() => {})
        return captured
      })
    }
    let response: CapturedResponse
    try {
      response = await cache.getOrSet(key, lead as (ctx: LoaderContext<string, CapturedResponse>) => Promise<CapturedResponse>, {
        signal,
        timeout: followerTimeout,
        status,
      })
    } catch (error) {
      if (own) return answerHeldBack(res, own, undefined, arrived)
      // A gone client needs nothing; its response is destroyed so that holds taken in front of
      // coalesce() (a concurrencyLimit() permit) see the request is over.
      if (signal.aborted) return void res.destroy()
      if (error instanceof ServerErrorResponse)
        return replay(req, res, next, base, attempt, error.response, status.result === 'hit' ? 'hit' : 'coalesced', arrived)
      // The leader's response broke off: elect a new leader among the followers (one handler run,
      // not a stampede); after two such failures in a row each runs the handler itself.
      if (error instanceof LeaderFailed) return attempt < 2 ? handle(req, res, next, base, attempt + 1, arrived) : bypass(res, next)
      // Not shareable, or waited too long (followerTimeout, or the load's deadline passed): this
      // request runs the handler itself.
      if (error instanceof NotSharedError || error instanceof TimeoutError) return bypass(res, next)
      return next(error)
    }
    if (own) return answerHeldBack(res, own, response, arrived)
    return replay(req, res, next, base, attempt, response, status.result === 'hit' ? 'hit' : status.result === 'stale' ? 'stale' : 'coalesced', arrived)
  }

  /**
   * The leader answers its own client. When its response was held back (a stale copy existed),
   * it sends its own response if that is a success, else the stale copy the cache offered.
   */
  const answerHeldBack = async (res: Response, own: Capture, offered: CapturedResponse | undefined, arrived: number): Promise<void> => {
    if (!own.buffered) return
    const mine = await own.done.catch(() => undefined)
    if (!own.buffered) return
    if (mine === undefined) return // broke off: nothing to send
    // Its own response unless it is an error the cache answered with the stale copy instead.
    if (offered === undefined || offered === mine || !mine.shareable || cacheable(mine.status))
      return own.flush({ ...timing(0, mine.loadMs), ...(header ? { [header]: 'leader' } : {}) })
    own.discard()
    replayResponse(res, offered, extraHeaders(offered, 'stale', performance.now() - arrived))
  }

  const replay = (
    req: Request,
    res: Response,
    next: NextFunction,
    base: string,
    attempt: number,
    response: CapturedResponse,
    how: string,
    arrived: number,
  ): Promise<void> | void => {
    if (response.vary.length && response.varyValues !== varyValues(req, response.vary)) {
      // The leader's request differed in a header its response varies on. Now that the URL's
      // Vary is known, coalesce again under this request's own variant.
      return attempt < 2 ? handle(req, res, next, base, attempt + 1, arrived) : bypass(res, next)
    }
    replayResponse(res, response, extraHeaders(response, how, performance.now() - arrived))
  }

  const middleware = function coalesceMiddleware(req: Request, res: Response, next: NextFunction): void {
    // Non-safe methods run their handler, said so in the header (each has its own body).
    if (!methods.has(req.method)) return bypass(res, next)
    for (const h of BYPASS_HEADERS) if (req.headers[h] !== undefined) return bypass(res, next)
    const partition = credentials === 'ignore' ? '' : credentialPartition(req, credentialNames)
    if (partition && credentials === 'bypass') return bypass(res, next)
    let resource: string
    try {
      resource = keyOf ? keyOf(req) : req.originalUrl
    } catch (error) {
      return next(error)
    }
    if (typeof resource !== 'string') return next(new InvalidArgumentError(`coalesce({ key }): key(req) must return a string, got ${typeof resource}.`))
    let base = `${req.method} ${origin(req)} ${resource}`
    if (partition) base += ` cred:${partition}`
    for (const h of KEYED_PRECONDITIONS) if (req.headers[h] !== undefined) base += ` ${h}:${req.headers[h]}`
    handle(req, res, next, base, 0, performance.now()).catch(next)
  } as CoalesceHandler
  middleware.cache = cache
  return middleware
}
