import { TimeoutError, type Guard } from '@yieldpoint/core'
import type { NextFunction, Request, Response } from 'express'
import { onHandlerDone, requestSignal } from './request-signal'

/**
 * Waits for `acquire` (aborted if the client goes away while waiting), then holds the guard until
 * the handler is done with the response — it ended or destroyed it — and passes the request on.
 * A client that disconnects does not release the hold: its handler may still be running, and
 * letting the next one in would break the exclusion. A timeout goes to `next(err)` as a
 * {@link TimeoutError} with `status`/`statusCode` 503 and a `Retry-After` header. Shared by
 * `serialize()` and `concurrencyLimit()`.
 * @internal
 */
export async function holdForResponse(
  req: Request,
  res: Response,
  next: NextFunction,
  acquire: (signal: AbortSignal) => Promise<Guard>,
  retryAfter: string,
): Promise<void> {
  const signal = requestSignal(req, res)
  let guard: Guard
  try {
    guard = await acquire(signal)
  } catch (error) {
    // The client left while waiting: nothing to answer, nothing held. The response is destroyed
    // all the same, so that a hold taken in front of this one (a permit) sees the request is over.
    if (signal.aborted) return void res.destroy()
    if (error instanceof TimeoutError) return next(busy(res, error, retryAfter))
    throw error
  }
  // The client may have left between the grant and now: nothing will run, give it back.
  if (res.writableEnded || res.destroyed) {
    guard.release()
    return void res.destroy()
  }
  onHandlerDone(res, () => guard.release())
  next()
}

/** Makes a wait's timeout an HTTP 503 for Express's error handler. @internal */
function busy(res: Response, error: TimeoutError, retryAfter: string): TimeoutError {
  res.setHeader('retry-after', retryAfter)
  return Object.assign(error, { status: 503, statusCode: 503, expose: true, headers: { 'retry-after': retryAfter } })
}

/** 503 with `Retry-After`. @internal */
export function serviceUnavailable(res: Response, retryAfter: string, message: string): void {
  res.setHeader('retry-after', retryAfter)
  res.status(503).send(`Service Unavailable: ${message}`)
}
