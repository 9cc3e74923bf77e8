import { checkWaitOptions, type WaitOptions } from './options'
import { WaitQueue } from './wait-queue'
import { probes } from './diagnostics'
import { Meta, watchWait, type PrimitiveOptions } from './diagnostics-watch'

const TRUE: Promise<true> = Promise.resolve(true)

/**
 * What `Event.statistics()` returns.
 * @example
 * ```ts
 * const { isSet, waiting } = ready.statistics()
 * ```
 */
export interface EventStatistics {
  /** True while the flag is set. */
  isSet: boolean
  /** Tasks waiting for `set()`. */
  waiting: number
}

/**
 * A flag tasks can wait for (asyncio's `Event`).
 *
 * `set()` wakes every waiter, in FIFO order, and later `wait()` calls return at once until
 * `clear()`. A waiter already woken stays woken even if `clear()` follows immediately.
 * **Cancellation:** an aborted waiter leaves at once and rejects with `signal.reason`; an
 * already-aborted signal rejects even if the event is set.
 *
 * @example
 * ```ts
 * const ready = new Event()
 * void connect().then(() => ready.set())
 * await ready.wait({ timeout: 5_000 })
 * ```
 */
export class Event {
  private flag = false
  private readonly queue: WaitQueue<true>
  /** @internal */
  readonly meta: Meta

  /**
   * @param options `name`: labels the event in messages and on the `yieldpoint:event` channel.
   * @throws {@link InvalidArgumentError} for a malformed option.
   */
  constructor(options?: PrimitiveOptions) {
    this.meta = new Meta('Event', options)
    this.queue = new WaitQueue<true>(this.meta.label('wait()'))
  }

  /** Sets the flag and wakes all waiters. Does nothing if already set. */
  set(): void {
    if (this.flag) return
    this.flag = true
    const queue = this.queue
    for (let w = queue.head; w !== undefined; w = queue.head) queue.grant(w, true)
  }

  /** Resets the flag; later `wait()` calls block until the next `set()`. */
  clear(): void {
    this.flag = false
  }

  /** True while the flag is set. */
  isSet(): boolean {
    return this.flag
  }

  /** Resolves with `true` once the flag is set (at once if it already is). */
  wait(opts?: WaitOptions): Promise<true> {
    // Diagnostics and misuse detection take a separate path, so the plain one stays as it was.
    if (probes.event.on) return watchWait(probes.event, this.meta, this.queue.length, opts?.signal, this.wait, () => this.waitRaw(opts))
    return this.waitRaw(opts)
  }

  private waitRaw(opts: WaitOptions | undefined): Promise<true> {
    if (opts !== undefined && checkWaitOptions(opts, this.queue.api)) return Promise.reject(opts.signal!.reason)
    if (this.flag) return TRUE
    return this.queue.park(1, opts)
  }

  /** A snapshot for logs and metrics. */
  statistics(): EventStatistics {
    return { isSet: this.flag, waiting: this.queue.length }
  }
}
