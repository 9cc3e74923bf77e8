import { BrokenBarrierError, InvalidArgumentError } from './errors'
import { checkWaitOptions, describe, type WaitOptions } from './options'
import { WaitQueue } from './wait-queue'
import { probes } from './diagnostics'
import { Meta, watchWait, type PrimitiveOptions } from './diagnostics-watch'

/**
 * The phases of a {@link Barrier}, as in asyncio's `_BarrierState`.
 * @example
 * ```ts
 * if (barrier.state === 'broken') barrier.reset()
 * ```
 */
export type BarrierState = 'filling' | 'draining' | 'resetting' | 'broken'

/**
 * What `Barrier.statistics()` returns.
 * @example
 * ```ts
 * const { nWaiting, state } = barrier.statistics()
 * ```
 */
export interface BarrierStatistics {
  /** How many tasks the barrier waits for. */
  parties: number
  /** Tasks waiting in the current round (0 unless filling). */
  nWaiting: number
  /** The current state. */
  state: BarrierState
  /** Tasks that arrived while the previous round drained, waiting for the next one. */
  blocked: number
}

/**
 * A reusable barrier (asyncio's `Barrier`): `parties` tasks call `wait()`, and all of them are
 * released together when the last one arrives. Each gets a distinct index `0..parties-1`, the
 * last arrival `parties - 1`.
 *
 * **States.** `filling` while tasks gather; `draining` from the round's completion until its
 * tasks have been released (one microtask later) — a task that calls `wait()` again meanwhile
 * waits for the next round, so rounds never mix; `broken` after `abort()`, until `reset()`.
 * `reset()` rejects every task inside with {@link BrokenBarrierError} and returns to `filling`.
 *
 * **Cancellation.** A waiter whose signal aborts (or times out) simply leaves: the barrier is not
 * broken, `nWaiting` drops, and indices stay unique — they are assigned in arrival order when the
 * round completes, which fixes asyncio's duplicate-index bug (cpython#155233). The round's
 * completion is the grant: an abort or timeout after it is ignored and the waiter resolves with
 * its index (only `abort()`/`reset()` during draining still reject it).
 *
 * @example
 * ```ts
 * const phase = new Barrier(3)
 * await Promise.all(workers.map(async (w) => { await w.load(); await phase.wait(); await w.run() }))
 * ```
 */
export class Barrier {
  private readonly total: number
  private phase: BarrierState = 'filling'
  /** Members of the round being filled, in arrival order. */
  private readonly filling: WaitQueue<number>
  /** The completed round's members, released in a microtask. */
  private readonly draining: WaitQueue<number>
  /** Arrivals for the next round, blocked until draining ends. */
  private readonly blocked: WaitQueue<number>
  /** @internal */
  readonly meta: Meta

  /**
   * @param options `name`: labels the barrier in messages and on the `yieldpoint:barrier` channel.
   * @throws {@link InvalidArgumentError} unless `parties` is an integer >= 1, or for a malformed option.
   */
  constructor(parties: number, options?: PrimitiveOptions) {
    if (typeof parties !== 'number' || !Number.isSafeInteger(parties) || parties < 1) {
      throw new InvalidArgumentError(
        `Barrier parties must be an integer >= 1 (how many tasks meet at the barrier), got ${describe(parties)}. Use e.g. new Barrier(3).`,
      )
    }
    this.total = parties
    this.meta = new Meta('Barrier', options)
    const api = this.meta.label('wait()')
    this.filling = new WaitQueue<number>(api)
    this.draining = new WaitQueue<number>(api)
    this.blocked = new WaitQueue<number>(api)
  }

  /** How many tasks the barrier waits for. */
  get parties(): number {
    return this.total
  }

  /** Tasks waiting in the current round (0 unless filling). */
  get nWaiting(): number {
    return this.phase === 'filling' ? this.filling.length : 0
  }

  /** True after `abort()`, until `reset()`. */
  get broken(): boolean {
    return this.phase === 'broken'
  }

  /** The current state. */
  get state(): BarrierState {
    return this.phase
  }

  /**
   * Waits for the round to fill and resolves with this task's index.
   * Rejects with {@link BrokenBarrierError} if the barrier is (or becomes) broken or is reset.
   */
  wait(opts?: WaitOptions): Promise<number> {
    // Diagnostics and misuse detection take a separate path, so the plain one stays as it was.
    if (probes.barrier.on) return watchWait(probes.barrier, this.meta, this.nWaiting, opts?.signal, this.wait, () => this.arrive(opts))
    return this.arrive(opts)
  }

  private arrive(opts: WaitOptions | undefined): Promise<number> {
    if (opts !== undefined && checkWaitOptions(opts, this.filling.api)) return Promise.reject(opts.signal!.reason)
    if (this.phase === 'broken')
      return Promise.reject(new BrokenBarrierError(`${this.meta.who} is broken: abort() was called. Call reset() before using it again.`))
    if (this.phase !== 'filling') return this.blocked.park(0, opts)
    if (this.filling.length + 1 === this.total) {
      this.completeRound()
      return Promise.resolve(this.total - 1)
    }
    return this.filling.park(0, opts)
  }

  /**
   * Returns the barrier to `filling`: tasks inside reject with {@link BrokenBarrierError}; tasks
   * blocked for the next round go on. Also clears `broken`.
   */
  reset(): void {
    this.phase = 'resetting'
    const error = new BrokenBarrierError('Barrier was reset while this task waited at it.')
    this.filling.rejectAll(error)
    this.draining.rejectAll(error)
    this.phase = 'filling'
    this.admitBlocked()
  }

  /** Breaks the barrier: every task inside or blocked, and every later `wait()`, rejects with {@link BrokenBarrierError} until `reset()`. */
  abort(): void {
    this.phase = 'broken'
    const error = new BrokenBarrierError('Barrier was aborted while this task waited at it.')
    this.filling.rejectAll(error)
    this.draining.rejectAll(error)
    this.blocked.rejectAll(error)
  }

  /** A snapshot for logs and metrics. */
  statistics(): BarrierStatistics {
    return { parties: this.total, nWaiting: this.nWaiting, state: this.phase, blocked: this.blocked.length }
  }

  private completeRound(): void {
    this.phase = 'draining'
    let index = 0
    for (let w = this.filling.head; w !== undefined; w = this.filling.head) {
      w.weight = index++
      // The round's completion is the grant: an abort or timeout from now on is ignored (only
      // abort()/reset() still break a draining waiter, as in asyncio).
      this.filling.disarm(w)
      this.filling.transfer(w, this.draining)
    }
    queueMicrotask(() => this.drain())
  }

  private drain(): void {
    if (this.phase !== 'draining') return
    const draining = this.draining
    for (let w = draining.head; w !== undefined; w = draining.head) draining.grant(w, w.weight)
    this.phase = 'filling'
    this.admitBlocked()
  }

  private admitBlocked(): void {
    const blocked = this.blocked
    for (let w = blocked.head; w !== undefined && this.phase === 'filling'; w = blocked.head) {
      if (this.filling.length + 1 === this.total) {
        blocked.grant(w, this.total - 1)
        this.completeRound()
      } else {
        blocked.transfer(w, this.filling)
      }
    }
  }
}
