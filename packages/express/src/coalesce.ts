import { createHash } from 'node:crypto'
import { InvalidArgumentError, SingleFlightCache, type CacheResult, type Store } from '@yieldpoint/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { LRUCache } from 'lru-cache'
import { captureResponse, replayResponse, type CapturedResponse } from './capture'
import { requestSignal } from './request-signal'

/**
 * Options of {@link coalesce}. Durations are milliseconds.
 * @example
 * ```ts
 * coalesce({ ttl: 5_000, staleWhileRevalidate: 30_000, key: (req) => req.params.id, credentials: 'bypass' })
 * ```
 */
export interface CoalesceOptions {
  /** Methods that are coalesced. Default `['GET', 'HEAD']` (only safe methods make sense). */
  methods?: string[]
  /** The coalescing key. Default: method + `originalUrl`. The credential partition and `Vary` headers are added to it. */
  key?: (req: Request) => string
  /** Micro-cache: how long a cacheable response is served to later requests. Default 0 (coalesce concurrent requests only). */
  ttl?: number
  /** After `ttl`, serve the stale response at once while one request refreshes it. Default 0. */
  staleWhileRevalidate?: number
  /** After `ttl`, serve the stale response when the fresh one is an error. Default 0. */
  staleIfError?: number
  /** Statuses that may be kept by the micro-cache. Default: 2xx except 206. Other statuses are still shared with the requests waiting at that moment, never kept. */
  cacheStatuses?: (status: number) => boolean
  /** Requests carrying `Authorization` or `Cookie`: `'partition'` (default) coalesces only requests with the same credentials; `'bypass'` never coalesces them; `'ignore'` treats them like any other (only if the response never depends on the user). */
  credentials?: 'partition' | 'bypass' | 'ignore'
  /** How long a waiting request waits for the leader before running the handler itself. Default 10,000. */
  timeout?: number
  /** Bodies larger than this (bytes) are not shared; waiting requests run the handler themselves. Default 5 MiB. */
  maxBodySize?: number
  /** Response header that tells what happened: `leader` (ran the handler for others), `coalesced`, `hit`, `stale`, or `bypass` (ran the handler alone: the leader's response was not shareable, or it waited past `timeout`). Default `'x-coalesce'`; `false` for none. */
  header?: string | false
  /** The cache to use — e.g. one with a Redis `store`, shared between processes. Default: an in-memory one built from the options above. */
  cache?: SingleFlightCache<string, CapturedResponse>
  /** A `Store` for the default cache (ignored with `cache`). */
  store?: Store<string, CapturedResponse>
  /** Most responses kept in memory by the default cache. Default 1,000. */
  max?: number
}

/**
 * A handler returned by {@link coalesce}, with the cache it uses.
 * @example
 * ```ts
 * const products = coalesce({ ttl: 60_000 })
 * app.get('/products/:id', products, show)
 * app.put('/products/:id', update, () => products.cache.delete(`GET /products/${id}`))
 * ```
 */
export type CoalesceHandler = RequestHandler & { cache: SingleFlightCache<string, CapturedResponse> }

/** The leader's response must not reach anyone else: each waiting request runs the handler itself. */
class NotShareable extends Error {}
/** The leader's response is shared with the requests waiting now, but not kept. */
class NotCacheable extends Error {
  constructor(readonly response: CapturedResponse) {
    super('not cacheable')
  }
}

const CREDENTIAL_HEADERS = ['authorization', 'cookie'] as const
const CONDITIONAL_HEADERS = ['if-none-match', 'if-modified-since'] as const

/**
 * Request coalescing for Express (nginx's `proxy_cache_lock`, Varnish's request coalescing):
 * concurrent identical requests run the handler once, and every other request receives the
 * leader's status, headers and body — including bodies written in chunks or streamed. With `ttl`
 * it is also a micro-cache (with stale-while-revalidate and stale-if-error).
 *
 * **Safe by default.** Requests with `Authorization` or `Cookie` are only coalesced with requests
 * carrying the same credentials; a response with `Set-Cookie`, `Cache-Control: private` or
 * `no-store`, or `Vary: *` is never given to anyone else; `Vary` is honoured; conditional and
 * `Range` requests are never mixed with plain ones. A waiting request whose client disconnects
 * leaves without affecting the others; a leader whose client disconnects still finishes the
 * work for the others. Handler errors go through Express's error handler once and every waiting
 * request receives that same error response.
 *
 * @example
 * ```ts
 * app.get('/products/:id', coalesce({ ttl: 5_000, staleWhileRevalidate: 30_000 }), async (req, res) => {
 *   res.json(await db.product(req.params.id))
 * })
 * ```
 */
export function coalesce(options: CoalesceOptions = {}): CoalesceHandler {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('coalesce(options): options must be an object like { ttl: 5_000 }.')
  const methods = new Set((options.methods ?? ['GET', 'HEAD']).map((m) => String(m).toUpperCase()))
  const keyOf = options.key
  if (keyOf !== undefined && typeof keyOf !== 'function') throw new InvalidArgumentError('coalesce({ key }): key must be a function (req) => string.')
  const credentials = options.credentials ?? 'partition'
  if (!['partition', 'bypass', 'ignore'].includes(credentials)) {
    throw new InvalidArgumentError(`coalesce({ credentials }): must be 'partition', 'bypass' or 'ignore', got ${JSON.stringify(credentials)}.`)
  }
  const timeout = options.timeout ?? 10_000
  const maxBodySize = options.maxBodySize ?? 5 * 1024 * 1024
  const header = options.header === undefined ? 'x-coalesce' : options.header
  const cacheable = options.cacheStatuses ?? ((status: number) => status >= 200 && status < 300 && status !== 206)
  const cache =
    options.cache ??
    new SingleFlightCache<string, CapturedResponse>({
      ttl: options.ttl ?? 0,
      staleWhileRevalidate: options.staleWhileRevalidate ?? 0,
      staleIfError: options.staleIfError ?? 0,
      max: options.max ?? 1_000,
      ...(options.store ? { store: options.store } : {}),
      // A handler never calls back into this middleware for the same request.
      detectReentrancy: false,
    })
  // Which request headers each URL's responses vary on, learnt from their `Vary`.
  const varyByBase = new LRUCache<string, string[]>({ max: 10_000 })

  const varyValues = (req: Request, names: string[]): string => names.map((n) => `${n}=${req.headers[n] ?? ''}`).join('&')

  const bypass = (res: Response, next: NextFunction): void => {
    if (header && !res.headersSent) res.setHeader(header, 'bypass')
    next()
  }

  const handle = async (req: Request, res: Response, next: NextFunction, base: string, attempt = 0): Promise<void> => {
    const knownVary = varyByBase.get(base)
    const key = knownVary && knownVary.length ? `${base} vary:${varyValues(req, knownVary)}` : base
    const signal = requestSignal(req, res)
    const status: { result?: CacheResult } = {}
    let leader = false
    const lead = (): Promise<CapturedResponse> =>
      new Promise<CapturedResponse>((resolve, reject) => {
        leader = true
        if (header) res.setHeader(header, 'leader')
        captureResponse(res, maxBodySize, (names) => varyValues(req, names), (captured) => {
          if (captured.vary.length) varyByBase.set(base, captured.vary)
          else varyByBase.delete(base)
          if (header) delete captured.headers[header]
          if (!captured.shareable) reject(new NotShareable())
          else if (!cacheable(captured.status)) reject(new NotCacheable(captured))
          else resolve(captured)
        })
        next()
      })
    let response: CapturedResponse
    try {
      response = await cache.getOrSet(key, lead, { signal, timeout, status })
    } catch (error) {
      if (leader || signal.aborted) return // the leader answered its own client; a gone client needs nothing
      if (error instanceof NotCacheable) return replay(req, res, next, base, attempt, error.response, 'coalesced')
      // Not shareable, or waited too long: this request runs the handler itself.
      if (error instanceof NotShareable || (error as Error)?.name === 'TimeoutError') return bypass(res, next)
      return next(error)
    }
    if (leader) return
    return replay(req, res, next, base, attempt, response, status.result === 'hit' ? 'hit' : status.result === 'stale' ? 'stale' : 'coalesced')
  }

  const replay = (req: Request, res: Response, next: NextFunction, base: string, attempt: number, response: CapturedResponse, how: string): Promise<void> | void => {
    if (response.vary.length && response.varyValues !== varyValues(req, response.vary)) {
      // The leader's request differed in a header its response varies on. Now that the URL's
      // Vary is known, coalesce again under this request's own variant.
      return attempt < 2 ? handle(req, res, next, base, attempt + 1) : bypass(res, next)
    }
    replayResponse(res, response, header, how)
  }

  const middleware = function coalesceMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (!methods.has(req.method) || req.headers.range !== undefined) return next()
    const credential = CREDENTIAL_HEADERS.map((h) => req.headers[h] ?? '').join('\n')
    const hasCredential = credential !== '\n'
    if (hasCredential && credentials === 'bypass') return next()
    let base: string
    try {
      base = keyOf ? keyOf(req) : `${req.method} ${req.originalUrl}`
    } catch (error) {
      return next(error)
    }
    if (typeof base !== 'string') return next(new InvalidArgumentError(`coalesce({ key }): key(req) must return a string, got ${typeof base}.`))
    if (keyOf) base = `${req.method} ${base}`
    if (hasCredential && credentials === 'partition') base += ` cred:${createHash('sha256').update(credential).digest('base64url')}`
    for (const h of CONDITIONAL_HEADERS) if (req.headers[h] !== undefined) base += ` ${h}:${req.headers[h]}`
    handle(req, res, next, base).catch(next)
  } as CoalesceHandler
  middleware.cache = cache
  return middleware
}
