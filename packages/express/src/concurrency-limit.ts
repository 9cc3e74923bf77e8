import { InvalidArgumentError, Semaphore } from '@yieldpoint/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { holdForResponse, serviceUnavailable } from './hold-for-response'
import { checkRetryAfter, checkTimeout, type SerializeOptions } from './serialize'

/**
 * Options of {@link concurrencyLimit}.
 * @example
 * ```ts
 * concurrencyLimit({ permits: 4, queue: 100, timeout: 2_000 })
 * ```
 */
export interface ConcurrencyLimitOptions extends Pick<SerializeOptions, 'timeout' | 'retryAfter'> {
  /** Requests handled at once (the semaphore's permits). */
  permits: number
  /** Requests allowed to wait for a permit; past it, 503 at once. Default `Infinity`. */
  queue?: number
}

/**
 * Caps how many requests run the rest of the stack at once (a {@link Semaphore} of `permits`),
 * FIFO. A request past the queue gets `503` with `Retry-After` at once; one waiting longer than
 * `timeout` goes to `next(err)` with a `TimeoutError` whose `status` is 503. The permit is held
 * until the handler is done with the response (ended or destroyed it), not merely until the
 * client leaves.
 *
 * @example
 * ```ts
 * app.use('/report', concurrencyLimit({ permits: 4, queue: 100, timeout: 2_000 }))
 * ```
 * @throws {@link InvalidArgumentError} for an invalid option.
 */
export function concurrencyLimit(options: ConcurrencyLimitOptions): RequestHandler & { semaphore: Semaphore } {
  if (options === null || typeof options !== 'object' || !Number.isSafeInteger(options.permits) || options.permits < 1) {
    throw new InvalidArgumentError(
      `concurrencyLimit({ permits }): permits must be an integer >= 1 (requests handled at once), got ${JSON.stringify(options?.permits)}.`,
    )
  }
  const queue = options.queue ?? Infinity
  if (typeof queue !== 'number' || Number.isNaN(queue) || queue < 0) {
    throw new InvalidArgumentError(`concurrencyLimit({ queue }): queue must be a number >= 0 (requests allowed to wait), got ${JSON.stringify(queue)}.`)
  }
  const timeout = checkTimeout(options.timeout, 'concurrencyLimit')
  const retryAfter = checkRetryAfter(options.retryAfter, 'concurrencyLimit')
  const semaphore = new Semaphore(options.permits)
  const middleware = function concurrencyLimitMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (semaphore.locked() && semaphore.statistics().waiting >= queue) return serviceUnavailable(res, retryAfter, 'too many requests in progress, retry later.')
    holdForResponse(req, res, next, (signal) => semaphore.acquire({ signal, timeout }), retryAfter).catch(next)
  }
  return Object.assign(middleware, { semaphore })
}
