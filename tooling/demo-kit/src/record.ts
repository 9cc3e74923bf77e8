import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { StampedeRow } from './table'

/** Start and end of one request or upstream call, in ms since its strategy's burst began. */
export type Interval = [start: number, end: number]

/** What happened over time in one strategy's burst: every request and every upstream call. */
export interface Timeline {
  requests: Interval[]
  upstream: Interval[]
}

/** One sampled series of a burst, for charts: at each time `t`, how many requests were still
 * waiting for an answer and how many upstream calls had been made (and were in flight). */
export interface Series {
  t: number[]
  waiting: number[]
  upstreamTotal: number[]
  upstreamInFlight: number[]
}

/** The record of one demo run: written as JSON next to the run, read by the charts/report. */
export interface RunRecord {
  app: string
  title: string
  recordedAt: string
  node: string
  strategies: Array<Omit<StampedeRow, 'latencies' | 'timeline'> & { p50: number; p99: number; series: Series }>
}

const SAMPLES = 120

/** Samples a timeline into `SAMPLES` points (a chart needs the shape, not 1,000 intervals). */
export function sample(timeline: Timeline, elapsedMs: number): Series {
  const ends = [...timeline.requests, ...timeline.upstream].map((r) => r[1]).filter((x) => x < Number.MAX_SAFE_INTEGER / 2)
  const end = Math.max(elapsedMs, ...ends, 1)
  const s: Series = { t: [], waiting: [], upstreamTotal: [], upstreamInFlight: [] }
  for (let i = 0; i <= SAMPLES; i++) {
    const t = (end * i) / SAMPLES
    s.t.push(Math.round(t * 10) / 10)
    s.waiting.push(timeline.requests.filter(([a, b]) => a <= t && t < b).length)
    s.upstreamTotal.push(timeline.upstream.filter(([a]) => a <= t).length)
    s.upstreamInFlight.push(timeline.upstream.filter(([a, b]) => a <= t && t < b).length)
  }
  return s
}

/** Asks the counting upstream when each of its calls started and ended, relative to `started`
 * (a `performance.now()` of this process; the upstream may be another process). */
export async function upstreamTimeline(upstream: string, started: number): Promise<Interval[]> {
  const calls = (await (await fetch(`${upstream}/timeline`)).json()) as Interval[]
  const origin = performance.timeOrigin + started
  // a call still running when asked (end null) is drawn as running to the end of the chart
  return calls.map(([a, b]) => [a - origin, (b ?? Number.MAX_SAFE_INTEGER) - origin])
}

const pct = (sorted: number[], p: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0)

/**
 * Writes the run's record to `run-record.json` in the current directory (the app's folder under
 * `pnpm demo`) and, when `YIELDPOINT_REPORT_DIR` is set, to `<dir>/<app>.json` — the input of
 * `node docs/scripts/report.mjs` (`pnpm demo -- --report`).
 */
export function recordRun(app: string, title: string, rows: StampedeRow[]): RunRecord {
  const record: RunRecord = {
    app,
    title,
    recordedAt: new Date().toISOString(),
    node: process.version,
    strategies: rows.map(({ latencies, timeline, ...row }) => {
      const sorted = [...latencies].sort((a, b) => a - b)
      return { ...row, p50: pct(sorted, 50), p99: pct(sorted, 99), series: sample(timeline ?? { requests: [], upstream: [] }, row.elapsedMs) }
    }),
  }
  const json = `${JSON.stringify(record)}\n`
  writeFileSync('run-record.json', json)
  if (process.env.YIELDPOINT_REPORT_DIR) writeFileSync(join(process.env.YIELDPOINT_REPORT_DIR, `${app}.json`), json)
  return record
}
