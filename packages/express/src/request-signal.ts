import type { Request, Response } from 'express'

/**
 * An AbortSignal that aborts when the client goes away before its response has been sent, so a
 * request waiting for a lock, a permit or another request's result stops waiting at once.
 * @internal
 */
export function requestSignal(req: Request, res: Response): AbortSignal {
  const controller = new AbortController()
  const onClose = (): void => {
    if (!res.writableEnded) controller.abort(new ClientClosedError(req))
  }
  res.once('close', onClose)
  return controller.signal
}

/**
 * The reason a waiting request's signal aborts: its client disconnected.
 * @example
 * ```ts
 * if (err instanceof ClientClosedError) return // nobody to answer
 * ```
 */
export class ClientClosedError extends Error {
  readonly code = 'ERR_YP_CLIENT_CLOSED'
  constructor(req: Request) {
    super(`The client of ${req.method} ${req.originalUrl} disconnected before its response was sent.`)
    this.name = 'ClientClosedError'
  }
}

/** Runs `fn` once the response has finished or the connection closed, whichever comes first. @internal */
export function onResponseDone(res: Response, fn: () => void): void {
  let done = false
  const once = (): void => {
    if (done) return
    done = true
    res.off('finish', once)
    res.off('close', once)
    fn()
  }
  res.once('finish', once)
  res.once('close', once)
}
