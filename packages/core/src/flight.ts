import { type NotSharedError, ReentrancyError } from './errors'
import { insideLoad, loadEnded, runAsLoad } from './reentrancy'
import type { WaitOptions } from './options'
import { WaitQueue, type Waiter, type WaitQueueOwner } from './wait-queue'

/**
 * One shared execution: callers park on its wait queue (so each can leave on its own signal or
 * timeout), and all of them get the same value or the same error when it settles. Used by
 * SingleFlight and SingleFlightCache.
 * @internal
 */
export class Flight<V> implements WaitQueueOwner {
  readonly controller = new AbortController()
  readonly waiters: WaitQueue<V>
  /** 0 running, 1 fulfilled, 2 rejected. */
  state = 0
  value: V | undefined = undefined
  error: unknown = undefined
  /** Callers without signal or timeout: they cannot leave, so they share one promise. */
  private plain = 0
  private shared: Promise<V> | undefined = undefined
  private settleShared: [(value: V) => void, (reason: unknown) => void] | undefined = undefined
  /** The caller that started the work (for `share = false`: only it gets the outcome). */
  private leader: Waiter<V> | undefined = undefined

  constructor(
    api: string,
    /** Abort the work's signal when every caller has left (Go's context-aware singleflight). */
    private readonly abortWhenAbandoned: boolean,
    private readonly onAbandoned: (flight: Flight<V>) => void,
  ) {
    this.waiters = new WaitQueue<V>(api, this)
  }

  /** Starts `work` with this flight's signal; re-entry into the same flight is detected. */
  start<R = V>(work: (signal: AbortSignal) => R | PromiseLike<R>, detectReentrancy: boolean): Promise<R> {
    if (!detectReentrancy) {
      try {
        return Promise.resolve(work(this.controller.signal))
      } catch (error) {
        return Promise.reject(error)
      }
    }
    let result: R | PromiseLike<R>
    try {
      result = runAsLoad(this, () => work(this.controller.signal))
    } catch (error) {
      loadEnded()
      return Promise.reject(error)
    }
    const settled = Promise.resolve(result)
    settled.then(loadEnded, loadEnded)
    return settled
  }

  /** Joins as a caller: resolves with the result, or leaves on its own abort/timeout. */
  join(opts: WaitOptions | undefined): Promise<V> {
    if (this.state === 1) return Promise.resolve(this.value as V)
    if (this.state === 2) return Promise.reject(this.error)
    if (opts === undefined || (opts.signal === undefined && (opts.timeout === undefined || opts.timeout === Infinity))) {
      this.plain++
      this.shared ??= new Promise<V>((resolve, reject) => (this.settleShared = [resolve, reject]))
      return this.shared
    }
    return this.waiters.park(1, opts)
  }

  /**
   * Joins as the caller that started the work. It always parks in the queue (never on the shared
   * promise), so {@link settleUnshared} can single it out.
   */
  joinAsLeader(opts: WaitOptions | undefined): Promise<V> {
    const joined = this.waiters.park(1, opts)
    // park() links the new waiter at the tail synchronously.
    this.leader = this.waiters.tail
    return joined
  }

  /**
   * The outcome must not reach anyone but the leader (`share = false`): the leader gets it (if it
   * is still waiting), every other caller rejects with {@link NotSharedError}.
   */
  settleUnshared(ok: boolean, outcome: unknown, notShared: NotSharedError): void {
    const leader = this.leader
    this.leader = undefined
    if (leader !== undefined && leader.queue === this.waiters) {
      if (ok) this.waiters.grant(leader, outcome as V)
      else {
        // Rejected through the same queue operation a timeout uses, minus the owner callback.
        this.waiters.transfer(leader, new WaitQueue<V>(this.waiters.api))
        leader.queue!.rejectAll(outcome)
      }
    }
    this.fail(notShared)
  }

  /** Callers waiting right now. */
  get waiting(): number {
    return this.plain + this.waiters.length
  }

  /** Rejects if the current async context is this flight's own work (it would wait for itself). */
  reentered(api: string, key: unknown): Promise<never> | undefined {
    if (!insideLoad(this)) return undefined
    return Promise.reject(
      new ReentrancyError(
        `${api}: the loader for key ${String(key)} asked for the same key, directly or through other keys, and would wait ` +
          `for itself forever. Load dependent keys separately, or compute the value without going back through the cache.`,
      ),
    )
  }

  fulfill(value: V): void {
    this.state = 1
    this.value = value
    this.settleShared?.[0](value)
    const waiters = this.waiters
    for (let w = waiters.head; w !== undefined; w = waiters.head) waiters.grant(w, value)
  }

  fail(error: unknown): void {
    this.state = 2
    this.error = error
    this.settleShared?.[1](error)
    this.waiters.rejectAll(error)
  }

  waiterLeft(): void {
    if (this.state === 0 && this.waiters.length === 0 && this.plain === 0 && this.abortWhenAbandoned) {
      this.controller.abort(new DOMException('Every caller of this single-flight call has left.', 'AbortError'))
      this.onAbandoned(this)
    }
  }
}
