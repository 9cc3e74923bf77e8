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
 *
 * The end that counts is the one the handler calls, i.e. the *outermost* `res.end`. Layers
 * mounted later (`compression()`) replace `res.end` with their own and call ours only once their
 * output is flushed — which never happens when the client left mid-body (gzip waits for a
 * `drain` that a dead socket never emits), so a wrapper installed now would hold the lock or
 * permit forever. `res.end`/`res.destroy` therefore become accessors: whatever a later layer
 * assigns is wrapped in turn, so the handler's own call always passes through here.
 * @internal
 */
export function onHandlerDone(res: Response, fn: () => void): void {
  let done = false
  const restores: (() => void)[] = []
  const once = (): void => {
    if (done) return
    done = true
    for (const restore of restores) restore()
    res.off('finish', once)
    fn()
  }
  for (const name of ['end', 'destroy'] as const) {
    let current = res[name] as (...args: unknown[]) => unknown
    const wrap = (inner: (...args: unknown[]) => unknown) =>
      function (this: Response, ...args: unknown[]) {
        try {
          return inner.apply(this, args)
        } finally {
          once()
        }
      }
    let outer = wrap(current)
    Object.defineProperty(res, name, {
      configurable: true,
      enumerable: true,
      get: () => outer,
      set: (next: (...args: unknown[]) => unknown) => {
        current = next
        outer = wrap(next)
      },
    })
    restores.push(() => Object.defineProperty(res, name, { configurable: true, enumerable: true, writable: true, value: current }))
  }
  // Express's final handler answers an error raised once the body began by destroying the
  // *connection* (`req.socket.destroy()`): the handler is done. A client that leaves reaches
  // destroy() differently — after its FIN (readableEnded) or with an error (a reset) — and must
  // not count (the handler may still be working).
  const socket = res.req?.socket
  if (socket) {
    const destroySocket = socket.destroy
    const wrapped = function (this: typeof socket, error?: Error) {
      if (error === undefined && !this.destroyed && !this.readableEnded) once()
      return destroySocket.call(this, error)
    } as typeof socket.destroy
    socket.destroy = wrapped
    restores.push(() => {
      if (socket.destroy === wrapped) socket.destroy = destroySocket
    })
  }
  // `finish` also covers an `end` that bypassed the accessor (a layer that redefined the property).
  res.once('finish', once)
}
