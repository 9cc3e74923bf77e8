import { InvalidArgumentError, KeyedLock } from '@yieldpoint/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { holdForResponse } from './hold-for-response'

/**
 * Options of {@link serialize}.
 * @example
 * ```ts
 * serialize({ key: (req) => req.params.id, timeout: 5_000, retryAfter: 2 })
 * ```
 */
export interface SerializeOptions {
  /** The resource a request works on, e.g. `req => req.params.id`. Requests with the same key run one at a time. */
  key: (req: Request) => string
  /** Give up waiting after this many ms and answer 503 with `Retry-After`. Default: wait as long as the client does. */
  timeout?: number
  /** Seconds to put in `Retry-After` on a 503. Default 1. */
  retryAfter?: number
  /** Share locks with other routes or code. Default: a lock of its own. */
  lock?: KeyedLock<string>
}

/**
 * A per-key lock held from the start of the request until its response finishes or its
 * connection closes — so read-modify-write handlers for the same resource never interleave.
 * A request whose client disconnects while waiting leaves the queue; nothing leaks.
 *
 * @example
 * ```ts
 * app.post('/accounts/:id/transfer', serialize({ key: (req) => req.params.id }), transferHandler)
 * ```
 */
export function serialize(options: SerializeOptions): RequestHandler & { lock: KeyedLock<string> } {
  if (options === null || typeof options !== 'object' || typeof options.key !== 'function') {
    throw new InvalidArgumentError('serialize({ key }): key must be a function (req) => string naming the resource, e.g. req => req.params.id.')
  }
  const lock = options.lock ?? new KeyedLock<string>()
  const retryAfter = String(options.retryAfter ?? 1)
  const middleware = function serializeMiddleware(req: Request, res: Response, next: NextFunction): void {
    holdForResponse(req, res, next, (signal) => lock.acquire(options.key(req), { signal, timeout: options.timeout }), retryAfter, 'the resource is busy, retry later.').catch(next)
  }
  return Object.assign(middleware, { lock })
}
