import { NotSharedError } from './errors'
import { checkKey } from './keys'
import { Flight } from './flight'
import { reentrancyDetection } from './reentrancy'
import { checkFunction, checkWaitOptions, type WaitOptions } from './options'
import { checkName, label, probes, publishLookup, traceLoad } from './diagnostics'

/**
 * What a coalesced function receives besides its signal: how it may declare its outcome.
 * @example
 * ```ts
 * flights.run(key, async (signal, ctx) => {
 *   const res = await fetch(url, { signal })
 *   if (res.headers.has('set-cookie')) ctx.share = false // the joined callers do their own request
 *   return res.text()
 * })
 * ```
 */
export interface RunContext {
  /** Aborts when the work is no longer wanted. */
  readonly signal: AbortSignal
  /**
   * Set to false: give the outcome to the callers waiting now, but don't keep it (a cache
   * stores nothing; `SingleFlight` keeps nothing anyway). Default true.
   */
  keep: boolean
  /**
   * Set to false: nobody but the caller that started the work gets its outcome; every joined
   * caller rejects with {@link NotSharedError} (in every process, with a remote store). Default true.
   */
  share: boolean
}

/**
 * Run-or-join, whichever coalescer it is: {@link SingleFlight} (nothing kept) and
 * {@link SingleFlightCache} (results kept) both implement it, so adapters accept either.
 * @example
 * ```ts
 * function coalesced(group: Coalescer<string, Response>) {
 *   return (url: string, signal: AbortSignal) => group.run(url, (s) => fetch(url, { signal: s }), { signal })
 * }
 * coalesced(new SingleFlight()); coalesced(new SingleFlightCache({ ttl: 1_000 }))
 * ```
 */
export interface Coalescer<K, V> {
  /** Runs `fn` for `key`, or joins the run already going on for it. */
  run(key: K, fn: (signal: AbortSignal, context: RunContext) => V | PromiseLike<V>, opts?: WaitOptions): Promise<V>
}

/**
 * What `SingleFlight.statistics()` returns.
 * @example
 * ```ts
 * const { inFlight } = flights.statistics()
 * ```
 */
export interface SingleFlightStatistics {
  /** Executions running now (one per key). */
  inFlight: number
}

/**
 * Go's `singleflight.Group`, for promises: concurrent `run(key, fn)` calls share one execution of
 * `fn` and all get the identical value or the same error. Nothing is kept once it settles — the
 * next call runs `fn` again (use {@link SingleFlightCache} to keep results).
 *
 * **Cancellation.** Each caller's `signal` / `timeout` detaches only that caller. `fn` receives its
 * own `AbortSignal`, which aborts only when every caller has left; the flight is then forgotten, so
 * the next caller starts afresh.
 *
 * `forget(key)` makes the next caller start a new execution while the current one finishes for
 * the callers it already has; a finished execution never removes its successor (golang/go#31420).
 * A function that calls `run` for its own key rejects with {@link ReentrancyError} instead of
 * deadlocking.
 *
 * @example
 * ```ts
 * const flights = new SingleFlight<string, User>()
 * const user = await flights.run(`user:${id}`, (signal) => fetchUser(id, { signal }), { signal: req.signal })
 * ```
 */
export class SingleFlight<K = string, V = unknown> implements Coalescer<K, V> {
  private readonly flights = new Map<K, Flight<V>>()
  private readonly detectReentrancy: boolean
  /** The `name` option: labels messages and `yieldpoint:single-flight` payloads. */
  readonly name: string | undefined
  private readonly api: string

  /**
   * @param options.name a label for error messages and the `yieldpoint:single-flight` diagnostics channel.
   * @param options.detectReentrancy reject a function that runs its own key. Default: on where
   * AsyncLocalStorage is cheap (Node >= 24, AsyncContextFrame), off on Node 20 and 22 (it slows
   * every promise while calls run); `true` forces it on any Node, `false` turns it off.
   */
  constructor(options: { name?: string; detectReentrancy?: boolean } = {}) {
    this.detectReentrancy = reentrancyDetection(options.detectReentrancy)
    this.name = checkName(options.name, 'SingleFlight')
    this.api = label('SingleFlight', this.name, 'run()')
  }

  /**
   * Runs `fn` for `key`, or joins the execution already running for it.
   * @throws {@link InvalidArgumentError} synchronously for a non-function `fn` or an invalid key.
   */
  run(key: K, fn: (signal: AbortSignal, context: RunContext) => V | PromiseLike<V>, opts?: WaitOptions): Promise<V> {
    checkKey(key, this.api)
    checkFunction(fn, 'SingleFlight.run', 'fn')
    if (opts !== undefined && checkWaitOptions(opts, this.api)) return Promise.reject(opts.signal!.reason)
    // Diagnostics: one check per call; messages only when someone listens.
    const observed = probes.singleFlight.on
    const existing = this.flights.get(key)
    if (existing !== undefined) {
      const reentry = this.detectReentrancy ? existing.reentered(this.api, key) : undefined
      if (reentry !== undefined) return reentry
      if (observed) publishLookup(probes.singleFlight, 'SingleFlight', this.name, 'coalesced', key)
      return existing.join(opts)
    }
    const flight = new Flight<V>(this.api, true, (f) => this.remove(key, f))
    this.flights.set(key, flight)
    const joined = flight.joinAsLeader(opts)
    if (observed) publishLookup(probes.singleFlight, 'SingleFlight', this.name, 'miss', key)
    const load = observed ? traceLoad(probes.singleFlight, 'SingleFlight', this.name, key, false) : undefined
    const context: RunContext = { signal: flight.controller.signal, keep: true, share: true }
    flight
      .start((signal) => fn(signal, context), this.detectReentrancy)
      .then(
        (value) => {
          this.remove(key, flight)
          load?.ended(flight.waiting)
          if (context.share === false) flight.settleUnshared(true, value, notShared(key))
          else flight.fulfill(value)
        },
        (error: unknown) => {
          this.remove(key, flight)
          load?.failed(error, flight.waiting)
          if (context.share === false) flight.settleUnshared(false, error, notShared(key))
          else flight.fail(error)
        },
      )
    return joined
  }

  /** Forgets the execution running for `key`: the next `run` starts a new one. */
  forget(key: K): void {
    this.flights.delete(key)
  }

  /** True while an execution for `key` is running. */
  has(key: K): boolean {
    return this.flights.has(key)
  }

  /** A snapshot for logs and metrics. */
  statistics(): SingleFlightStatistics {
    return { inFlight: this.flights.size }
  }

  /** Number of executions running. */
  get size(): number {
    return this.flights.size
  }

  private remove(key: K, flight: Flight<V>): void {
    // Only our own entry: after forget(key) a newer flight may own the key (golang/go#31420).
    if (this.flights.get(key) === flight) this.flights.delete(key)
  }
}

function notShared(key: unknown): NotSharedError {
  return new NotSharedError(`SingleFlight.run(): the call for key ${String(key)} declared its outcome private (context.share = false); do this work yourself.`)
}
