import { YieldpointError } from '@yieldpoint/core'
import type { Request, Response } from 'express'

/**
 * An AbortSignal that aborts when the client goes away before its response has been sent (its
 * reason: a {@link ClientClosedError}), so work done for this request — a wait for a lock, a
 * permit, another request's result, an upstream call — stops at once. Express's `Request` has no
 * `signal`; this is it.
 * @example
 * ```ts
 * app.get('/report', async (req, res) => {
 *   const signal = requestSignal(req, res)
 *   res.json(await db.product(String(req.query.id), { signal }))
 * })
 * ```
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
 * The reason a waiting request's signal aborts: its client disconnected. Code `ERR_YP_CLIENT_CLOSED`.
 * @example
 * ```ts
 * if (err instanceof ClientClosedError) return // nobody to answer
 * ```
 */
export class ClientClosedError extends YieldpointError {
  constructor(req: Request) {
    super('ERR_YP_CLIENT_CLOSED', `The client of ${req.method} ${req.originalUrl} disconnected before its response was sent.`)
  }
}

/**
 * Runs `fn` once the handler is done with the response: it called `res.end()` (even if the
 * client has gone — the work was still running until then) or destroyed it. A closed socket
 * alone is not the end: the handler may still be working. Invariant: `fn` runs at most once.
 * @internal
 */
export function onHandlerDone(res: Response, fn: () => void): void {
  const end = res.end
  const destroy = res.destroy
  let done = false
  const once = (): void => {
    if (done) return
    done = true
    if (res.end === wrappedEnd) res.end = end
    if (res.destroy === wrappedDestroy) res.destroy = destroy
    res.off('finish', once)
    fn()
  }
  const wrappedEnd = function (this: Response, ...args: unknown[]) {
    const result = (end as (...a: unknown[]) => Response).apply(this, args)
    once()
    return result
  } as Response['end']
  const wrappedDestroy = function (this: Response, error?: Error) {
    const result = destroy.call(this, error)
    once()
    return result
  } as Response['destroy']
  res.end = wrappedEnd
  res.destroy = wrappedDestroy
  // `finish` also covers an `end` that bypassed the wrapper (a layer that kept the old reference).
  res.once('finish', once)
}
