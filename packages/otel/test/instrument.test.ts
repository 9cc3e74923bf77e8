import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { KeyedLock, Lock, Semaphore, SingleFlight, SingleFlightCache } from '@yieldpoint/core'
import { hasSubscribers } from 'node:diagnostics_channel'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { instrument, type Instrumentation } from '../src'

let exporter: InMemoryMetricExporter
let reader: PeriodicExportingMetricReader
let meterProvider: MeterProvider
let spans: InMemorySpanExporter
let tracerProvider: BasicTracerProvider
let otel: Instrumentation

beforeEach(() => {
  exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  // Exports only when asked (forceFlush): no timer decides what a test sees.
  reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 2_147_483_647 })
  meterProvider = new MeterProvider({ readers: [reader] })
  spans = new InMemorySpanExporter()
  tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
  otel = instrument({ meterProvider, tracerProvider })
})

const afterCleanup: Array<() => void> = []
afterEach(async () => {
  while (afterCleanup.length) afterCleanup.pop()!()
  otel.close()
  await meterProvider.shutdown()
  await tracerProvider.shutdown()
})

/** Every metric exported so far, by name. */
async function collect(): Promise<Map<string, MetricData>> {
  exporter.reset()
  await reader.forceFlush()
  const out = new Map<string, MetricData>()
  for (const rm of exporter.getMetrics()) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) out.set(m.descriptor.name, m)
  return out
}

function points(m: MetricData | undefined): DataPoint<unknown>[] {
  return (m?.dataPoints ?? []) as DataPoint<unknown>[]
}

function point(m: MetricData | undefined, attributes: Record<string, unknown>): DataPoint<unknown> | undefined {
  return points(m).find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
}

describe('@yieldpoint/otel metrics', () => {
  it('wait-time and hold-time histograms, by primitive, name and outcome', async () => {
    const lock = new Lock({ name: 'ledger' })
    const a = await lock.acquire()
    const b = lock.acquire()
    const ac = new AbortController()
    const c = lock.acquire({ signal: ac.signal })
    ac.abort()
    await c.catch(() => {})
    a.release()
    ;(await b).release()
    const m = await collect()
    const wait = m.get('yieldpoint.wait.duration')!
    expect(wait.dataPointType).toBe(DataPointType.HISTOGRAM)
    expect(wait.descriptor.unit).toBe('s')
    const granted = point(wait, { 'yieldpoint.primitive': 'Lock', 'yieldpoint.name': 'ledger', 'yieldpoint.outcome': 'granted' })!
    expect((granted.value as Histogram).count).toBe(2)
    const aborted = point(wait, { 'yieldpoint.outcome': 'aborted' })!
    expect((aborted.value as Histogram).count).toBe(1)
    const hold = point(m.get('yieldpoint.hold.duration'), { 'yieldpoint.primitive': 'Lock', 'yieldpoint.name': 'ledger' })!
    expect((hold.value as Histogram).count).toBe(2)
    expect((hold.value as Histogram).min).toBeGreaterThanOrEqual(0)
  })

  it('the waiters gauge counts calls waiting right now', async () => {
    const sem = new Semaphore(1, { name: 'api' })
    const held = await sem.acquire()
    const queued = [sem.acquire(), sem.acquire(), sem.acquire()]
    let m = await collect()
    expect(point(m.get('yieldpoint.waiters'), { 'yieldpoint.name': 'api' })!.value).toBe(3)
    held.release()
    for (const q of queued) (await q).release()
    m = await collect()
    expect(point(m.get('yieldpoint.waiters'), { 'yieldpoint.name': 'api' })!.value).toBe(0)
    // tryAcquire balances too.
    new KeyedLock({ name: 'k' }).tryAcquire('x')!.release()
    m = await collect()
    expect(point(m.get('yieldpoint.waiters'), { 'yieldpoint.name': 'k' })!.value).toBe(0)
  })

  it('cache: lookups by result, coalesced callers, loads, load duration and the hit ratio', async () => {
    const cache = new SingleFlightCache<string, number>({ name: 'products' })
    let finish!: (v: number) => void
    const loader = () => new Promise<number>((resolve) => (finish = resolve))
    const burst = Array.from({ length: 5 }, () => cache.getOrSet('p', loader))
    finish(1)
    await Promise.all(burst)
    for (let i = 0; i < 4; i++) await cache.getOrSet('p', loader)
    await cache.getOrSet('bad', async () => Promise.reject(new Error('down'))).catch(() => {})
    const m = await collect()
    const lookups = m.get('yieldpoint.cache.lookups')
    const cacheAttrs = { 'yieldpoint.primitive': 'SingleFlightCache', 'yieldpoint.name': 'products' }
    expect(point(lookups, { ...cacheAttrs, 'yieldpoint.cache.result': 'miss' })!.value).toBe(2)
    expect(point(lookups, { ...cacheAttrs, 'yieldpoint.cache.result': 'coalesced' })!.value).toBe(4)
    expect(point(lookups, { ...cacheAttrs, 'yieldpoint.cache.result': 'hit' })!.value).toBe(4)
    expect(point(m.get('yieldpoint.cache.coalesced'), cacheAttrs)!.value).toBe(4)
    expect(point(m.get('yieldpoint.cache.loads'), { 'yieldpoint.load.outcome': 'success' })!.value).toBe(1)
    expect(point(m.get('yieldpoint.cache.loads'), { 'yieldpoint.load.outcome': 'error' })!.value).toBe(1)
    const duration = point(m.get('yieldpoint.cache.load.duration'), { 'yieldpoint.load.outcome': 'success' })!
    expect((duration.value as Histogram).count).toBe(1)
    // 4 hits out of 10 lookups.
    expect(point(m.get('yieldpoint.cache.hit_ratio'), cacheAttrs)!.value).toBeCloseTo(0.4)
  })

  it('SingleFlight counts as a cache without storage: miss and coalesced', async () => {
    const group = new SingleFlight<string, number>({ name: 'users' })
    let finish!: (v: number) => void
    const runs = [1, 2, 3].map(() => group.run('u', () => new Promise<number>((resolve) => (finish = resolve))))
    finish(9)
    await Promise.all(runs)
    const m = await collect()
    expect(point(m.get('yieldpoint.cache.lookups'), { 'yieldpoint.primitive': 'SingleFlight', 'yieldpoint.cache.result': 'coalesced' })!.value).toBe(2)
    expect(point(m.get('yieldpoint.cache.loads'), { 'yieldpoint.primitive': 'SingleFlight' })!.value).toBe(1)
  })

  it('close() unsubscribes: nothing more is recorded and the channels fall silent', async () => {
    otel.close()
    otel.close()
    expect(hasSubscribers('yieldpoint:lock')).toBe(false)
    expect(hasSubscribers('yieldpoint:cache')).toBe(false)
    ;(await new Lock({ name: 'after' }).acquire()).release()
    const m = await collect()
    expect(point(m.get('yieldpoint.hold.duration'), { 'yieldpoint.name': 'after' })).toBeUndefined()
  })
})

describe('@yieldpoint/otel spans', () => {
  it('one span per load, a child of the caller that started it; errors set status and record the exception', async () => {
    const contextManager = new AsyncLocalStorageContextManager().enable()
    context.setGlobalContextManager(contextManager)
    afterCleanup.push(() => {
      context.disable()
      contextManager.disable()
    })
    const cache = new SingleFlightCache<string, string>({ name: 'users' })
    const tracer = tracerProvider.getTracer('test')
    const parent = tracer.startSpan('GET /users/1')
    await context.with(trace.setSpan(context.active(), parent), () => cache.getOrSet('u1', async () => 'ada'))
    parent.end()
    await cache.getOrSet('u2', async () => Promise.reject(new Error('db down'))).catch(() => {})
    const finished = spans.getFinishedSpans().filter((s) => s.name === 'yieldpoint.load')
    expect(finished).toHaveLength(2)
    const [ok, failed] = finished
    expect(ok!.attributes).toMatchObject({ 'yieldpoint.primitive': 'SingleFlightCache', 'yieldpoint.name': 'users', 'yieldpoint.load.background': false })
    expect(ok!.attributes['yieldpoint.key']).toBeUndefined()
    expect(ok!.parentSpanContext?.spanId).toBe(parent.spanContext().spanId)
    expect(ok!.status.code).toBe(0)
    expect(failed!.status).toMatchObject({ code: 2, message: 'db down' })
    expect(failed!.events.map((e) => e.name)).toContain('exception')
  })

  it('keyAttribute: true puts the key on the span; spans: false records none', async () => {
    otel.close()
    otel = instrument({ meterProvider, tracerProvider, keyAttribute: true })
    await new SingleFlightCache<string, number>().getOrSet('sku-1', async () => 1)
    expect(spans.getFinishedSpans()[0]!.attributes['yieldpoint.key']).toBe('sku-1')
    otel.close()
    spans.reset()
    otel = instrument({ meterProvider, tracerProvider, spans: false })
    await new SingleFlightCache<string, number>().getOrSet('sku-2', async () => 1)
    expect(spans.getFinishedSpans()).toEqual([])
  })

  it('rejects malformed options', () => {
    expect(() => instrument(42 as never)).toThrow(TypeError)
  })
})
