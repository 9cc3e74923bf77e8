import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel'
import {
  context,
  metrics,
  SpanStatusCode,
  trace,
  type Attributes,
  type Meter,
  type MeterProvider,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api'

/**
 * The messages this package reads, as published by `@yieldpoint/core` (its README, "Seeing
 * contention", has the table). Declared here structurally so the package depends on nothing but
 * `@opentelemetry/api`: it subscribes to channels by name.
 */
interface Message {
  event: string
  primitive: string
  name?: string | undefined
  key?: unknown
  waitTime?: number
  holdTime?: number
  duration?: number
  background?: boolean
  error?: unknown
}

interface LoadContext {
  operation: string
  primitive: string
  name?: string | undefined
  key?: unknown
  background?: boolean
  error?: unknown
}

const WAIT_CHANNELS = ['lock', 'semaphore', 'keyed-lock', 'condition', 'event', 'barrier'].map((id) => `yieldpoint:${id}`)
const LOAD_CHANNELS = ['yieldpoint:cache', 'yieldpoint:single-flight']

/**
 * Options of {@link instrument}.
 * @example
 * ```ts
 * instrument({ meterProvider, tracerProvider, spans: true })
 * ```
 */
export interface InstrumentOptions {
  /** Where metrics go. Default: the global MeterProvider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider | undefined
  /** Where load spans go. Default: the global TracerProvider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider | undefined
  /** Record a span for every cache / single-flight load. Default true. */
  spans?: boolean | undefined
  /** Put the cache key on load spans as `yieldpoint.key` (keys can be personal data). Default false. */
  keyAttribute?: boolean | undefined
}

/**
 * A running instrumentation: `close()` (or `using`) unsubscribes from every channel.
 * @example
 * ```ts
 * using _ = instrument()
 * ```
 */
export interface Instrumentation extends Disposable {
  /** Unsubscribes from every channel; recording stops. Idempotent. */
  close(): void
}

/**
 * Subscribes to yieldpoint's diagnostics channels and records, with attributes
 * `yieldpoint.primitive` (`Lock`, `Semaphore`, `SingleFlightCache`, …) and `yieldpoint.name` (the
 * primitive's `name` option, when given):
 *
 * | instrument | kind | unit | what |
 * | --- | --- | --- | --- |
 * | `yieldpoint.wait.duration` | histogram | s | time from `acquire()`/`wait()` to its outcome; attribute `yieldpoint.outcome` (`granted`, `aborted`,
 * `timeout`, `error`) |
 * | `yieldpoint.hold.duration` | histogram | s | time a Lock, Semaphore permit or KeyedLock key was held |
 * | `yieldpoint.waiters` | up-down counter | {waiter} | calls currently waiting |
 * | `yieldpoint.cache.lookups` | counter | {call} | `getOrSet` / `run` calls; attribute `yieldpoint.cache.result` (`hit`, `stale`, `miss`, `coalesced`) |
 * | `yieldpoint.cache.coalesced` | counter | {call} | callers that joined a load already running |
 * | `yieldpoint.cache.hit_ratio` | gauge | 1 | (hit + stale) / lookups since start, per cache |
 * | `yieldpoint.cache.loads` | counter | {load} | loads finished; attributes `yieldpoint.load.outcome` (`success`, `error`), `yieldpoint.load.background` |
 * | `yieldpoint.cache.load.duration` | histogram | s | how long each load took |
 *
 * and, unless `spans: false`, one span `yieldpoint.load` per load (a child of the context that
 * started it; status ERROR with the exception when the load fails).
 *
 * Nothing is recorded for what happens before `instrument()` or after `close()`; with no
 * instrumentation the channels have no subscriber and yieldpoint builds no message at all.
 *
 * @example
 * ```ts
 * import { instrument } from '@yieldpoint/otel'
 * const otel = instrument() // global MeterProvider / TracerProvider
 * process.on('SIGTERM', () => otel.close())
 * ```
 */
export function instrument(options: InstrumentOptions = {}): Instrumentation {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`@yieldpoint/otel instrument(options): options must be an object like { meterProvider }, got ${String(options)}.`)
  }
  const meter: Meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter('@yieldpoint/otel')
  const tracer: Tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer('@yieldpoint/otel')
  const spans = options.spans !== false
  const keyAttribute = options.keyAttribute === true

  const waitDuration = meter.createHistogram('yieldpoint.wait.duration', { unit: 's', description: 'Time from acquire()/wait() to its outcome.' })
  const holdDuration = meter.createHistogram('yieldpoint.hold.duration', { unit: 's', description: 'Time a lock, permit or key was held.' })
  const waiters = meter.createUpDownCounter('yieldpoint.waiters', { unit: '{waiter}', description: 'Calls currently waiting.' })
  const lookups = meter.createCounter('yieldpoint.cache.lookups', { unit: '{call}', description: 'getOrSet/run calls by result.' })
  const coalesced = meter.createCounter('yieldpoint.cache.coalesced', { unit: '{call}', description: 'Callers that joined a load already running.' })
  const loads = meter.createCounter('yieldpoint.cache.loads', { unit: '{load}', description: 'Loads finished, by outcome.' })
  const loadDuration = meter.createHistogram('yieldpoint.cache.load.duration', { unit: 's', description: 'How long each load took.' })
  const hitRatio = meter.createObservableGauge('yieldpoint.cache.hit_ratio', {
    unit: '1',
    description: '(hit + stale) / lookups since instrumentation started, per cache.',
  })

  /** Per cache (primitive + name): served-from-cache and total lookups, for the ratio. */
  const ratios = new Map<string, { attributes: Attributes; served: number; total: number }>()
  const observeRatios = (result: { observe(value: number, attributes?: Attributes): void }): void => {
    for (const r of ratios.values()) if (r.total > 0) result.observe(r.served / r.total, r.attributes)
  }
  hitRatio.addCallback(observeRatios)

  const base = (m: { primitive: string; name?: string | undefined }): Attributes =>
    m.name === undefined ? { 'yieldpoint.primitive': m.primitive } : { 'yieldpoint.primitive': m.primitive, 'yieldpoint.name': m.name }

  const onWait = (raw: unknown): void => {
    const m = raw as Message
    switch (m.event) {
      case 'acquire':
      case 'wait':
        waiters.add(1, base(m))
        return
      case 'granted':
      case 'aborted':
      case 'timeout':
      case 'error': {
        const attributes = base(m)
        waiters.add(-1, attributes)
        waitDuration.record((m.waitTime ?? 0) / 1000, { ...attributes, 'yieldpoint.outcome': m.event })
        return
      }
      case 'release':
        holdDuration.record((m.holdTime ?? 0) / 1000, base(m))
    }
  }

  const onLoad = (raw: unknown): void => {
    const m = raw as Message
    const attributes = base(m)
    switch (m.event) {
      case 'hit':
      case 'stale':
      case 'miss':
      case 'coalesced': {
        lookups.add(1, { ...attributes, 'yieldpoint.cache.result': m.event })
        if (m.event === 'coalesced') coalesced.add(1, attributes)
        const id = `${m.primitive}\u0000${m.name ?? ''}`
        let r = ratios.get(id)
        if (r === undefined) ratios.set(id, (r = { attributes, served: 0, total: 0 }))
        r.total++
        if (m.event === 'hit' || m.event === 'stale') r.served++
        return
      }
      case 'load-end':
      case 'load-error': {
        const a = {
          ...attributes,
          'yieldpoint.load.outcome': m.event === 'load-end' ? 'success' : 'error',
          'yieldpoint.load.background': m.background === true,
        }
        loads.add(1, a)
        loadDuration.record((m.duration ?? 0) / 1000, a)
      }
    }
  }

  const subscriptions: Array<() => void> = []
  for (const name of WAIT_CHANNELS) {
    subscribe(name, onWait)
    subscriptions.push(() => unsubscribe(name, onWait))
  }
  for (const name of LOAD_CHANNELS) {
    subscribe(name, onLoad)
    subscriptions.push(() => unsubscribe(name, onLoad))
  }

  if (spans) {
    const open = new WeakMap<object, Span>()
    const handlers = {
      start(raw: unknown) {
        const ctx = raw as LoadContext
        const attributes: Attributes = { ...base(ctx), 'yieldpoint.load.background': ctx.background === true }
        if (keyAttribute && ctx.key !== undefined) attributes['yieldpoint.key'] = String(ctx.key)
        // The context active here is the caller that started the load: the span is its child.
        open.set(ctx, tracer.startSpan('yieldpoint.load', { attributes }, context.active()))
      },
      end() {},
      asyncStart() {},
      error(raw: unknown) {
        const span = open.get(raw as object)
        const error = (raw as LoadContext).error
        if (span === undefined) return
        if (error instanceof Error) span.recordException(error)
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) })
      },
      asyncEnd(raw: unknown) {
        const span = open.get(raw as object)
        if (span === undefined) return
        open.delete(raw as object)
        span.end()
      },
    }
    for (const name of LOAD_CHANNELS) {
      const channel = tracingChannel(name)
      channel.subscribe(handlers)
      subscriptions.push(() => channel.unsubscribe(handlers))
    }
  }

  let closed = false
  const close = (): void => {
    if (closed) return
    closed = true
    for (const undo of subscriptions) undo()
    hitRatio.removeCallback(observeRatios)
  }
  return { close, [Symbol.dispose]: close }
}
