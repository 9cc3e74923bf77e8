import type { Guard } from '@yieldpoint/core'
import {
  from,
  Observable,
  type MonoTypeOperatorFunction,
  type ObservableInput,
  type ObservedValueOf,
  type OperatorFunction,
  type Subscriber,
  Subscription,
} from 'rxjs'
import { begin, Relay, tearDown } from './relay'

/**
 * Starts a wait on a primitive's `acquireCallback`: `onGrant` runs synchronously at the grant.
 * @returns the function that withdraws the wait.
 * @internal
 */
export type Acquire = (onGrant: (guard: Guard) => void, onError: (reason: unknown) => void) => () => void

/**
 * Subscribes to the source only while holding a guard, and releases it exactly once: on complete
 * and on error (before forwarding them, so `retry`/`repeat` can take it again) and on
 * unsubscribe. Unsubscribing while still waiting withdraws the wait, so no waiter is left
 * behind; unsubscribing after a grant releases it before `unsubscribe()` returns. The source is
 * subscribed synchronously at the grant (at once when the guard is free) with the subscriber
 * itself, so a synchronous source sees `closed`.
 * @internal
 */
export function holding<T>(acquire: () => Acquire): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      let guard: Guard | undefined
      const release = (): void => {
        const held = guard
        guard = undefined
        held?.release()
      }
      const start = (): void => {
        if (subscriber.closed) return release()
        const relay = new Relay<T>(subscriber, release)
        subscriber.add(relay)
        source.subscribe(relay)
      }
      const withdraw = acquire()(
        (granted) => {
          guard = granted
          begin(start)
        },
        (error) => subscriber.error(error),
      )
      return () =>
        tearDown(() => {
          withdraw()
          release()
        })
    })
}

/**
 * Runs one inner Observable, `project(value, i)`, inside `slot` while its guard is held: values
 * and errors go to `subscriber`, `release` (idempotent) runs when the inner ends or a throwing
 * `project` fails the stream, and `done` runs once the inner completed and its slot closed.
 * Shared by {@link guardMap} and {@link guardExhaustMap}, so both run inners the same way.
 */
function runInner<T, R>(
  subscriber: Subscriber<R>,
  slot: Subscription,
  project: (value: T, index: number) => ObservableInput<unknown>,
  value: T,
  i: number,
  release: () => void,
  done: () => void,
): void {
  let inner: Observable<R>
  try {
    inner = from(project(value, i)) as Observable<R>
  } catch (error) {
    release()
    return subscriber.error(error)
  }
  const relay = new Relay<R>(
    {
      next: (v) => subscriber.next(v),
      error: (e) => subscriber.error(e),
      complete: () => {
        slot.unsubscribe()
        done()
      },
    },
    release,
  )
  slot.add(relay)
  inner.subscribe(relay)
}

/**
 * The engine of `lockMap` and `permitMap`: `mergeMap(project, concurrent)` where each inner
 * Observable runs holding a guard. The stream keeps at most ONE wait open on the primitive at a
 * time and buffers the values behind it (as `mergeMap` buffers beyond `concurrent`), so 10,000
 * values never become 10,000 queued waiters, and several streams sharing a primitive still take
 * turns in FIFO order.
 * @internal
 */
export function guardMap<T, O extends ObservableInput<unknown>>(
  acquire: Acquire,
  project: (value: T, index: number) => O,
  concurrent: number,
): OperatorFunction<T, ObservedValueOf<O>> {
  type R = ObservedValueOf<O>
  return (source) =>
    new Observable<R>((subscriber) => {
      const buffer: T[] = []
      let index = 0
      let active = 0 // inner Observables running or waiting
      let waiting = false
      let sourceDone = false
      const finish = (): void => {
        if (sourceDone && active === 0 && buffer.length === 0) subscriber.complete()
      }
      const startInner = (slot: Subscription, value: T, i: number, release: () => void): void => {
        if (slot.closed) return release()
        runInner(subscriber, slot, project, value, i, release, () => {
          active--
          pump()
          finish()
        })
      }
      let pumping = false
      let again = false
      // A loop, not recursion: an inner Observable that completes synchronously asks to pump
      // again from inside the pump.
      const pump = (): void => {
        if (pumping) {
          again = true
          return
        }
        pumping = true
        try {
          do {
            again = false
            while (!waiting && active < concurrent && buffer.length > 0 && !subscriber.closed) {
              const value = buffer.shift() as T
              const i = index++
              active++
              const slot = new Subscription()
              subscriber.add(slot)
              let guard: Guard | undefined
              const release = (): void => {
                const held = guard
                guard = undefined
                held?.release()
              }
              waiting = true
              const withdraw = acquire(
                (granted) => {
                  waiting = false
                  guard = granted
                  begin(() => startInner(slot, value, i, release))
                  if (!pumping) pump()
                },
                (error) => {
                  waiting = false
                  subscriber.error(error)
                },
              )
              slot.add(() => tearDown(() => (withdraw(), release())))
            }
          } while (again)
        } finally {
          pumping = false
        }
      }
      const outer = new Relay<T>(
        {
          next: (value) => {
            buffer.push(value)
            pump()
          },
          error: (error) => subscriber.error(error),
          complete: () => {
            sourceDone = true
            finish()
          },
        },
        () => {},
      )
      subscriber.add(outer)
      source.subscribe(outer)
    })
}

/**
 * The engine of the exhaust-style operators: a value whose guard is not free *right now*
 * (`tryAcquire`) is dropped; otherwise its inner Observable runs holding it.
 * @internal
 */
export function guardExhaustMap<T, O extends ObservableInput<unknown>>(
  tryAcquire: (value: T) => Guard | undefined,
  project: (value: T, index: number) => O,
): OperatorFunction<T, ObservedValueOf<O>> {
  type R = ObservedValueOf<O>
  return (source) =>
    new Observable<R>((subscriber) => {
      let index = 0
      let active = 0
      let sourceDone = false
      const finish = (): void => {
        if (sourceDone && active === 0) subscriber.complete()
      }
      const outer = new Relay<T>(
        {
          next: (value) => {
            const i = index++
            const guard = tryAcquire(value)
            if (guard === undefined) return // busy: skip, like exhaustMap
            active++
            const slot = new Subscription()
            subscriber.add(slot)
            let held: Guard | undefined = guard
            const release = (): void => {
              const g = held
              held = undefined
              g?.release()
            }
            slot.add(() => tearDown(release))
            runInner(subscriber, slot, project, value, i, release, () => {
              active--
              finish()
            })
          },
          error: (error) => subscriber.error(error),
          complete: () => {
            sourceDone = true
            finish()
          },
        },
        () => {},
      )
      subscriber.add(outer)
      source.subscribe(outer)
    })
}
