import { Event, InvalidArgumentError } from '@yieldpoint/core'
import { Observable } from 'rxjs'

/**
 * Emits `true` once `event` is set (at once if it already is), then completes. Unsubscribing
 * before that removes the waiter.
 *
 * ```text
 * event.set() at frame 3:   ---(t|)
 * ```
 * @example
 * ```ts
 * whenSet(ready).pipe(switchMap(() => poll$)).subscribe()
 * ```
 */
export function whenSet(event: Event): Observable<true> {
  if (!(event instanceof Event)) throw new InvalidArgumentError('whenSet(event): event must be an Event from @yieldpoint/core.')
  return new Observable<true>((subscriber) => {
    if (event.isSet()) {
      subscriber.next(true)
      subscriber.complete()
      return
    }
    const controller = new AbortController()
    event.wait({ signal: controller.signal }).then(
      () => {
        subscriber.next(true)
        subscriber.complete()
      },
      () => {},
    )
    return () => controller.abort()
  })
}
