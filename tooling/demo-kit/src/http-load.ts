import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { StampedeRow } from './table'
import { upstreamTimeline, type Interval } from './record'

/**
 * Starts a demo's server script (TypeScript, through tsx) in a child process so the load
 * generator does not share its event loop. The script prints one JSON line with its URLs.
 */
export async function spawnServer<T extends object>(script: string, env: Record<string, string> = {}): Promise<T & { child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
  return { ...(JSON.parse(line) as T), child }
}

/**
 * Fires `n` concurrent GETs at `url` and counts the upstream calls they caused. With
 * `holdUntilCalls`, the upstream answers nobody until that many calls have arrived (tests use 2
 * to show a naive path stampedes without depending on machine speed).
 */
export async function httpStampede(strategy: string, url: string, upstream: string, n: number, opts: { holdUntilCalls?: number } = {}): Promise<StampedeRow> {
  await fetch(`${upstream}/reset?holdUntilCalls=${opts.holdUntilCalls ?? 0}`, { method: 'POST' })
  const started = performance.now()
  const requests: Interval[] = []
  const latencies = await Promise.all(
    Array.from({ length: n }, async () => {
      const t = performance.now()
      const res = await fetch(url)
      await res.arrayBuffer()
      requests.push([t - started, performance.now() - started])
      return res.ok ? performance.now() - t : Number.NaN
    }),
  )
  const elapsedMs = performance.now() - started
  const upstreamCalls = Number(await (await fetch(`${upstream}/calls`)).text())
  const ok = latencies.filter((x) => !Number.isNaN(x))
  const timeline = { requests, upstream: await upstreamTimeline(upstream, started) }
  return { strategy, requests: n, ok: ok.length, upstreamCalls, latencies: ok, elapsedMs, timeline }
}
