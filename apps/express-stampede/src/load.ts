import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export interface RouteResult {
  route: string
  requests: number
  ok: number
  upstreamCalls: number
  p50: number
  p99: number
  rps: number
}

/** Starts src/server.ts in a child process and returns its URLs. */
export async function startServers(latencyMs = 100): Promise<{ app: string; upstream: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./server.ts', import.meta.url))], {
    env: { ...process.env, UPSTREAM_LATENCY_MS: String(latencyMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
  return { ...(JSON.parse(line) as { app: string; upstream: string }), child }
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

/** Fires `n` concurrent GETs at `url` and counts the upstream calls they caused. */
export async function stampede(route: string, url: string, upstream: string, n: number): Promise<RouteResult> {
  await fetch(`${upstream}/reset`, { method: 'POST' })
  const started = performance.now()
  const latencies = await Promise.all(
    Array.from({ length: n }, async () => {
      const t = performance.now()
      const res = await fetch(url)
      await res.arrayBuffer()
      return res.ok ? performance.now() - t : Number.NaN
    }),
  )
  const elapsed = performance.now() - started
  const upstreamCalls = Number(await (await fetch(`${upstream}/calls`)).text())
  const okLatencies = latencies.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b)
  return { route, requests: n, ok: okLatencies.length, upstreamCalls, p50: percentile(okLatencies, 50), p99: percentile(okLatencies, 99), rps: (n / elapsed) * 1000 }
}

export function printTable(title: string, rows: RouteResult[]): void {
  const header = ['route', 'requests', 'ok', 'upstream calls', 'p50', 'p99', 'requests/s']
  const cells = rows.map((r) => [r.route, String(r.requests), String(r.ok), String(r.upstreamCalls), `${r.p50.toFixed(0)} ms`, `${r.p99.toFixed(0)} ms`, r.rps.toFixed(0)])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]): string => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`
  console.log(`\n${title}\n`)
  console.log(line(header))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const c of cells) console.log(line(c))
}
