import { InvalidArgumentError, KeyedLock, Lock, Semaphore, type SemaphoreAcquireOptions, type WaitOptions } from '@yieldpoint/core'
import { defer, mergeMap, type MonoTypeOperatorFunction, type ObservableInput, type ObservedValueOf, type OperatorFunction } from 'rxjs'
import { checkFunction, checkOptions, type MapOptions, type PermitMapOptions, waitOptions } from './options'
import { type Acquire, guardExhaustMap, guardMap, holding } from './with-guard'

const WAIT = ['signal', 'timeout'] as const
const PERMIT = ['signal', 'timeout', 'permits'] as const

function checkLock(api: string, lock: unknown): asserts lock is Lock {
  if (!(lock instanceof Lock)) throw new InvalidArgumentError(`${api}: lock must be a Lock from @yieldpoint/core.`)
}
function checkSemaphore(api: string, semaphore: unknown): asserts semaphore is Semaphore {
  if (!(semaphore instanceof Semaphore)) throw new InvalidArgumentError(`${api}: semaphore must be a Semaphore from @yieldpoint/core.`)
}
function checkKeyedLock(api: string, locks: unknown): asserts locks is KeyedLock<unknown> {
  if (!(locks instanceof KeyedLock)) throw new InvalidArgumentError(`${api}: locks must be a KeyedLock from @yieldpoint/core.`)
}

const lockAcquire = (lock: Lock, opts: WaitOptions | undefined): Acquire => {
  const wait = waitOptions(opts)
  return (onGrant, onError) => lock.acquireCallback(onGrant, onError, wait)
}
const permitAcquire = (semaphore: Semaphore, opts: SemaphoreAcquireOptions | undefined): Acquire => {
  const wait: SemaphoreAcquireOptions = { ...waitOptions(opts), permits: opts?.permits ?? 1 }
  return (onGrant, onError) => semaphore.acquireCallback(onGrant, onError, wait)
}
const keyAcquire = <K>(locks: KeyedLock<K>, key: K, opts: WaitOptions | undefined): Acquire => {
  const wait = waitOptions(opts)
  return (onGrant, onError) => locks.acquireCallback(key, onGrant, onError, wait)
}

/**
 * Runs the source while holding `lock`: subscribes once the lock is granted, releases it when
 * the source completes, errors or is unsubscribed (exactly once, before `unsubscribe()`
 * returns). Unsubscribing while waiting leaves the lock's queue at once. `timeout`/`signal`
 * bound the wait (the subscription errors with `TimeoutError` / `signal.reason`); unsubscribing
 * is the per-subscription signal.
 *
 * ```text
 * a$.pipe(withLock(lock)):  -a-b-|           (lock held from subscribe to |)
 * b$.pipe(withLock(lock)):  -----c-d-|       (subscribed in the frame a$ released it, FIFO)
 * ```
 * @example
 * ```ts
 * const save$ = defer(() => http.put(url, doc)).pipe(withLock(docLock, { timeout: 5_000 }))
 * ```
 */
export function withLock<T>(lock: Lock, opts?: WaitOptions): MonoTypeOperatorFunction<T> {
  checkLock('withLock(lock)', lock)
  checkOptions('withLock(lock, options)', opts, WAIT)
  const acquire = lockAcquire(lock, opts)
  return holding<T>(() => acquire)
}

/**
 * Runs the source while holding permits of `semaphore` (`{ permits }`, default 1) — bounds how
 * many subscriptions, across every stream that shares the semaphore, run at once.
 *
 * ```text
 * Semaphore(2), three sources:   A: --a|   B: --b|   C: ··--c|   (C starts in the frame A ends)
 * ```
 * @example
 * ```ts
 * const partner = new Semaphore(4)
 * ids$.pipe(mergeMap((id) => fetch$(id).pipe(withPermit(partner, { timeout: 10_000 }))))
 * ```
 */
export function withPermit<T>(semaphore: Semaphore, opts?: SemaphoreAcquireOptions): MonoTypeOperatorFunction<T> {
  checkSemaphore('withPermit(semaphore)', semaphore)
  checkOptions('withPermit(semaphore, options)', opts, PERMIT)
  const acquire = permitAcquire(semaphore, opts)
  return holding<T>(() => acquire)
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
export function withKey<T, K>(locks: KeyedLock<K>, key: K, opts?: WaitOptions): MonoTypeOperatorFunction<T> {
  checkKeyedLock('withKey(locks, key)', locks)
  checkOptions('withKey(locks, key, options)', opts, WAIT)
  const acquire = keyAcquire(locks, key, opts)
  return holding<T>(() => acquire)
}

/**
 * `mergeMap(project, concurrent)` where each inner Observable runs while holding `lock` — inner
 * Observables from this stream *and every other stream sharing the lock* never overlap, in FIFO
 * order. The stream keeps one wait open at a time and buffers the values behind it.
 *
 * ```text
 * source:             --1--2|
 * lockMap(lock, -a|): ---a---b|      (p(2) waits for p(1) to complete)
 * ```
 * @example
 * ```ts
 * edits$.pipe(lockMap(docLock, (edit) => save$(edit)))
 * ```
 */
export function lockMap<T, O extends ObservableInput<unknown>>(
  lock: Lock,
  project: (value: T, index: number) => O,
  opts?: MapOptions,
): OperatorFunction<T, ObservedValueOf<O>> {
  checkLock('lockMap(lock, project)', lock)
  checkFunction('lockMap(lock, project)', project, 'project')
  checkOptions('lockMap(lock, project, options)', opts, [...WAIT, 'concurrent'])
  return guardMap(lockAcquire(lock, opts), project, opts?.concurrent ?? Infinity)
}

/**
 * `mergeMap(project, concurrent)` where each inner Observable holds permits of `semaphore` — a
 * concurrency limit shared across streams and subscriptions (unlike `mergeMap`'s own
 * `concurrent`, which only bounds one stream). The stream keeps ONE wait open on the semaphore
 * at a time and buffers the values behind it, like `mergeMap` beyond `concurrent`: 10,000
 * values are 10,000 buffered values, not 10,000 queued waiters.
 *
 * ```text
 * source:                        12345|
 * permitMap(Semaphore(2), --a|): --aa-aa-a|   (two inner Observables at a time)
 * ```
 * @example
 * ```ts
 * ids$.pipe(permitMap(partnerApi, (id) => fetch$(id), { concurrent: 8 }))
 * ```
 */
export function permitMap<T, O extends ObservableInput<unknown>>(
  semaphore: Semaphore,
  project: (value: T, index: number) => O,
  opts?: PermitMapOptions,
): OperatorFunction<T, ObservedValueOf<O>> {
  checkSemaphore('permitMap(semaphore, project)', semaphore)
  checkFunction('permitMap(semaphore, project)', project, 'project')
  checkOptions('permitMap(semaphore, project, options)', opts, [...PERMIT, 'concurrent'])
  return guardMap(permitAcquire(semaphore, opts), project, opts?.concurrent ?? Infinity)
}

/**
 * `mergeMap(project, concurrent)` where each inner Observable holds the key `keyOf(value)` of a
 * {@link KeyedLock}: values with the same key run one at a time (FIFO, across every stream
 * sharing `locks`), other keys in parallel — the map form of {@link withKey}.
 *
 * ```text
 * source:                         ab-a|
 * keyedLockMap(locks, k=>k, -x|): -xx-x|   (the second 'a' waits only for the first 'a')
 * ```
 * @example
 * ```ts
 * edits$.pipe(keyedLockMap(docs, (edit) => edit.docId, (edit) => save$(edit)))
 * ```
 */
export function keyedLockMap<T, K, O extends ObservableInput<unknown>>(
  locks: KeyedLock<K>,
  keyOf: (value: T) => K,
  project: (value: T, index: number) => O,
  opts?: MapOptions,
): OperatorFunction<T, ObservedValueOf<O>> {
  checkKeyedLock('keyedLockMap(locks, keyOf, project)', locks)
  checkFunction('keyedLockMap(locks, keyOf, project)', keyOf, 'keyOf')
  checkFunction('keyedLockMap(locks, keyOf, project)', project, 'project')
  checkOptions('keyedLockMap(locks, keyOf, project, options)', opts, [...WAIT, 'concurrent'])
  return mergeMap(
    (value: T, index: number) => defer(() => project(value, index)).pipe(holding<ObservedValueOf<O>>(() => keyAcquire(locks, keyOf(value), opts))),
    opts?.concurrent ?? Infinity,
  )
}

/**
 * Exhaust-style `lockMap`: a value that arrives while `lock` is held — by this stream or any
 * other — is dropped ("skip while busy", like `exhaustMap` across streams); otherwise its inner
 * Observable runs holding the lock. Never waits, so it takes no `timeout`/`signal`.
 *
 * ```text
 * source:                   12-3|
 * exhaustLockMap(lock, -a|): -a--a|   (2 arrived while p(1) held the lock: dropped)
 * ```
 * @example
 * ```ts
 * refreshClicks$.pipe(exhaustLockMap(refreshLock, () => refresh$()))
 * ```
 */
export function exhaustLockMap<T, O extends ObservableInput<unknown>>(
  lock: Lock,
  project: (value: T, index: number) => O,
): OperatorFunction<T, ObservedValueOf<O>> {
  checkLock('exhaustLockMap(lock, project)', lock)
  checkFunction('exhaustLockMap(lock, project)', project, 'project')
  return guardExhaustMap(() => lock.tryAcquire(), project)
}

/**
 * Exhaust-style `permitMap`: a value that arrives when `semaphore` has no free permit (or
 * someone is queued) is dropped; otherwise its inner Observable runs holding `{ permits }`.
 * @example
 * ```ts
 * pings$.pipe(exhaustPermitMap(probes, (host) => probe$(host)))
 * ```
 */
export function exhaustPermitMap<T, O extends ObservableInput<unknown>>(
  semaphore: Semaphore,
  project: (value: T, index: number) => O,
  opts?: Pick<SemaphoreAcquireOptions, 'permits'>,
): OperatorFunction<T, ObservedValueOf<O>> {
  checkSemaphore('exhaustPermitMap(semaphore, project)', semaphore)
  checkFunction('exhaustPermitMap(semaphore, project)', project, 'project')
  checkOptions('exhaustPermitMap(semaphore, project, options)', opts, ['permits'])
  const permits = { permits: opts?.permits ?? 1 }
  return guardExhaustMap(() => semaphore.tryAcquire(permits), project)
}

/**
 * Exhaust-style `keyedLockMap`: a value whose key is held is dropped; other keys run.
 * @example
 * ```ts
 * refresh$.pipe(exhaustKeyedLockMap(refreshing, (r) => r.id, (r) => reload$(r.id)))
 * ```
 */
export function exhaustKeyedLockMap<T, K, O extends ObservableInput<unknown>>(
  locks: KeyedLock<K>,
  keyOf: (value: T) => K,
  project: (value: T, index: number) => O,
): OperatorFunction<T, ObservedValueOf<O>> {
  checkKeyedLock('exhaustKeyedLockMap(locks, keyOf, project)', locks)
  checkFunction('exhaustKeyedLockMap(locks, keyOf, project)', keyOf, 'keyOf')
  checkFunction('exhaustKeyedLockMap(locks, keyOf, project)', project, 'project')
  return guardExhaustMap((value: T) => locks.tryAcquire(keyOf(value)), project)
}
