import { InvalidArgumentError, KeyedLock, Lock, Semaphore } from '@yieldpoint/core'
import { defer, mergeMap, type MonoTypeOperatorFunction, type ObservableInput, type ObservedValueOf, type OperatorFunction } from 'rxjs'
import { withGuard } from './with-guard'

/**
 * Runs the source while holding `lock`: subscribes once the lock is granted, releases it when
 * the source completes, errors or is unsubscribed (exactly once). Unsubscribing while waiting
 * leaves the lock's queue at once.
 *
 * ```text
 * a$.pipe(withLock(lock)):  --a--b--|            (lock held from subscribe to |)
 * b$.pipe(withLock(lock)):  ··········--c--|     (waits for a$ to finish, FIFO)
 * ```
 * @example
 * ```ts
 * const save$ = defer(() => http.put(url, doc)).pipe(withLock(docLock))
 * ```
 */
export function withLock<T>(lock: Lock): MonoTypeOperatorFunction<T> {
  if (!(lock instanceof Lock)) throw new InvalidArgumentError('withLock(lock): lock must be a Lock from @yieldpoint/core.')
  return withGuard<T>(() => ({ tryAcquire: () => lock.tryAcquire(), acquire: (signal) => lock.acquire({ signal }) }))
}

/**
 * Runs the source while holding `permits` (default 1) of `semaphore` — bounds how many
 * subscriptions, across every stream that shares the semaphore, run at once.
 *
 * ```text
 * Semaphore(2), three sources:   A: --a|   B: --b|   C: ····--c|   (C starts when A or B ends)
 * ```
 * @example
 * ```ts
 * const partner = new Semaphore(4)
 * ids$.pipe(mergeMap((id) => fetch$(id).pipe(withPermit(partner))))
 * ```
 */
export function withPermit<T>(semaphore: Semaphore, permits = 1): MonoTypeOperatorFunction<T> {
  if (!(semaphore instanceof Semaphore)) throw new InvalidArgumentError('withPermit(semaphore): semaphore must be a Semaphore from @yieldpoint/core.')
  if (!Number.isInteger(permits) || permits < 1) throw new InvalidArgumentError(`withPermit(semaphore, permits): permits must be an integer >= 1, got ${String(permits)}.`)
  return withGuard<T>(() => ({ tryAcquire: () => semaphore.tryAcquire(permits), acquire: (signal) => semaphore.acquire({ signal, permits }) }))
}

/**
 * Runs the source while holding `key` of a {@link KeyedLock}: sources with the same key run one
 * at a time, other keys in parallel.
 *
 * ```text
 * key 'a': --x|  ··--y|      key 'b': --z|   (only the two 'a' sources wait for each other)
 * ```
 * @example
 * ```ts
 * save$(doc).pipe(withKey(docs, doc.id))
 * ```
 */
export function withKey<T, K>(locks: KeyedLock<K>, key: K): MonoTypeOperatorFunction<T> {
  if (!(locks instanceof KeyedLock)) throw new InvalidArgumentError('withKey(locks, key): locks must be a KeyedLock from @yieldpoint/core.')
  return withGuard<T>(() => ({ tryAcquire: () => locks.tryAcquire(key), acquire: (signal) => locks.acquire(key, { signal }) }))
}

/**
 * `mergeMap` where each inner Observable runs while holding `lock` — inner Observables from this
 * stream *and every other stream sharing the lock* never overlap, in FIFO order.
 *
 * ```text
 * source:          --1----2-3--|
 * lockMap(lock, p): --[p(1)]-[p(2)][p(3)]-|   (each inner waits for the previous one to end)
 * ```
 * @example
 * ```ts
 * edits$.pipe(lockMap(docLock, (edit) => save$(edit)))
 * ```
 */
export function lockMap<T, O extends ObservableInput<unknown>>(lock: Lock, project: (value: T, index: number) => O): OperatorFunction<T, ObservedValueOf<O>> {
  const hold = withLock<ObservedValueOf<O>>(lock)
  return mergeMap((value: T, index: number) => defer(() => project(value, index)).pipe(hold))
}

/**
 * `mergeMap` where each inner Observable runs while holding a permit of `semaphore` — a
 * concurrency limit shared across streams and subscriptions (unlike `mergeMap`'s own
 * `concurrent`, which only bounds one stream).
 *
 * ```text
 * source:                  -1-2-3-4-|
 * permitMap(Semaphore(2)): at most two inner Observables subscribed at any time
 * ```
 * @example
 * ```ts
 * ids$.pipe(permitMap(partnerApi, (id) => fetch$(id)))
 * ```
 */
export function permitMap<T, O extends ObservableInput<unknown>>(semaphore: Semaphore, project: (value: T, index: number) => O, permits = 1): OperatorFunction<T, ObservedValueOf<O>> {
  const hold = withPermit<ObservedValueOf<O>>(semaphore, permits)
  return mergeMap((value: T, index: number) => defer(() => project(value, index)).pipe(hold))
}
