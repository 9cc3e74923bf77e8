import { spawnServer, type StampedeRow } from '@yieldpoint/demo-kit'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

export interface ClusterProcess {
  url: string
  pid: number
  child: ChildProcess
}

/** Starts `n` worker processes (see worker.ts), with or without Redis. */
export function startCluster(n: number, upstream: string, redisUrl?: string, prefix = `cluster:${Date.now()}:`): Promise<ClusterProcess[]> {
  const script = fileURLToPath(new URL('./worker.ts', import.meta.url))
  return Promise.all(
    Array.from({ length: n }, () =>
      spawnServer<{ url: string; pid: number }>(script, { UPSTREAM: upstream, PREFIX: prefix, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) }),
    ),
  )
}

export function stopCluster(cluster: ClusterProcess[]): void {
  for (const p of cluster) p.child.kill('SIGKILL')
}

/**
 * Fires `n` concurrent GETs for `path`, spread round-robin over the processes. A request whose
 * process dies is retried on the next one — what a load balancer does — so every request is
 * answered while at least one process lives.
 */
export async function clusterStampede(
  strategy: string,
  cluster: ClusterProcess[],
  upstream: string,
  path: string,
  n: number,
  onFirstUpstreamCall?: () => void,
): Promise<StampedeRow & { retried: number }> {
  await fetch(`${upstream}/reset`, { method: 'POST' })
  let retried = 0
  let watching = onFirstUpstreamCall !== undefined
  if (watching) {
    void (async () => {
      while (watching) {
        if (Number(await (await fetch(`${upstream}/calls`)).text()) > 0) {
          watching = false
          onFirstUpstreamCall!()
        }
        await new Promise((r) => setTimeout(r, 5))
      }
    })()
  }
  const started = performance.now()
  const latencies = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const t = performance.now()
      for (let attempt = 0; attempt < cluster.length; attempt++) {
        const target = cluster[(i + attempt) % cluster.length]!
        try {
          // As through the load balancer in front: one public host for every process.
          const res = await fetch(`${target.url}${path}`, { headers: { 'x-forwarded-host': 'shop.example', 'x-forwarded-proto': 'https' } })
          await res.arrayBuffer()
          if (res.ok) return performance.now() - t
        } catch {
          retried++
        }
      }
      return Number.NaN
    }),
  )
  watching = false
  const elapsedMs = performance.now() - started
  const upstreamCalls = Number(await (await fetch(`${upstream}/calls`)).text())
  const ok = latencies.filter((x) => !Number.isNaN(x))
  return { strategy, requests: n, ok: ok.length, upstreamCalls, latencies: ok, elapsedMs, retried }
}

/** Starts a throwaway redis-server on 127.0.0.1 on a free port, or returns undefined if none is installed. */
export async function startRedis(): Promise<{ url: string; stop: () => void } | undefined> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined
  const probe = createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const { port } = probe.address() as { port: number }
  await new Promise((r) => probe.close(r))
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  for await (const chunk of child.stdout!) if (String(chunk).includes('Ready to accept connections')) break
  child.stdout!.resume()
  return { url: `redis://127.0.0.1:${port}`, stop: () => void child.kill('SIGKILL') }
}

export async function callers(upstream: string): Promise<string[]> {
  return (await (await fetch(`${upstream}/callers`)).json()) as string[]
}

export { once }
