import type { Guard } from '@yieldpoint/core'
import { Observable, type MonoTypeOperatorFunction } from 'rxjs'

/** How an operator takes and gives back what it holds. @internal */
export interface Acquirer {
  tryAcquire(): Guard | undefined
  acquire(signal: AbortSignal): Promise<Guard>
}

/**
 * Subscribes to the source only while holding a guard, and releases it exactly once: on
 * complete and on error (before forwarding them, so `retry`/`repeat` can take it again) and on
 * unsubscribe. Unsubscribing while still waiting aborts the wait, so no waiter is left behind.
 * When the guard is free the source is subscribed synchronously.
 * @internal
 */
export function withGuard<T>(acquirer: () => Acquirer): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      const target = acquirer()
      let guard: Guard | undefined
      let controller: AbortController | undefined
      const release = (): void => {
        const held = guard
        guard = undefined
        held?.release()
      }
      const run = (granted: Guard): void => {
        guard = granted
        if (subscriber.closed) return release()
        subscriber.add(
          source.subscribe({
            next: (value) => subscriber.next(value),
            error: (error: unknown) => {
              release()
              subscriber.error(error)
            },
            complete: () => {
              release()
              subscriber.complete()
            },
          }),
        )
      }
      const immediate = target.tryAcquire()
      if (immediate !== undefined) run(immediate)
      else {
        controller = new AbortController()
        target.acquire(controller.signal).then(run, (error: unknown) => {
          if (!controller!.signal.aborted) subscriber.error(error)
        })
      }
      return () => {
        controller?.abort()
        release()
      }
    })
}
