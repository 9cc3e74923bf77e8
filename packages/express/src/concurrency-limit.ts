import { InvalidArgumentError, Semaphore } from '@yieldpoint/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { holdForResponse, serviceUnavailable } from './hold-for-response'

/**
 * Options of {@link concurrencyLimit}.
 * @example
 * ```ts
 * concurrencyLimit({ max: 4, queue: 100, timeout: 2_000 })
 * ```
 */
export interface ConcurrencyLimitOptions {
  /** Requests handled at once. */
  max: number
  /** Requests allowed to wait for a slot; past it, 503 at once. Default `Infinity`. */
  queue?: number
  /** Longest wait for a slot in ms; past it, 503. Default: as long as the client waits. */
  timeout?: number
  /** Seconds to put in `Retry-After` on a 503. Default 1. */
  retryAfter?: number
}

/**
 * Caps how many requests run the rest of the stack at once (a {@link Semaphore}), FIFO. A
 * request past the queue, or waiting longer than `timeout`, gets `503` with `Retry-After`. The
 * slot is returned when the response finishes or the connection closes.
 *
 * @example
 * ```ts
 * app.use('/report', concurrencyLimit({ max: 4, queue: 100, timeout: 2_000 }))
 * ```
 */
export function concurrencyLimit(options: ConcurrencyLimitOptions): RequestHandler & { semaphore: Semaphore } {
  if (options === null || typeof options !== 'object' || !Number.isInteger(options.max) || options.max < 1) {
    throw new InvalidArgumentError(`concurrencyLimit({ max }): max must be an integer >= 1 (requests handled at once), got ${JSON.stringify(options?.max)}.`)
  }
  const queue = options.queue ?? Infinity
  if (typeof queue !== 'number' || Number.isNaN(queue) || queue < 0) {
    throw new InvalidArgumentError(`concurrencyLimit({ queue }): queue must be a number >= 0 (requests allowed to wait), got ${JSON.stringify(queue)}.`)
  }
  const semaphore = new Semaphore(options.max)
  const retryAfter = String(options.retryAfter ?? 1)
  const busyMessage = 'too many requests in progress, retry later.'
  const middleware = function concurrencyLimitMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (semaphore.locked() && semaphore.statistics().waiting >= queue) return serviceUnavailable(res, retryAfter, busyMessage)
    holdForResponse(req, res, next, (signal) => semaphore.acquire({ signal, timeout: options.timeout }), retryAfter, busyMessage).catch(next)
  }
  return Object.assign(middleware, { semaphore })
}
