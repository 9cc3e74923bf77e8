import { InvalidArgumentError, KeyedLock, type WaitOptions } from '@yieldpoint/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { holdForResponse } from './hold-for-response'

/**
 * Options of {@link serialize}.
 * @example
 * ```ts
 * serialize({ key: (req) => String(req.params.id), timeout: 5_000, retryAfter: 2 })
 * ```
 */
export interface SerializeOptions extends Pick<WaitOptions, 'timeout'> {
  /** The resource a request works on, e.g. `req => String(req.params.id)`. Requests with the same key run one at a time. */
  key: (req: Request) => string
  /** Seconds to put in `Retry-After` with the 503 of a timeout. Default 1. */
  retryAfter?: number
  /** Share locks with other routes or code. Default: a lock of its own. */
  lock?: KeyedLock<string>
}

/**
 * A per-key lock held from the start of the request until the handler is done with its response
 * (it ended or destroyed it) — so read-modify-write handlers for the same resource never
 * interleave, even when clients give up. A request whose client disconnects while *waiting*
 * leaves the queue; nothing leaks. `timeout` → `next(err)` with a `TimeoutError` whose
 * `status` is 503 (and `Retry-After`).
 *
 * @example
 * ```ts
 * app.post('/accounts/:id/transfer', serialize({ key: (req) => String(req.params.id) }), transferHandler)
 * ```
 * @throws {@link InvalidArgumentError} for a missing `key` or an invalid option.
 */
export function serialize(options: SerializeOptions): RequestHandler & { lock: KeyedLock<string> } {
  if (options === null || typeof options !== 'object' || typeof options.key !== 'function') {
    throw new InvalidArgumentError('serialize({ key }): key must be a function (req) => string naming the resource, e.g. req => String(req.params.id).')
  }
  const timeout = checkTimeout(options.timeout, 'serialize')
  const retryAfter = checkRetryAfter(options.retryAfter, 'serialize')
  if (options.lock !== undefined && !(options.lock instanceof KeyedLock))
    throw new InvalidArgumentError('serialize({ lock }): lock must be a KeyedLock<string>.')
  const lock = options.lock ?? new KeyedLock<string>()
  const middleware = function serializeMiddleware(req: Request, res: Response, next: NextFunction): void {
    holdForResponse(req, res, next, (signal) => lock.acquire(options.key(req), { signal, timeout }), retryAfter).catch(next)
  }
  return Object.assign(middleware, { lock })
}

/** @internal */
export function checkTimeout(timeout: unknown, api: string): number | undefined {
  if (timeout === undefined) return undefined
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new InvalidArgumentError(
      `${api}({ timeout }): timeout must be a number of milliseconds >= 0 (Infinity to wait as long as the client does), got ${String(timeout)}.`,
    )
  }
  return timeout
}

/** @internal */
export function checkRetryAfter(retryAfter: unknown, api: string): string {
  if (retryAfter === undefined) return '1'
  if (typeof retryAfter !== 'number' || !Number.isInteger(retryAfter) || retryAfter < 0) {
    throw new InvalidArgumentError(`${api}({ retryAfter }): retryAfter must be a whole number of seconds >= 0, got ${String(retryAfter)}.`)
  }
  return String(retryAfter)
}
