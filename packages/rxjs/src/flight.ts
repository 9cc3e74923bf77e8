import { type Coalescer, InvalidArgumentError, type WaitOptions } from '@yieldpoint/core'
import { from, lastValueFrom, mergeMap, Observable, takeUntil, fromEvent, type ObservableInput, type OperatorFunction } from 'rxjs'
import { checkFunction, checkOptions, waitOptions } from './options'

/** What the shared work returns when the factory's Observable completed without a value. */
const EMPTY_RESULT: unique symbol = Symbol('empty')

function checkFlights(api: string, flights: unknown): asserts flights is Coalescer<unknown, unknown> {
  if (flights === null || typeof flights !== 'object' || typeof (flights as Coalescer<unknown, unknown>).run !== 'function') {
    throw new InvalidArgumentError(
      `${api}: flights must be a Coalescer — a SingleFlight or a SingleFlightCache from @yieldpoint/core (anything with run(key, fn, opts)).`,
    )
  }
}

/**
 * An Observable whose subscriptions share one execution per `key`, like `share()` across every
 * stream using `flights` (any `Coalescer`: a `SingleFlight`, or a `SingleFlightCache` that also
 * caches the value with its TTL rules): a subscription that arrives while `factory`'s Observable
 * runs joins it.
 *
 * Where it follows `share()`: unsubscribing detaches only that subscriber, even from a factory
 * that never completes; the factory's Observable is unsubscribed (its `signal` aborts) when the
 * last subscriber leaves (SingleFlight; a cache lets the load finish unless
 * `abortLoaderWhenNoWaiters`); an error reaches every current subscriber and the next
 * subscription starts afresh; an empty factory completes every subscriber empty (nothing is
 * cached). Where it differs, and why: every subscriber receives only the factory's **last**
 * value (a single-flight shares a result, and a cache keeps one value), and a cache hit or a
 * join arrives in a **microtask**, not synchronously (the shared result is a Promise, and the
 * cache's store may be remote).
 *
 * `timeout`/`signal` bound how long each subscriber waits (it errors with `TimeoutError` /
 * `signal.reason`; the execution goes on for the others).
 *
 * ```text
 * subscriptions:  ^--  ^--  ^--     (three concurrent subscribers for key 'k')
 * factory('k'):   --v|              (runs once)
 * each receives:  --v|              (a microtask after the factory's last value)
 * ```
 * @example
 * ```ts
 * const user$ = (id: string) => fromFlight(users, `user:${id}`, (signal) => ajax.getJSON(`/users/${id}`))
 * ```
 */
export function fromFlight<K, R>(flights: Coalescer<K, R>, key: K, factory: (signal: AbortSignal) => ObservableInput<R>, opts?: WaitOptions): Observable<R> {
  checkFlights('fromFlight(flights, key, factory)', flights)
  checkFunction('fromFlight(flights, key, factory)', factory, 'factory')
  checkOptions('fromFlight(flights, key, factory, options)', opts, ['signal', 'timeout'])
  const work = async (signal: AbortSignal, context: { keep: boolean }): Promise<R | typeof EMPTY_RESULT> => {
    const value = await lastValueFrom<R, typeof EMPTY_RESULT>(from(factory(signal)).pipe(takeUntil(fromEvent(signal, 'abort'))), { defaultValue: EMPTY_RESULT })
    // Nothing to cache: the subscribers waiting now complete empty, and the next one runs again.
    if (value === EMPTY_RESULT) context.keep = false
    return value
  }
  const wait = waitOptions(opts)
  return new Observable<R>((subscriber) => {
    // Unsubscribing is this subscriber's signal; a caller's `signal` aborts it too.
    const controller = new AbortController()
    const outer = wait?.signal
    if (outer?.aborted === true) return subscriber.error(outer.reason)
    let torn = false
    const onAbort = (): void => controller.abort(outer!.reason)
    outer?.addEventListener('abort', onAbort, { once: true })
    ;(flights as Coalescer<K, R | typeof EMPTY_RESULT>).run(key, work, { signal: controller.signal, timeout: wait?.timeout }).then(
      (value) => {
        outer?.removeEventListener('abort', onAbort)
        if (value !== EMPTY_RESULT) subscriber.next(value)
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

/**
 * `mergeMap` through {@link fromFlight}: emissions whose `keyOf` is equal — in this stream or
 * any other sharing `flights` — share one inner execution while it runs.
 *
 * ```text
 * source:                   -a-a-a-b-|
 * flightMap(k => k, fetch):  --A-A-A-B-|   (fetch('a') ran once, fetch('b') once)
 * ```
 * @example
 * ```ts
 * clicks$.pipe(flightMap(products, (e) => e.productId, (id, signal) => fetch$(id, signal)))
 * ```
 */
export function flightMap<T, K, R>(
  flights: Coalescer<K, R>,
  keyOf: (value: T) => K,
  project: (value: T, signal: AbortSignal) => ObservableInput<R>,
  opts?: WaitOptions,
): OperatorFunction<T, R> {
  checkFlights('flightMap(flights, keyOf, project)', flights)
  checkFunction('flightMap(flights, keyOf, project)', keyOf, 'keyOf')
  checkFunction('flightMap(flights, keyOf, project)', project, 'project')
  checkOptions('flightMap(flights, keyOf, project, options)', opts, ['signal', 'timeout'])
  return mergeMap((value: T) => fromFlight(flights, keyOf(value), (signal) => project(value, signal), opts))
}
