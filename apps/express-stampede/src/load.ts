import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { StampedeRow } from '@yieldpoint/demo-kit'

/** Starts src/server.ts in a child process and returns its URLs. */
export async function startServers(latencyMs = 100): Promise<{ app: string; upstream: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./server.ts', import.meta.url))], {
    env: { ...process.env, UPSTREAM_LATENCY_MS: String(latencyMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
  return { ...(JSON.parse(line) as { app: string; upstream: string }), child }
}

/** Fires `n` concurrent GETs at `url` and counts the upstream calls they caused. */
export async function stampede(strategy: string, url: string, upstream: string, n: number): Promise<StampedeRow> {
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
  const elapsedMs = performance.now() - started
  const upstreamCalls = Number(await (await fetch(`${upstream}/calls`)).text())
  const ok = latencies.filter((x) => !Number.isNaN(x))
  return { strategy, requests: n, ok: ok.length, upstreamCalls, latencies: ok, elapsedMs }
}
