import type { Guard } from '@yieldpoint/core'
import type { NextFunction, Request, Response } from 'express'
import { onResponseDone, requestSignal } from './request-signal'

/**
 * Waits for `acquire` (aborted if the client goes away), then holds the guard until the
 * response finishes or the connection closes, and passes the request on. A timeout answers 503
 * with `Retry-After`. Shared by `serialize()` and `concurrencyLimit()`.
 * @internal
 */
export async function holdForResponse(req: Request, res: Response, next: NextFunction, acquire: (signal: AbortSignal) => Promise<Guard>, retryAfter: string, busyMessage: string): Promise<void> {
  const signal = requestSignal(req, res)
  let guard: Guard
  try {
    guard = await acquire(signal)
  } catch (error) {
    if (signal.aborted) return // the client left while waiting: nothing to answer, nothing held
    if ((error as Error)?.name === 'TimeoutError') return serviceUnavailable(res, retryAfter, busyMessage)
    throw error
  }
  onResponseDone(res, () => guard.release())
  if (res.writableEnded || res.destroyed) return guard.release()
  next()
}

/** 503 with `Retry-After`. @internal */
export function serviceUnavailable(res: Response, retryAfter: string, message: string): void {
  res.setHeader('retry-after', retryAfter)
  res.status(503).send(`Service Unavailable: ${message}`)
}
