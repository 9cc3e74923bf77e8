/** One row of a stampede table: what was measured for one strategy. */
export interface StampedeRow {
  strategy: string
  requests: number
  ok: number
  upstreamCalls: number
  /** Latencies in ms of the successful requests. */
  latencies: number[]
  elapsedMs: number
  /** When each request and upstream call started and ended (for the run's charts). */
  timeline?: import('./record').Timeline
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

/** Prints the table every demo app uses: upstream calls, p50/p99 latency, requests per second. */
export function printStampedeTable(title: string, rows: StampedeRow[], unit = 'requests'): void {
  const header = ['strategy', unit, 'ok', 'upstream calls', 'p50', 'p99', `${unit}/s`]
  const cells = rows.map((r) => {
    const sorted = [...r.latencies].sort((a, b) => a - b)
    return [
      r.strategy,
      String(r.requests),
      String(r.ok),
      String(r.upstreamCalls),
      `${percentile(sorted, 50).toFixed(0)} ms`,
      `${percentile(sorted, 99).toFixed(0)} ms`,
      ((r.requests / r.elapsedMs) * 1000).toFixed(0),
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]): string => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`
  console.log(`\n${title}\n`)
  console.log(line(header))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const c of cells) console.log(line(c))
}
