import { LockNotAcquiredError, InvalidArgumentError, TimeoutError } from './errors'
import type { Guard } from './guard'
import { Lock, type LockStatistics } from './lock'
import { checkFunction, checkWaitOptions, describe, type WaitOptions } from './options'
import { unwatchAbort, watchAbort, type AbortWatcher } from './abort-watch'
import { deadlineSignal } from './deadline'
import { startTimer, WaitQueue } from './wait-queue'
import { probes } from './diagnostics'
import { Meta, watchWait, type PrimitiveOptions } from './diagnostics-watch'

/**
 * What `Condition.statistics()` returns.
 * @example
 * ```ts
 * const { waiting, lock } = cond.statistics()
 * ```
 */
export interface ConditionStatistics {
  /** Tasks waiting for `notify()`. */
  waiting: number
  /** The underlying lock's statistics. */
  lock: LockStatistics
}

/**
 * A condition variable (asyncio's `Condition`): tasks holding its lock wait until another task
 * `notify()`s them.
 *
 * **Semantics.** `wait()` releases the lock, waits to be notified, and always takes the lock back
 * before it settles — also when it is aborted or times out, so `finally { release() }` stays
 * balanced. For `wait()`, the grant is holding the lock again: an abort or timeout that comes any
 * time before that makes `wait()` reject (once the lock is held), with the most recent reason; an
 * abort after it is ignored. A waiter that fails after it may have consumed a notification passes
 * one on to the next waiter, so no wake-up is lost (asyncio gh-112202; the price is a possible
 * spurious wake-up, which the condition-variable contract allows — use `waitFor`).
 * `notify(n)` wakes up to `n` waiters not already notified, in FIFO order; woken waiters then
 * re-acquire the lock one at a time.
 *
 * @example
 * ```ts
 * const cond = new Condition()
 * // consumer
 * await cond.acquire()
 * try { const item = await cond.waitFor(() => queue.shift()) } finally { cond.release() }
 * // producer
 * await cond.acquire(); queue.push(x); cond.notify(); cond.release()
 * ```
 */
export class Condition {
  private readonly lock: Lock
  private readonly waiters: WaitQueue<void>
  /** @internal */
  readonly meta: Meta

  /**
   * @param lock share an existing Lock (both then report the same `locked()`); a new one by default.
   * @param options `name`: labels the condition (and the Lock it creates) in messages and on the `yieldpoint:condition` channel.
   */
  constructor(lock?: Lock, options?: PrimitiveOptions) {
    if (lock !== undefined && !(lock instanceof Lock)) {
      throw new InvalidArgumentError(`Condition(lock): lock must be a yieldpoint Lock, got ${describe(lock)}. Pass new Lock() or nothing.`)
    }
    this.meta = new Meta('Condition', options)
    this.waiters = new WaitQueue<void>(this.meta.label('wait()'))
    this.lock = lock ?? new Lock(options?.name === undefined ? undefined : { name: options.name })
  }

  /** Acquires the underlying lock (see `Lock.acquire`). */
  acquire(opts?: WaitOptions): Promise<Guard> {
    return this.lock.acquire(opts)
  }

  /** Releases the underlying lock (see `Lock.release`). */
  release(): void {
    this.lock.release()
  }

  /** True while the underlying lock is held. */
  locked(): boolean {
    return this.lock.locked()
  }

  /**
   * Releases the lock, waits for `notify()`, re-acquires the lock, resolves `true`.
   * @throws {@link LockNotAcquiredError} synchronously if the lock is not held.
   */
  wait(opts?: WaitOptions): Promise<true> {
    // Diagnostics and misuse detection take a separate path, so the plain one stays as it was.
    if (probes.condition.on) return watchWait(probes.condition, this.meta, this.waiters.length, opts?.signal, this.wait, () => this.waitRaw(opts))
    return this.waitRaw(opts)
  }

  private waitRaw(opts: WaitOptions | undefined): Promise<true> {
    let signal: AbortSignal | undefined
    let timeout: number | undefined
    if (opts !== undefined) {
      if (checkWaitOptions(opts, this.waiters.api)) return Promise.reject(opts.signal!.reason)
      signal = opts.signal
      timeout = opts.timeout
    }
    this.assertLocked('wait on')
    return this.waitLocked(signal, timeout)
  }

  /**
   * Waits until `predicate()` returns a truthy value and resolves with that value. The predicate
   * is checked first; if it is already truthy it returns at once, without needing the lock
   * (asyncio parity). `timeout` bounds the whole call, not each wake-up.
   * @throws {@link LockNotAcquiredError} synchronously if it has to wait and the lock is not held.
   */
  waitFor<T>(predicate: () => T, opts?: WaitOptions): Promise<T> {
    checkFunction(predicate, 'Condition.waitFor', 'predicate')
    if (opts !== undefined && checkWaitOptions(opts, 'Condition.waitFor()')) return Promise.reject(opts.signal!.reason)
    const first = predicate()
    if (first) return Promise.resolve(first)
    this.assertLocked('wait on')
    return this.waitForLoop(predicate, opts)
  }

  /**
   * Wakes up to `n` waiters that were not already notified. Needs the lock held.
   * @throws {@link LockNotAcquiredError} if the lock is not held.
   */
  notify(n = 1): void {
    if (typeof n !== 'number' || Number.isNaN(n) || n < 0) {
      throw new InvalidArgumentError(`Condition.notify(n): n must be a number >= 0, got ${describe(n)}.`)
    }
    this.assertLocked('notify on')
    this.wake(n)
  }

  /** Wakes every waiter. Needs the lock held. */
  notifyAll(): void {
    this.assertLocked('notify on')
    this.wake(this.waiters.length)
  }

  /** A snapshot for logs and metrics. */
  statistics(): ConditionStatistics {
    return { waiting: this.waiters.length, lock: this.lock.statistics() }
  }

  private assertLocked(what: string): void {
    if (!this.lock.locked()) {
      throw new LockNotAcquiredError(
        `Condition: cannot ${what} an un-acquired lock. Acquire the condition first: \`await cond.acquire()\` (and release it in finally).`,
      )
    }
  }

  private wake(n: number): void {
    const waiters = this.waiters
    for (let w = waiters.head; w !== undefined && n > 0; w = waiters.head, n--) waiters.grant(w, undefined)
  }

  private async waitForLoop<T>(predicate: () => T, opts: WaitOptions | undefined): Promise<T> {
    const deadline = deadlineSignal(opts, 'Condition.waitFor()')
    try {
      for (;;) {
        await this.waitLocked(deadline.signal, undefined)
        const result = predicate()
        if (result) return result
      }
    } finally {
      deadline.dispose()
    }
  }

  private waitLocked(signal: AbortSignal | undefined, timeout: number | undefined): Promise<true> {
    return new Promise<true>((resolve, reject) => {
      let failed = false
      let error: unknown
      let held = false
      const token = this.lock.currentToken()
      const fail = (reason: unknown): void => {
        if (held) return
        failed = true
        error = reason
        // Still waiting for notify(): leave the queue now. Already notified: nothing to undo,
        // but the wait will reject once the lock is held again.
        if (waiter.queue !== undefined) this.waiters.abandon(waiter, reason)
      }
      const onAbort: AbortWatcher = { handleEvent: () => fail(signal!.reason) }
      const timer =
        timeout === undefined || timeout === Infinity
          ? undefined
          : startTimer(timeout, () => fail(new TimeoutError(`${this.waiters.api} timed out after ${timeout} ms.`, timeout)))
      const onHeld = (): void => {
        held = true
        timer?.clear()
        if (signal !== undefined) unwatchAbort(signal, onAbort)
        if (!failed) return resolve(true)
        // This waiter may have consumed a notification: pass one on (gh-112202).
        this.wake(1)
        reject(error)
      }
      const onClosed = (reason: unknown): void => {
        timer?.clear()
        if (signal !== undefined) unwatchAbort(signal, onAbort)
        reject(reason)
      }
      const reacquire = (): void => this.lock.reacquire(token, onHeld, onClosed)
      // Park before releasing: a notify() issued by whoever takes the lock next must find us.
      const waiter = this.waiters.parkCallback(1, reacquire, reacquire)
      if (signal !== undefined) watchAbort(signal, onAbort)
      this.lock.release()
    })
  }
}
