import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { CacheMessage, ReleaseMessage, WaitMessage } from '@yieldpoint/core'
import { Counter, Histogram, Registry } from 'prom-client'

/**
 * Prometheus metrics fed straight from yieldpoint's diagnostics channels (no OpenTelemetry
 * needed; `@yieldpoint/otel` records the same with an OTel SDK). `GET /metrics` serves
 * `registry.metrics()`.
 *
 * - `yieldpoint_cache_lookups_total{cache,result}` — result: hit, stale, miss, coalesced
 * - `yieldpoint_cache_loads_total{cache,outcome}` — outcome: success, error
 * - `yieldpoint_cache_load_duration_seconds{cache}`
 * - `yieldpoint_wait_duration_seconds{primitive,name,outcome}` and `yieldpoint_hold_duration_seconds{primitive,name}`
 * - `app_upstream_calls_total{route}` — counted by the app itself, for the naive route's stampede
 */
export function createMetrics() {
  const registry = new Registry()
  const lookups = new Counter({
    name: 'yieldpoint_cache_lookups_total',
    help: 'Cache lookups by result.',
    labelNames: ['cache', 'result'],
    registers: [registry],
  })
  const loads = new Counter({
    name: 'yieldpoint_cache_loads_total',
    help: 'Cache loads finished, by outcome.',
    labelNames: ['cache', 'outcome'],
    registers: [registry],
  })
  const loadDuration = new Histogram({
    name: 'yieldpoint_cache_load_duration_seconds',
    help: 'How long each cache load took.',
    labelNames: ['cache'],
    registers: [registry],
  })
  const wait = new Histogram({
    name: 'yieldpoint_wait_duration_seconds',
    help: 'Time from acquire() to its outcome.',
    labelNames: ['primitive', 'name', 'outcome'],
    registers: [registry],
  })
  const hold = new Histogram({
    name: 'yieldpoint_hold_duration_seconds',
    help: 'Time a lock or permit was held.',
    labelNames: ['primitive', 'name'],
    registers: [registry],
  })
  const upstreamCalls = new Counter({
    name: 'app_upstream_calls_total',
    help: 'Calls this app made to the upstream, by route.',
    labelNames: ['route'],
    registers: [registry],
  })

  const onCache = (raw: unknown): void => {
    const m = raw as CacheMessage
    const cache = m.name ?? m.primitive
    if (m.event === 'hit' || m.event === 'stale' || m.event === 'miss' || m.event === 'coalesced') lookups.inc({ cache, result: m.event })
    else if (m.event === 'load-end' || m.event === 'load-error') {
      loads.inc({ cache, outcome: m.event === 'load-end' ? 'success' : 'error' })
      loadDuration.observe({ cache }, (m.duration ?? 0) / 1000)
    }
  }
  const onWait = (raw: unknown): void => {
    const m = raw as WaitMessage | ReleaseMessage
    const labels = { primitive: m.primitive, name: m.name ?? '' }
    if (m.event === 'release') hold.observe(labels, m.holdTime / 1000)
    else if (m.event !== 'acquire' && m.event !== 'wait') wait.observe({ ...labels, outcome: m.event }, (m.waitTime ?? 0) / 1000)
  }
  const waits = ['yieldpoint:lock', 'yieldpoint:semaphore', 'yieldpoint:keyed-lock']
  subscribe('yieldpoint:cache', onCache)
  for (const name of waits) subscribe(name, onWait)

  return {
    registry,
    upstreamCalls,
    close(): void {
      unsubscribe('yieldpoint:cache', onCache)
      for (const name of waits) unsubscribe(name, onWait)
    },
  }
}

/** Reads one sample from Prometheus text (`name{a="b",…} value`), 0 when absent. */
export function sampleOf(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const match = /^([^{\s]+)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3])
  }
  return 0
}
