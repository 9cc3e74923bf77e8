import { InvalidArgumentError, SingleFlight, SingleFlightCache } from '@yieldpoint/core'
import { from, lastValueFrom, mergeMap, Observable, takeUntil, fromEvent, type ObservableInput, type OperatorFunction } from 'rxjs'

/**
 * A {@link SingleFlight} or a {@link SingleFlightCache} from `@yieldpoint/core`.
 * @example
 * ```ts
 * const flights: Flights<string, User> = new SingleFlightCache({ ttl: 5_000 })
 * ```
 */
export type Flights<K, R> = SingleFlight<K, R> | SingleFlightCache<K, R>

/**
 * An Observable whose subscriptions share one execution per `key`: every subscription that
 * arrives while `factory`'s Observable runs joins it and receives its last value; with a
 * {@link SingleFlightCache} the value is also cached with the cache's TTL rules. Each
 * subscription is one caller: unsubscribing detaches only it, and `factory`'s `signal` aborts
 * (unsubscribing its Observable) only when every caller has left (SingleFlight) or as the
 * cache's `abortLoaderWhenNoWaiters` says. Errors reach every caller and are not kept.
 *
 * ```text
 * subscriptions:  ^--  ^--  ^--     (three concurrent subscribers for key 'k')
 * factory('k'):   --v|              (runs once)
 * each receives:  --v|
 * ```
 * @example
 * ```ts
 * const user$ = (id: string) => fromFlight(users, `user:${id}`, (signal) => ajax.getJSON(`/users/${id}`))
 * ```
 */
export function fromFlight<K, R>(flights: Flights<K, R>, key: K, factory: (signal: AbortSignal) => ObservableInput<R>): Observable<R> {
  if (!(flights instanceof SingleFlight) && !(flights instanceof SingleFlightCache)) {
    throw new InvalidArgumentError('fromFlight(flights, …): flights must be a SingleFlight or a SingleFlightCache from @yieldpoint/core.')
  }
  if (typeof factory !== 'function') throw new InvalidArgumentError('fromFlight(…, factory): factory must be a function (signal) => ObservableInput.')
  const run = (signal: AbortSignal): Promise<R> => lastValueFrom(from(factory(signal)).pipe(takeUntil(fromEvent(signal, 'abort'))))
  return new Observable<R>((subscriber) => {
    const controller = new AbortController()
    const shared =
      flights instanceof SingleFlight
        ? flights.run(key, run, { signal: controller.signal })
        : flights.getOrSet(key, ({ signal }) => run(signal), { signal: controller.signal })
    shared.then(
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
export function flightMap<T, K, R>(flights: Flights<K, R>, keyOf: (value: T) => K, project: (value: T, signal: AbortSignal) => ObservableInput<R>): OperatorFunction<T, R> {
  if (typeof keyOf !== 'function') throw new InvalidArgumentError('flightMap(flights, keyOf, …): keyOf must be a function (value) => key.')
  return mergeMap((value: T) => fromFlight(flights, keyOf(value), (signal) => project(value, signal)))
}
