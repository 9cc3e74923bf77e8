import { TimeoutError } from './errors'
import { unwatchAbort, watchAbort } from './abort-watch'
import type { WaitOptions } from './options'

// setTimeout overflows above 2^31-1 ms (it fires after 1 ms instead); longer timeouts re-arm.
const MAX_TIMER_MS = 2_147_483_647

/**
 * What a queue tells its primitive when a waiter leaves without being granted (abort, timeout).
 * @internal
 */
export interface WaitQueueOwner {
  waiterLeft(wasHead: boolean): void
}

/**
 * One parked task. It is its own abort watcher (`handleEvent`), so parking with a signal
 * allocates no closure. (Measured and rejected: making the waiter double as the granted Guard —
 * as a subclass the derived constructor cost ~5% of a hand-off, and as a Guard-prototyped base
 * class the grant still came out ~2–4% slower than allocating a small Guard; see tooling/bench.)
 * @internal
 */
export class Waiter<T> {
  next: Waiter<T> | undefined = undefined
  prev: Waiter<T> | undefined = undefined
  /** The queue it is parked in; `undefined` once granted, aborted or rejected. */
  queue: WaitQueue<T> | undefined
  resolve: (value: T) => void
  reject: (reason: unknown) => void
  signal: AbortSignal | undefined = undefined
  timer: ReturnType<typeof setTimeout> | undefined = undefined
  /** Primitive-specific payload: permits wanted (Semaphore), index (Barrier). */
  weight: number

  // Resolvers come in through the constructor: measured cheaper than defaulting them to a no-op
  // and overwriting (one store per field instead of two, per parked waiter).
  constructor(queue: WaitQueue<T>, weight: number, resolve: (value: T) => void, reject: (reason: unknown) => void) {
    this.queue = queue
    this.weight = weight
    this.resolve = resolve
    this.reject = reject
  }

  handleEvent(): void {
    const queue = this.queue
    if (queue !== undefined) queue.abandon(this, this.signal!.reason)
  }
}

function noop(): void {}

// A shared executor: parking allocates no closure per waiter.
// Holds any queue's resolver for one statement (`park` narrows it back to its own T).
let parkedResolve: (value: never) => void = noop
let parkedReject: (reason: unknown) => void = noop
function capture(resolve: (value: never) => void, reject: (reason: unknown) => void): void {
  parkedResolve = resolve
  parkedReject = reject
}

function onTimer<T>(waiter: Waiter<T>, total: number, remaining: number): void {
  const queue = waiter.queue
  if (queue === undefined) return
  if (remaining > 0) {
    waiter.timer = setTimeout(onTimer, Math.min(remaining, MAX_TIMER_MS), waiter, total, remaining - MAX_TIMER_MS)
    return
  }
  waiter.timer = undefined
  queue.abandon(waiter, new TimeoutError(`${queue.api} timed out after ${total} ms.`, total))
}

/**
 * Starts a timer that calls `fire` after `ms`, re-arming past setTimeout's 2^31-1 ms limit (a
 * plain `setTimeout(fn, 2 ** 31)` fires after 1 ms). The one timer every yieldpoint package uses
 * for a user-given duration; `unref`: the timer does not keep the process alive. Callers treat
 * `Infinity` as "no timer" before calling.
 *
 * @example
 * ```ts
 * const timer = startTimer(30 * 24 * 3_600_000, () => console.log('a month later'))
 * timer.clear()
 * ```
 */
export function startTimer(ms: number, fire: () => void, unref = false): { clear(): void } {
  let handle: ReturnType<typeof setTimeout> | undefined
  const arm = (remaining: number): void => {
    handle = setTimeout(() => (remaining > MAX_TIMER_MS ? arm(remaining - MAX_TIMER_MS) : fire()), Math.min(remaining, MAX_TIMER_MS))
    if (unref) handle.unref?.()
  }
  arm(ms)
  return { clear: () => clearTimeout(handle) }
}

const CANCELLED = Symbol('cancelled')

/**
 * Parks a callback waiter and returns the function that withdraws it (a no-op once it is
 * granted or rejected). Withdrawing settles nothing: neither callback runs.
 * @internal
 */
export function parkWithdrawable<T>(
  queue: WaitQueue<T>,
  weight: number,
  onGrant: (value: T) => void,
  onError: (reason: unknown) => void,
  opts: WaitOptions | undefined,
): () => void {
  const waiter = queue.parkCallback(
    weight,
    onGrant,
    (reason) => {
      if (reason !== CANCELLED) onError(reason)
    },
    opts,
  )
  return () => {
    if (waiter.queue !== undefined) waiter.queue.abandon(waiter, CANCELLED)
  }
}

/**
 * The one FIFO wait queue every primitive is built on (trio's `ParkingLot`): a doubly linked list,
 * so enqueue, grant and removal of an aborted waiter are all O(1) and an aborted waiter is gone
 * from the queue at once. Fairness and abort handling live here and nowhere else: a grant and an
 * abort are each decided synchronously, and whichever comes first settles the waiter.
 * @internal
 */
export class WaitQueue<T> {
  head: Waiter<T> | undefined = undefined
  tail: Waiter<T> | undefined = undefined
  length = 0
  readonly api: string
  private readonly owner: WaitQueueOwner | undefined

  constructor(api: string, owner?: WaitQueueOwner) {
    this.api = api
    this.owner = owner
  }

  /** Parks a new waiter at the tail; `opts` must already be validated and not aborted. */
  park(weight: number, opts: WaitOptions | undefined): Promise<T> {
    const promise = new Promise<T>(capture)
    const waiter = new Waiter<T>(this, weight, parkedResolve as (value: T) => void, parkedReject)
    this.link(waiter)
    if (opts !== undefined) this.watch(waiter, opts)
    return promise
  }

  /**
   * Parks a waiter settled through callbacks instead of a promise (internal hand-offs, and
   * `acquireCallback` for adapters that must see the grant synchronously).
   */
  parkCallback(weight: number, resolve: (value: T) => void, reject: (reason: unknown) => void, opts?: WaitOptions): Waiter<T> {
    const waiter = new Waiter<T>(this, weight, resolve, reject)
    this.link(waiter)
    if (opts !== undefined) this.watch(waiter, opts)
    return waiter
  }

  /** Grants `waiter` (normally the head): it leaves the queue and its promise resolves. */
  grant(waiter: Waiter<T>, value: T): void {
    this.unlink(waiter)
    this.detach(waiter)
    waiter.resolve(value)
  }

  /** Removes `waiter` and rejects it, then tells the owner (abort, timeout). */
  abandon(waiter: Waiter<T>, reason: unknown): void {
    const wasHead = waiter === this.head
    this.unlink(waiter)
    this.detach(waiter)
    waiter.reject(reason)
    if (this.owner !== undefined) this.owner.waiterLeft(wasHead)
  }

  /** Rejects every waiter with `reason` (close, barrier abort) without telling the owner. */
  rejectAll(reason: unknown): void {
    let waiter = this.head
    this.head = this.tail = undefined
    this.length = 0
    while (waiter !== undefined) {
      const next = waiter.next
      waiter.next = waiter.prev = undefined
      this.detach(waiter)
      waiter.reject(reason)
      waiter = next
    }
  }

  /** Moves `waiter` to the tail of `other`, keeping its signal and timer (trio's `repark`). */
  transfer(waiter: Waiter<T>, other: WaitQueue<T>): void {
    this.unlink(waiter)
    waiter.queue = other
    other.link(waiter)
  }

  private watch(waiter: Waiter<T>, opts: WaitOptions): void {
    const { signal, timeout } = opts
    if (signal !== undefined) {
      waiter.signal = signal
      watchAbort(signal, waiter)
    }
    if (timeout !== undefined && timeout !== Infinity) {
      waiter.timer = setTimeout(onTimer, Math.min(timeout, MAX_TIMER_MS), waiter, timeout, timeout - MAX_TIMER_MS)
    }
  }

  private link(waiter: Waiter<T>): void {
    const tail = this.tail
    if (tail === undefined) this.head = waiter
    else {
      tail.next = waiter
      waiter.prev = tail
    }
    this.tail = waiter
    this.length++
  }

  private unlink(waiter: Waiter<T>): void {
    const { prev, next } = waiter
    if (prev === undefined) this.head = next
    else prev.next = next
    if (next === undefined) this.tail = prev
    else next.prev = prev
    waiter.prev = waiter.next = undefined
    this.length--
  }

  /**
   * Stops watching `waiter`'s signal and timer while it stays parked: its outcome is decided
   * (a Barrier round completed), so a later abort or timeout must not settle it.
   */
  disarm(waiter: Waiter<T>): void {
    if (waiter.signal !== undefined) {
      unwatchAbort(waiter.signal, waiter)
      waiter.signal = undefined
    }
    if (waiter.timer !== undefined) {
      clearTimeout(waiter.timer)
      waiter.timer = undefined
    }
  }

  private detach(waiter: Waiter<T>): void {
    waiter.queue = undefined
    if (waiter.signal !== undefined) {
      unwatchAbort(waiter.signal, waiter)
      waiter.signal = undefined
    }
    if (waiter.timer !== undefined) {
      clearTimeout(waiter.timer)
      waiter.timer = undefined
    }
  }
}
