import { ClosedError, InvalidArgumentError, LockNotAcquiredError } from './errors'
import { Guard } from './guard'
import { probes } from './diagnostics'
import { deadlock, deadlockDetection, holdsHere, runHolding } from './diagnostics-deadlock'
import { Meta, watchAcquire, watchAcquireCallback, watchTryAcquire, type PrimitiveOptions } from './diagnostics-watch'
import { checkFunction, checkWaitOptions, describe, type WaitOptions } from './options'
import { parkWithdrawable, WaitQueue } from './wait-queue'

/**
 * What `Lock.statistics()` returns.
 * @example
 * ```ts
 * const { locked, waiting } = lock.statistics()
 * ```
 */
export interface LockStatistics {
  /** True while someone holds the lock. */
  locked: boolean
  /** Tasks queued for it. */
  waiting: number
  /** True after `close()`. */
  closed: boolean
}

/**
 * Options of {@link Lock}: a `name`, `warnAfter`, and deadlock detection.
 * @example
 * ```ts
 * const lock = new Lock({ name: 'ledger', warnAfter: 5_000, detectDeadlock: true })
 * ```
 */
export interface LockOptions extends PrimitiveOptions {
  /**
   * Reject with {@link DeadlockError} an acquire made inside this lock's own `runExclusive`
   * (it would wait for itself forever). Default: on where it is cheap (Node ≥ 24), off on Node
   * 20/22, where it uses AsyncLocalStorage while a `runExclusive` runs (slower promises).
   */
  detectDeadlock?: boolean | undefined
}

/**
 * A mutual-exclusion lock with asyncio's semantics, made JS-native.
 *
 * **Fairness.** Strict FIFO and no barging: `release()` hands the lock directly to the waiter
 * that has waited longest, so a task that releases and immediately re-acquires queues behind it,
 * and `tryAcquire()` never jumps the queue. (asyncio moves ownership when the woken task resumes;
 * handing it over at `release()` gives the same order and lets the JS rule below be exact.)
 *
 * **Cancellation.** `acquire({ signal, timeout })`: whichever of grant and abort happens first
 * wins. An aborted waiter leaves the queue at once and rejects with `signal.reason`; an abort
 * after the grant is ignored — the caller owns the lock and must release it.
 *
 * There is no owner identity (as in asyncio, any code may call `release()`), but a {@link Guard}
 * only ever releases its own grant: a guard whose hold was already ended does nothing.
 *
 * `name` labels the lock in errors, warnings and the `yieldpoint:lock` diagnostics channel;
 * `warnAfter` and `detectDeadlock` turn on misuse detection (see {@link LockOptions}).
 *
 * @example
 * ```ts
 * const lock = new Lock({ name: 'counter' })
 * async function increment() {
 *   using _ = await lock.acquire()
 *   const v = await db.get('n')
 *   await db.set('n', v + 1)
 * }
 * ```
 */
export class Lock {
  private held = false
  /** Token of the current grant; a guard with another token is stale. */
  private holder = 0
  private grants = 0
  private closedReason: ClosedError | undefined = undefined
  private readonly queue: WaitQueue<Guard>
  /** @internal */
  readonly meta: Meta
  private readonly detectDeadlock: boolean
  /** A KeyedLock's key lock: told when it is free with nobody queued, so the key can go. */
  private readonly onIdle: (() => void) | undefined

  /** @throws {@link InvalidArgumentError} for a malformed option. */
  constructor(options?: LockOptions) {
    const key = keyConfig
    keyConfig = undefined
    this.meta = key?.meta ?? new Meta('Lock', options)
    // A key lock's deadlocks are detected by its KeyedLock, per key.
    this.detectDeadlock = key === undefined && deadlockDetection(checkDetectDeadlock(options?.detectDeadlock, 'Lock'))
    this.queue = new WaitQueue<Guard>(this.meta.label('acquire()'))
    this.onIdle = key?.onIdle
  }

  /**
   * Waits for the lock and resolves with a {@link Guard} that releases it.
   * Rejects with `signal.reason` on abort, {@link TimeoutError} on timeout, {@link ClosedError}
   * after `close()`.
   */
  acquire(opts?: WaitOptions): Promise<Guard> {
    // Diagnostics and misuse detection take a separate path, so the plain one stays as it was.
    if (probes.lock.on) return watchAcquire(probes.lock, this.meta, this.meta, this.queue.length, opts?.signal, this.acquire, () => this.take(opts))
    return this.take(opts)
  }

  /** The plain path of `acquire()` (no diagnostics): KeyedLock calls it for its keys. @internal */
  take(opts: WaitOptions | undefined): Promise<Guard> {
    if (opts !== undefined && checkWaitOptions(opts, this.queue.api)) return Promise.reject(opts.signal!.reason)
    if (this.closedReason !== undefined) return Promise.reject(this.closedReason)
    if (!this.held) {
      this.held = true
      return Promise.resolve(new Guard(this, (this.holder = ++this.grants)))
    }
    // Held, and held by the caller's own runExclusive ⇒ it would wait for itself forever.
    if (this.detectDeadlock && holdsHere(this, undefined)) return deadlock(this.queue.api)
    return this.queue.park(1, opts)
  }

  /**
   * Takes the lock only if that needs no waiting: it is free and nobody is queued.
   * @returns a Guard, or `undefined` if the lock is busy.
   * @throws {@link ClosedError} after `close()`.
   */
  tryAcquire(): Guard | undefined {
    const guard = this.grab()
    if (guard === undefined) return undefined
    return probes.lock.on ? watchTryAcquire(probes.lock, this.meta, this.meta, this.tryAcquire, guard) : guard
  }

  /** The plain path of `tryAcquire()` (no diagnostics). @internal */
  grab(): Guard | undefined {
    if (this.closedReason !== undefined) throw this.closedReason
    if (this.held) return undefined
    this.held = true
    return new Guard(this, (this.holder = ++this.grants))
  }

  /**
   * `acquire()` with callbacks, for adapters that must own the grant in the same tick it is made
   * (RxJS teardown must release synchronously). `onGrant` runs synchronously — at once if the
   * lock is free, else inside the `release()` that hands it over — so keep it short and never
   * let it throw. `onError` gets what `acquire()` would reject with.
   * @returns a function that withdraws the wait; after the grant it does nothing (release the
   * guard instead).
   * @example
   * ```ts
   * let guard: Guard | undefined
   * const withdraw = lock.acquireCallback((g) => (guard = g), (err) => report(err), { timeout: 1_000 })
   * // on teardown:
   * withdraw()
   * guard?.release()
   * ```
   */
  acquireCallback(onGrant: (guard: Guard) => void, onError: (reason: unknown) => void, opts?: WaitOptions): () => void {
    if (probes.lock.on) {
      return watchAcquireCallback(probes.lock, this.meta, this.meta, this.queue.length, opts?.signal, this.acquireCallback, onGrant, onError, (g, e) =>
        this.takeCallback(g, e, opts),
      )
    }
    return this.takeCallback(onGrant, onError, opts)
  }

  /** The plain path of `acquireCallback()` (no diagnostics). @internal */
  takeCallback(onGrant: (guard: Guard) => void, onError: (reason: unknown) => void, opts: WaitOptions | undefined): () => void {
    if (opts !== undefined && checkWaitOptions(opts, 'Lock.acquireCallback()')) return failNow(onError, opts.signal!.reason)
    if (this.closedReason !== undefined) return failNow(onError, this.closedReason)
    if (!this.held) {
      this.held = true
      onGrant(new Guard(this, (this.holder = ++this.grants)))
      return noop
    }
    return parkWithdrawable(this.queue, 1, onGrant, onError, opts)
  }

  /**
   * Releases the lock, handing it to the longest waiter if there is one.
   * @throws {@link LockNotAcquiredError} if the lock is not locked (state unchanged).
   */
  release(): void {
    if (!this.held) {
      throw new LockNotAcquiredError(
        `${this.meta.label('release()')} was called on a Lock that is not locked. Release only what you acquired: keep ` +
          `the Guard that acquire() returned and call guard.release(), or use \`using guard = await lock.acquire()\`.`,
      )
    }
    this.handOff()
  }

  /** True while someone holds the lock (including a waiter it was just handed to). */
  locked(): boolean {
    return this.held
  }

  /**
   * Runs `fn` while holding the lock and releases it however `fn` ends.
   * @throws {@link InvalidArgumentError} synchronously if `fn` is not a function.
   * @example
   * ```ts
   * const balance = await lock.runExclusive(async () => transfer(from, to, 10))
   * ```
   */
  runExclusive<R>(fn: () => R | PromiseLike<R>, opts?: WaitOptions): Promise<Awaited<R>> {
    checkFunction(fn, 'Lock.runExclusive')
    return runWith(this.acquire(opts), fn, this.detectDeadlock ? this : undefined)
  }

  /**
   * Closes the lock: every queued and future `acquire()` rejects with {@link ClosedError}
   * (tokio's `Semaphore::close`). The current holder can still release.
   */
  close(reason?: unknown): void {
    if (this.closedReason !== undefined) return
    this.closedReason = new ClosedError(
      `${this.meta.who} is closed: close() was called, so it grants no more acquisitions.`,
      reason === undefined ? undefined : { cause: reason },
    )
    this.queue.rejectAll(this.closedReason)
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.closedReason !== undefined
  }

  /** A snapshot for logs and metrics. */
  statistics(): LockStatistics {
    return { locked: this.held, waiting: this.queue.length, closed: this.closedReason !== undefined }
  }

  /** @internal */
  releaseGuard(token: number): void {
    if (this.held && this.holder === token) this.handOff()
  }

  /**
   * Condition.wait() support: take the lock back without a signal (it must be re-held whatever
   * happens) and restore the caller's grant token so the Guard it holds stays valid.
   * `onHeld` runs synchronously at the grant.
   * @internal
   */
  reacquire(token: number, onHeld: () => void, onClosed: (reason: unknown) => void): void {
    if (this.closedReason !== undefined) return onClosed(this.closedReason)
    if (!this.held) {
      this.held = true
      this.holder = token
      return onHeld()
    }
    this.queue.parkCallback(
      1,
      () => {
        this.holder = token
        onHeld()
      },
      onClosed,
    )
  }

  /** Token of the current grant. @internal */
  currentToken(): number {
    return this.holder
  }

  private handOff(): void {
    const next = this.queue.head
    if (next === undefined) {
      this.held = false
      // Not held ⇒ queue empty: a key lock is idle now.
      if (this.onIdle !== undefined) this.onIdle()
      return
    }
    this.queue.grant(next, new Guard(this, (this.holder = ++this.grants)))
  }
}

let keyConfig: { meta: Meta; onIdle: () => void } | undefined

/**
 * A Lock for one key of a {@link KeyedLock}: labelled and observed as the KeyedLock (`meta`),
 * and `onIdle` runs when it is free with nobody queued. @internal
 */
export function keyLock(meta: Meta, onIdle: () => void): Lock {
  keyConfig = { meta, onIdle }
  return new Lock()
}

/**
 * Acquire, run, release — shared by every `runExclusive`. With `scope`, `fn` runs as a scope
 * holding it (deadlock detection). @internal
 */
export async function runWith<R>(acquired: Promise<Guard>, fn: () => R | PromiseLike<R>, scope?: object, key?: unknown): Promise<Awaited<R>> {
  const guard = await acquired
  try {
    return scope === undefined ? await fn() : await runHolding(scope, key, fn)
  } finally {
    guard.release()
  }
}

function noop(): void {}

/** Reports an outcome decided before any wait; nothing to withdraw. @internal */
export function failNow(onError: (reason: unknown) => void, reason: unknown): () => void {
  onError(reason)
  return noop
}

/** @internal */
export function checkDetectDeadlock(value: unknown, what: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new InvalidArgumentError(`${what}: options.detectDeadlock must be a boolean, got ${describe(value)}.`)
  }
  return value
}
