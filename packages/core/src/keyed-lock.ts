import { InvalidArgumentError } from './errors'
import { deadlineSignal } from './deadline'
import { Guard, type GuardOwner } from './guard'
import { checkKey, compareKeys } from './keys'
import { checkDetectDeadlock, failNow, keyLock, type Lock, runWith, type LockOptions } from './lock'
import { probes } from './diagnostics'
import { deadlock, deadlockDetection, holdsHere } from './diagnostics-deadlock'
import { Meta, watchAcquire, watchAcquireCallback, watchTryAcquire } from './diagnostics-watch'
import { checkFunction, checkWaitOptions, describe, type WaitOptions } from './options'

/** Releases every guard of an `acquireMany` at once. */
class GuardSet implements GuardOwner {
  constructor(private readonly guards: Guard[]) {}
  releaseGuard(): void {
    // Reverse order of acquisition, like nested locks unwinding.
    for (let i = this.guards.length - 1; i >= 0; i--) this.guards[i]!.release()
  }
}

/**
 * What `KeyedLock.statistics()` returns.
 * @example
 * ```ts
 * const { keys, held, waiting } = locks.statistics()
 * ```
 */
export interface KeyedLockStatistics {
  /** Keys held or waited for (the same as `size`). */
  keys: number
  /** Keys held right now. */
  held: number
  /** Tasks queued across every key. */
  waiting: number
}

/**
 * A lock per key: `acquire('account:1')` and `acquire('account:2')` proceed independently, while
 * callers of the same key are served one at a time with the {@link Lock}'s rules (FIFO, no
 * barging, whichever of grant and abort happens first wins). A key that is neither held nor
 * waited for leaves nothing behind, so `size` returns to 0 however many keys were used.
 *
 * Keys follow `Map` semantics; plain objects, arrays, `undefined`, `null` and `NaN` are rejected
 * (see the package README, "Keys").
 *
 * Options as {@link Lock}'s: `name`, `warnAfter`, `detectDeadlock` (per key).
 *
 * @example
 * ```ts
 * const accounts = new KeyedLock<string>({ name: 'accounts' })
 * await accounts.runExclusive(`account:${id}`, async () => {
 *   const balance = await db.balance(id)
 *   await db.setBalance(id, balance - amount)
 * })
 * // transfers take both accounts, in one canonical order: no AB/BA deadlock
 * using _ = await accounts.acquireMany([`account:${from}`, `account:${to}`])
 * ```
 */
export class KeyedLock<K = string> {
  /** One {@link Lock} per key, only while the key is held or waited for (not held ⇒ gone). */
  private readonly entries = new Map<K, Lock>()
  /** @internal */
  readonly meta: Meta
  private readonly detectDeadlock: boolean

  /** @throws {@link InvalidArgumentError} for a malformed option. */
  constructor(options?: LockOptions) {
    this.meta = new Meta('KeyedLock', options)
    this.detectDeadlock = deadlockDetection(checkDetectDeadlock(options?.detectDeadlock, 'KeyedLock'))
  }

  /** Waits for `key`'s lock and resolves with a Guard that releases it. */
  acquire(key: K, opts?: WaitOptions): Promise<Guard> {
    // Diagnostics and misuse detection take a separate path, so the plain one stays as it was.
    if (probes.keyedLock.on) {
      const info = { primitive: 'KeyedLock', name: this.meta.name, key }
      return watchAcquire(probes.keyedLock, this.meta, info, this.entries.get(key)?.statistics().waiting ?? 0, opts?.signal, this.acquire, () =>
        this.take(key, opts),
      )
    }
    return this.take(key, opts)
  }

  private take(key: K, opts: WaitOptions | undefined): Promise<Guard> {
    checkKey(key, 'KeyedLock.acquire()')
    if (opts !== undefined && checkWaitOptions(opts, 'KeyedLock.acquire()')) return Promise.reject(opts.signal!.reason)
    const entry = this.entries.get(key)
    // Held, and held by the caller's own runExclusive(key) ⇒ it would wait for itself forever.
    if (entry?.locked() && this.detectDeadlock && holdsHere(this, key)) {
      return deadlock(`${this.meta.label('acquire()')} for key ${String(key)}`)
    }
    return (entry ?? this.lockFor(key)).take(opts)
  }

  /**
   * `acquire(key)` with callbacks, for adapters that must own the grant in the same tick it is
   * made (see `Lock.acquireCallback`).
   * @returns a function that withdraws the wait (a no-op after the grant).
   * @example
   * ```ts
   * const withdraw = locks.acquireCallback(doc.id, (guard) => save(doc).finally(() => guard.release()), fail)
   * ```
   */
  acquireCallback(key: K, onGrant: (guard: Guard) => void, onError: (reason: unknown) => void, opts?: WaitOptions): () => void {
    if (probes.keyedLock.on) {
      const info = { primitive: 'KeyedLock', name: this.meta.name, key }
      const waiting = this.entries.get(key)?.statistics().waiting ?? 0
      return watchAcquireCallback(probes.keyedLock, this.meta, info, waiting, opts?.signal, this.acquireCallback, onGrant, onError, (g, e) =>
        this.takeCallback(key, g, e, opts),
      )
    }
    return this.takeCallback(key, onGrant, onError, opts)
  }

  private takeCallback(key: K, onGrant: (guard: Guard) => void, onError: (reason: unknown) => void, opts: WaitOptions | undefined): () => void {
    checkKey(key, 'KeyedLock.acquireCallback()')
    if (opts !== undefined && checkWaitOptions(opts, 'KeyedLock.acquireCallback()')) return failNow(onError, opts.signal!.reason)
    return (this.entries.get(key) ?? this.lockFor(key)).takeCallback(onGrant, onError, opts)
  }

  /**
   * Takes every key, in one canonical order (duplicates ignored), and resolves with one Guard
   * that releases them all. All or nothing: if the wait is aborted or times out, the keys it had
   * already taken are released before it rejects. `timeout` bounds the whole call.
   */
  acquireMany(keys: Iterable<K>, opts?: WaitOptions): Promise<Guard> {
    if (keys === null || typeof keys !== 'object' || typeof (keys as Iterable<K>)[Symbol.iterator] !== 'function') {
      throw new InvalidArgumentError(`KeyedLock.acquireMany(): keys must be an array (or iterable) of keys, got ${describe(keys)}.`)
    }
    const unique = [...new Set(keys)]
    for (const key of unique) checkKey(key, 'KeyedLock.acquireMany()')
    if (opts !== undefined && checkWaitOptions(opts, 'KeyedLock.acquireMany()')) return Promise.reject(opts.signal!.reason)
    unique.sort(compareKeys)
    return this.acquireInOrder(unique, opts)
  }

  /** Takes `key` only if it is free and nobody waits for it. */
  tryAcquire(key: K): Guard | undefined {
    const guard = this.takeNow(key)
    if (guard === undefined || !probes.keyedLock.on) return guard
    return watchTryAcquire(probes.keyedLock, this.meta, { primitive: 'KeyedLock', name: this.meta.name, key }, this.tryAcquire, guard)
  }

  private takeNow(key: K): Guard | undefined {
    checkKey(key, 'KeyedLock.tryAcquire()')
    const entry = this.entries.get(key)
    if (entry !== undefined) return entry.grab()
    return this.lockFor(key).grab()
  }

  /**
   * Runs `fn` while holding `key` and releases it however `fn` ends.
   * @throws {@link InvalidArgumentError} synchronously if `fn` is not a function.
   */
  runExclusive<R>(key: K, fn: () => R | PromiseLike<R>, opts?: WaitOptions): Promise<Awaited<R>> {
    checkFunction(fn, 'KeyedLock.runExclusive', 'fn')
    return runWith(this.acquire(key, opts), fn, this.detectDeadlock ? this : undefined, key)
  }

  /** True while `key` is held. */
  locked(key: K): boolean {
    return this.entries.get(key)?.locked() === true
  }

  /** Number of keys currently held or waited for. */
  get size(): number {
    return this.entries.size
  }

  /** A snapshot for logs and metrics (walks the live keys: O(keys)). */
  statistics(): KeyedLockStatistics {
    let held = 0
    let waiting = 0
    for (const entry of this.entries.values()) {
      const { locked, waiting: queued } = entry.statistics()
      if (locked) held++
      waiting += queued
    }
    return { keys: this.entries.size, held, waiting }
  }

  /** A new key's Lock, registered; it removes itself when idle (its last holder released). */
  private lockFor(key: K): Lock {
    const lock: Lock = keyLock(this.meta, () => {
      if (this.entries.get(key) === lock) this.entries.delete(key)
    })
    this.entries.set(key, lock)
    return lock
  }

  private async acquireInOrder(keys: K[], opts: WaitOptions | undefined): Promise<Guard> {
    const guards: Guard[] = []
    // One deadline for the whole call, whatever the number of keys.
    const { signal, dispose } = deadlineSignal(opts, 'KeyedLock.acquireMany()')
    try {
      const waitOpts = signal === undefined ? undefined : { signal }
      for (const key of keys) guards.push(await this.acquire(key, waitOpts))
      return new Guard(new GuardSet(guards), 0)
    } catch (error) {
      for (let i = guards.length - 1; i >= 0; i--) guards[i]!.release()
      throw error
    } finally {
      dispose()
    }
  }
}
