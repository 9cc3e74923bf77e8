import { channel, tracingChannel, type Channel, type TracingChannel } from 'node:diagnostics_channel'
import { InvalidArgumentError } from './errors'
import { describe } from './options'

/**
 * What every wait-based primitive publishes on `node:diagnostics_channel` (see the core README,
 * "Seeing contention", for the table of channels).
 *
 * The rule that keeps this free when nobody listens: a primitive asks {@link Probe.active} once per
 * operation (a few property reads, no allocation) and only then builds a message. No subscriber ⇒
 * no message object, no timestamp, no extra promise.
 */

/**
 * One wait's lifecycle, as published on the plain channel (one fresh object per event) and as the
 * context object of the `TracingChannel` (one object per wait, completed as it goes).
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel'
 * subscribe('yieldpoint:lock', (m) => {
 *   const msg = m as WaitMessage
 *   if (msg.event === 'granted') console.log(`${msg.name} waited ${msg.waitTime} ms`)
 * })
 * ```
 */
export interface WaitMessage {
  /**
   * `acquire` (Lock, Semaphore, KeyedLock) or `wait` (Condition, Event, Barrier) when the call
   * starts; then exactly one outcome: `granted` (the lock or permits were granted, the event set,
   * the condition notified, the barrier passed), `aborted` (its signal), `timeout`, or `error`
   * (closed, broken barrier, deadlock).
   */
  event: 'acquire' | 'wait' | 'granted' | 'aborted' | 'timeout' | 'error'
  /** Class name: `Lock`, `Semaphore`, `BoundedSemaphore`, `KeyedLock`, `Condition`, `Event`, `Barrier`. */
  primitive: string
  /** The `name` option given to the primitive, if any. */
  name: string | undefined
  /** KeyedLock: the key. */
  key?: unknown
  /** Semaphore: permits asked for. */
  permits?: number
  /** Callers already waiting when this call started (0: it may not need to wait at all). */
  waiting: number
  /** Milliseconds from the call to its outcome (outcome events only). */
  waitTime?: number
  /** `aborted` / `timeout` / `error`: what the wait rejected with. */
  error?: unknown
}

/**
 * A hold ended: a Guard of a Lock, Semaphore or KeyedLock was released.
 * @example
 * ```ts
 * subscribe('yieldpoint:semaphore', (m) => { if ((m as ReleaseMessage).event === 'release') hist.record((m as ReleaseMessage).holdTime) })
 * ```
 */
export interface ReleaseMessage {
  event: 'release'
  primitive: string
  name: string | undefined
  key?: unknown
  permits?: number
  /** Milliseconds between the grant and the release. */
  holdTime: number
}

/**
 * What `SingleFlightCache` (channel `yieldpoint:cache`) and `SingleFlight` (channel
 * `yieldpoint:single-flight`) publish.
 * @example
 * ```ts
 * subscribe('yieldpoint:cache', (m) => { const msg = m as CacheMessage; if (msg.event === 'load-end') console.log(msg.key, msg.duration) })
 * ```
 */
export interface CacheMessage {
  /**
   * Per call: `hit` (fresh entry or cached error), `stale` (served stale), `miss` (this call
   * started the load), `coalesced` (it joined a running load). Per load: `refresh` (a background
   * load starts: stale-while-revalidate or early refresh), `load-start`, then `load-end` or
   * `load-error`.
   */
  event: 'hit' | 'stale' | 'miss' | 'coalesced' | 'refresh' | 'load-start' | 'load-end' | 'load-error'
  /** `SingleFlightCache` or `SingleFlight`. */
  primitive: string
  name: string | undefined
  key: unknown
  /** Load events: true for a background refresh. */
  background?: boolean
  /** `load-end` / `load-error`: milliseconds the load took. */
  duration?: number
  /** `load-end` / `load-error`: callers the result was shared with. */
  callers?: number
  /** `load-error`: what the load failed with. */
  error?: unknown
}

/**
 * The context object of a traced operation (`TracingChannel` `start` … `asyncEnd`): a wait
 * (`operation: 'acquire' | 'wait'`) or a load (`operation: 'load'`). `result` / `error` are set
 * by the usual TracingChannel protocol before `asyncStart`.
 * @example
 * ```ts
 * import { tracingChannel } from 'node:diagnostics_channel'
 * tracingChannel('yieldpoint:cache').subscribe({
 *   start(ctx) {}, end() {}, asyncStart() {}, error() {},
 *   asyncEnd(ctx) { console.log((ctx as TraceContext).key, (ctx as TraceContext).duration) },
 * })
 * ```
 */
export interface TraceContext {
  operation: 'acquire' | 'wait' | 'load'
  primitive: string
  name: string | undefined
  key?: unknown
  permits?: number
  waiting?: number
  background?: boolean
  /** Waits: how it ended (`granted`, `aborted`, `timeout`, `error`). */
  outcome?: 'granted' | 'aborted' | 'timeout' | 'error'
  /** Waits: milliseconds waited. */
  waitTime?: number
  /** Loads: milliseconds the load took. */
  duration?: number
  result?: unknown
  error?: unknown
}

/**
 * Process-wide misuse detection (see `detectMisuse`), read on the observed path. Lives here so a
 * probe can fold it into its one flag. @internal
 */
export const settings = {
  /** True when any process-wide setting needs the observed path. */
  on: false,
  /** Some primitive was created with its own `warnAfter`: lock-like probes stay on. */
  perPrimitive: false,
  warnAfter: undefined as number | undefined,
  leakedGuards: false,
  pendingAtExit: false,
  detectDeadlock: undefined as boolean | undefined,
}

type Subscribable = Channel

/**
 * The channels of one kind of primitive, and the one flag its hot paths read.
 *
 * Why a flag and not `hasSubscribers` at every call: a kind has six channels (the plain one and
 * the five of its TracingChannel) and asking all six costs a few nanoseconds per operation —
 * measurable next to an uncontended `tryAcquire()`. So each of our channel objects reports its
 * own (un)subscriptions and the probe recomputes `on` from the channels' real `hasSubscribers`
 * then: the platform stays the source of truth, the hot path reads one boolean. (Channel objects
 * are process-wide singletons per name, and we hold them, so every subscriber goes through them.)
 * @internal
 */
export class Probe {
  readonly events: Channel
  readonly trace: TracingChannel<unknown, TraceContext>
  /** Subscribed to (any of the six channels), or misuse detection needs the observed path. */
  on = false

  constructor(
    readonly id: string,
    /** Primitives whose holds and waits misuse detection watches. */
    private readonly misuse: boolean,
  ) {
    this.events = channel(`yieldpoint:${id}`)
    this.trace = tracingChannel<unknown, TraceContext>(`yieldpoint:${id}`)
    const t = this.trace
    for (const ch of [this.events, t.start, t.end, t.asyncStart, t.asyncEnd, t.error] as Subscribable[]) this.report(ch)
    this.refresh()
  }

  /** True when anyone listens to this kind's plain or tracing channels (the platform's answer). */
  get active(): boolean {
    const t = this.trace
    return (
      this.events.hasSubscribers ||
      t.start.hasSubscribers ||
      t.asyncEnd.hasSubscribers ||
      t.end.hasSubscribers ||
      t.asyncStart.hasSubscribers ||
      t.error.hasSubscribers
    )
  }

  /** Recomputes `on`. */
  refresh(): void {
    this.on = this.active || (this.misuse && (settings.on || settings.perPrimitive))
  }

  private report(ch: Subscribable): void {
    // Channel objects are per process, not per copy of this package: two copies of
    // @yieldpoint/core (a duplicated dependency) share them, so the probes of every copy hang
    // off the channel under a registry-wide symbol and the wrappers are installed once.
    const holder = ch as Subscribable & { [kProbes]?: Set<Probe> }
    let probes = holder[kProbes]
    if (probes === undefined) {
      const set = (probes = new Set<Probe>())
      Object.defineProperty(ch, kProbes, { value: set })
      // Own properties shadow the prototype's. Node swaps the prototype between Channel and
      // ActiveChannel and the inactive one re-dispatches through `this.subscribe(…)`, so each
      // wrapper calls whatever the prototype is *now*.
      for (const method of ['subscribe', 'unsubscribe', 'bindStore', 'unbindStore'] as const) {
        Object.defineProperty(ch, method, {
          configurable: true,
          writable: true,
          value(this: Channel, ...args: unknown[]) {
            try {
              return (Object.getPrototypeOf(this)[method] as (...a: unknown[]) => unknown).apply(this, args)
            } finally {
              for (const probe of set) probe.refresh()
            }
          },
        })
      }
    }
    probes.add(this)
  }
}

const kProbes = Symbol.for('@yieldpoint/core:diagnostics-probes')

/** @internal */
export const probes = {
  lock: new Probe('lock', true),
  semaphore: new Probe('semaphore', true),
  keyedLock: new Probe('keyed-lock', true),
  condition: new Probe('condition', true),
  event: new Probe('event', true),
  barrier: new Probe('barrier', true),
  singleFlight: new Probe('single-flight', false),
  cache: new Probe('cache', false),
} as const

/** Recomputes every probe's flag (misuse settings changed). @internal */
export function refreshProbes(): void {
  for (const p of Object.values(probes)) p.refresh()
}

/**
 * Every channel name yieldpoint publishes on (plain channels; the tracing channels share the names).
 * @example
 * ```ts
 * for (const name of channelNames) subscribe(name, (m) => log.debug(name, m))
 * ```
 */
export const channelNames = Object.freeze(Object.values(probes).map((p) => `yieldpoint:${p.id}`))

/** Monotonic milliseconds. @internal */
export const now = (): number => performance.now()

/** Validates the `name` option shared by every primitive. @internal */
export function checkName(name: unknown, what: string): string | undefined {
  if (name === undefined) return undefined
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError(`${what}: options.name must be a non-empty string (a label for messages and diagnostics), got ${describe(name)}.`)
  }
  return name
}

/** `Lock.acquire()` or, named, `Lock("db").acquire()`: the label used in messages. @internal */
export function label(primitive: string, name: string | undefined, method: string): string {
  return name === undefined ? `${primitive}.${method}` : `${primitive}(${JSON.stringify(name)}).${method}`
}

function outcomeOf(error: unknown, signal: AbortSignal | undefined): 'aborted' | 'timeout' | 'error' {
  if (signal?.aborted && error === signal.reason) return 'aborted'
  if (error instanceof DOMException && error.name === 'AbortError') return 'aborted'
  if (error instanceof Error && (error as { code?: unknown }).code === 'ERR_YP_TIMEOUT') return 'timeout'
  return 'error'
}

/** What a wait publishes about itself. @internal */
export interface WaitInfo {
  primitive: string
  name: string | undefined
  key?: unknown
  permits?: number
}

/**
 * One observed wait: `start` (and the plain `acquire`/`wait` message) when created, then exactly
 * one of `granted` / `failed`. Synchronous, so callback-style waits (`acquireCallback`) publish in
 * the tick of the grant.
 * @internal
 */
export class WaitTrace {
  private readonly t0 = now()
  readonly ctx: TraceContext
  private settled = false

  constructor(
    private readonly probe: Probe,
    operation: 'acquire' | 'wait',
    private readonly info: WaitInfo,
    private readonly waiting: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    const ctx: TraceContext = { operation, primitive: info.primitive, name: info.name, waiting }
    if (info.key !== undefined) ctx.key = info.key
    if (info.permits !== undefined) ctx.permits = info.permits
    this.ctx = ctx
    if (probe.events.hasSubscribers) probe.events.publish(message(info, operation, waiting))
    probe.trace.start.publish(ctx)
  }

  /** The synchronous part returned (TracingChannel `end`); `error` if it threw. */
  returned(error?: unknown): void {
    if (error !== undefined) {
      this.ctx.error = error
      this.probe.trace.error.publish(this.ctx)
    }
    this.probe.trace.end.publish(this.ctx)
  }

  /** `at`: the grant's timestamp, if the caller already read the clock (it is not free on Node 20). */
  granted(result: unknown, at = now()): void {
    if (this.settled) return
    this.settled = true
    const { ctx, probe } = this
    ctx.waitTime = at - this.t0
    ctx.outcome = 'granted'
    ctx.result = result
    if (probe.events.hasSubscribers) {
      const m = message(this.info, 'granted', this.waiting)
      m.waitTime = ctx.waitTime
      probe.events.publish(m)
    }
    probe.trace.asyncStart.publish(ctx)
    probe.trace.asyncEnd.publish(ctx)
  }

  failed(error: unknown): void {
    if (this.settled) return
    this.settled = true
    const { ctx, probe } = this
    ctx.waitTime = now() - this.t0
    ctx.outcome = outcomeOf(error, this.signal)
    ctx.error = error
    if (probe.events.hasSubscribers) {
      const m = message(this.info, ctx.outcome, this.waiting)
      m.waitTime = ctx.waitTime
      m.error = error
      probe.events.publish(m)
    }
    probe.trace.error.publish(ctx)
    probe.trace.asyncStart.publish(ctx)
    probe.trace.asyncEnd.publish(ctx)
  }
}

/**
 * Publishes one promise-returning wait: its start now, its outcome when `run()`'s promise
 * settles. `granted` lets the caller wrap the value (the observed Guard).
 * @internal
 */
export function traceWait<T>(
  probe: Probe,
  operation: 'acquire' | 'wait',
  info: WaitInfo,
  waiting: number,
  signal: AbortSignal | undefined,
  run: () => Promise<T>,
  granted?: (value: T, at: number) => T,
): Promise<T> {
  const trace = new WaitTrace(probe, operation, info, waiting, signal)
  let promise: Promise<T>
  try {
    promise = run()
  } catch (error) {
    trace.returned(error)
    throw error
  }
  trace.returned()
  return promise.then(
    (value) => {
      const at = now()
      const result = granted === undefined ? value : granted(value, at)
      trace.granted(result, at)
      return result
    },
    (error: unknown) => {
      trace.failed(error)
      throw error
    },
  )
}

function message(info: WaitInfo, event: WaitMessage['event'], waiting: number): WaitMessage {
  const m: WaitMessage = { event, primitive: info.primitive, name: info.name, waiting }
  if (info.key !== undefined) m.key = info.key
  if (info.permits !== undefined) m.permits = info.permits
  return m
}

/**
 * Publishes a grant that needed no wait (`tryAcquire`): `acquire` then `granted`, so every grant
 * has its start (a waiters gauge stays balanced). @internal
 */
export function publishTryGrant(probe: Probe, info: WaitInfo): void {
  if (!probe.events.hasSubscribers) return
  probe.events.publish(message(info, 'acquire', 0))
  const m = message(info, 'granted', 0)
  m.waitTime = 0
  probe.events.publish(m)
}

/** Publishes the end of a hold. @internal */
export function publishRelease(probe: Probe, info: WaitInfo, grantedAt: number): void {
  if (!probe.events.hasSubscribers) return
  const m: ReleaseMessage = { event: 'release', primitive: info.primitive, name: info.name, holdTime: now() - grantedAt }
  if (info.key !== undefined) m.key = info.key
  if (info.permits !== undefined) m.permits = info.permits
  probe.events.publish(m)
}

/** Publishes a per-call cache event (`hit`, `stale`, `miss`, `coalesced`). @internal */
export function publishLookup(probe: Probe, primitive: string, name: string | undefined, event: CacheMessage['event'], key: unknown): void {
  if (probe.events.hasSubscribers) probe.events.publish({ event, primitive, name, key } satisfies CacheMessage)
}

/** The end of one traced load; the first call wins. @internal */
export interface LoadTrace {
  ended(callers: number): void
  failed(error: unknown, callers: number): void
}

/**
 * Publishes one load: `refresh` (background) and `load-start` now, `load-end` / `load-error`
 * through the returned callbacks, plus the tracing channel's `start` … `asyncEnd`.
 * @internal
 */
export function traceLoad(probe: Probe, primitive: string, name: string | undefined, key: unknown, background: boolean): LoadTrace {
  const t0 = now()
  let done = false
  const { events, trace } = probe
  const ctx: TraceContext = { operation: 'load', primitive, name, key, background }
  if (events.hasSubscribers) {
    if (background) events.publish({ event: 'refresh', primitive, name, key, background } satisfies CacheMessage)
    events.publish({ event: 'load-start', primitive, name, key, background } satisfies CacheMessage)
  }
  trace.start.publish(ctx)
  trace.end.publish(ctx)
  return {
    ended(callers) {
      if (done) return
      done = true
      ctx.duration = now() - t0
      if (events.hasSubscribers) events.publish({ event: 'load-end', primitive, name, key, background, duration: ctx.duration, callers } satisfies CacheMessage)
      trace.asyncStart.publish(ctx)
      trace.asyncEnd.publish(ctx)
    },
    failed(error, callers) {
      if (done) return
      done = true
      ctx.duration = now() - t0
      ctx.error = error
      if (events.hasSubscribers)
        events.publish({ event: 'load-error', primitive, name, key, background, duration: ctx.duration, callers, error } satisfies CacheMessage)
      trace.error.publish(ctx)
      trace.asyncStart.publish(ctx)
      trace.asyncEnd.publish(ctx)
    },
  }
}
