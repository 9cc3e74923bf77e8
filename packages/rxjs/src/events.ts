import { Event, InvalidArgumentError, type WaitOptions } from '@yieldpoint/core'
import { Observable } from 'rxjs'
import { checkOptions, waitOptions } from './options'

/**
 * Emits `true` once `event` is set (synchronously if it already is), then completes.
 * Unsubscribing before that removes the waiter; `timeout`/`signal` bound the wait (it errors
 * with `TimeoutError` / `signal.reason`).
 *
 * ```text
 * event.set() at frame 3:   ---(t|)
 * ```
 * @example
 * ```ts
 * whenSet(ready, { timeout: 5_000 }).pipe(switchMap(() => poll$)).subscribe()
 * ```
 */
export function whenSet(event: Event, opts?: WaitOptions): Observable<true> {
  if (!(event instanceof Event)) throw new InvalidArgumentError('whenSet(event): event must be an Event from @yieldpoint/core.')
  checkOptions('whenSet(event, options)', opts, ['signal', 'timeout'])
  const wait = waitOptions(opts)
  return new Observable<true>((subscriber) => {
    const outer = wait?.signal
    if (outer?.aborted === true) return subscriber.error(outer.reason)
    if (event.isSet()) {
      subscriber.next(true)
      subscriber.complete()
      return
    }
    const controller = new AbortController()
    let torn = false
    const onAbort = (): void => controller.abort(outer!.reason)
    outer?.addEventListener('abort', onAbort, { once: true })
    event.wait({ signal: controller.signal, timeout: wait?.timeout }).then(
      () => {
        outer?.removeEventListener('abort', onAbort)
        subscriber.next(true)
        subscriber.complete()
      },
      (error: unknown) => {
        outer?.removeEventListener('abort', onAbort)
        if (!torn) subscriber.error(error)
      },
    )
    return () => {
      torn = true
      outer?.removeEventListener('abort', onAbort)
      controller.abort()
    }
  })
}
