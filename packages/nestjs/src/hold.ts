import type { Guard } from '@yieldpoint/core'
import { from, isObservable, lastValueFrom, Observable, takeUntil, fromEvent, type ObservableInput } from 'rxjs'

/**
 * Runs `work` (whose result may be a value, a Promise or an Observable) while holding a guard.
 * Observable results are returned as an Observable that takes the guard on subscribe and gives
 * it back exactly once on complete, error or unsubscribe (aborting the wait if still waiting).
 * Whatever `work` does — throw synchronously, return something that is not an ObservableInput —
 * the caller gets the error and the guard is released: held ⇒ a subscription to `work`'s result
 * is live.
 * @internal
 */
export function holdWhile(observable: boolean, acquire: (signal?: AbortSignal) => Promise<Guard>, work: () => unknown): unknown {
  if (!observable) {
    return acquire().then(async (guard) => {
      try {
        const result = work()
        return isObservable(result) ? await lastValueFrom(result) : await result
      } finally {
        guard.release()
      }
    })
  }
  return new Observable<unknown>((subscriber) => {
    const controller = new AbortController()
    let guard: Guard | undefined
    const release = (): void => {
      const held = guard
      guard = undefined
      held?.release()
    }
    acquire(controller.signal).then(
      (granted) => {
        guard = granted
        if (subscriber.closed) return release()
        let source: Observable<unknown>
        try {
          source = from(work() as ObservableInput<unknown>)
        } catch (error) {
          // A synchronous throw, or a result `from()` cannot read: the caller's error, not the process's.
          release()
          return subscriber.error(error)
        }
        subscriber.add(
          source.subscribe({
            next: (v) => subscriber.next(v),
            error: (e: unknown) => (release(), subscriber.error(e)),
            complete: () => (release(), subscriber.complete()),
          }),
        )
      },
      (error: unknown) => {
        if (!controller.signal.aborted) subscriber.error(error)
      },
    )
    return () => {
      controller.abort()
      release()
    }
  })
}

/** Turns what a method returned into a promise of its (last) value, stopping at `signal`. @internal */
export function settleResult(result: unknown, signal: AbortSignal): Promise<unknown> {
  if (isObservable(result)) return lastValueFrom(result.pipe(takeUntil(fromEvent(signal, 'abort'))))
  return Promise.resolve(result)
}

/** A cold Observable for one cache/flight call; unsubscribing detaches only this caller. @internal */
export function observeCall<R>(call: (signal: AbortSignal) => Promise<R>): Observable<R> {
  return new Observable<R>((subscriber) => {
    const controller = new AbortController()
    let pending: Promise<R>
    try {
      pending = call(controller.signal)
    } catch (error) {
      subscriber.error(error)
      return
    }
    pending.then(
      (value) => {
        subscriber.next(value)
        subscriber.complete()
      },
      (error: unknown) => {
        if (!controller.signal.aborted) subscriber.error(error)
      },
    )
    return () => controller.abort()
  })
}

/** One signal for a wait: the caller's own (if any) and the subscription's teardown (if any). @internal */
export function bothSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return AbortSignal.any([a, b])
}
