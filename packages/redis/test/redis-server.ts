import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((r) => server.close(r))
  return port
}

function requireRedisServer(): void {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error(
      'redis-server is not installed: run the README test command (it installs Debian\u2019s redis-server), or `apt-get install -y redis-server`.',
    )
  }
}

/** Resolves once `port` answers PING (the server may still be loading: retry until it does). */
async function waitForPing(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    probe.on('error', () => {})
    try {
      await probe.connect()
      await probe.ping()
      return
    } catch {
      await new Promise((r) => setTimeout(r, 25))
    } finally {
      probe.disconnect()
    }
  }
  throw new Error(`redis-server did not start on port ${port}`)
}

export interface RedisServer {
  url: string
  port: number
  /** SIGKILL (an outage; no persistence, so every key is gone). */
  stop(): Promise<void>
  /** Starts it again on the same port. */
  start(): Promise<void>
  /** SIGSTOP / SIGCONT: Redis stops answering without closing connections (a hung server). */
  pause(): void
  resume(): void
}

/**
 * A real redis-server on 127.0.0.1 on a free port, without persistence. `stop()` and `start()`
 * again on the same port simulate an outage; `pause()`/`resume()` a server that hangs.
 */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  requireRedisServer()
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'yp-redis-'))
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir, ...extraArgs],
      { stdio: 'ignore' },
    )
    await waitForPing(port)
  }
  const stop = async (): Promise<void> => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGCONT')
    child.kill('SIGKILL')
    await exited
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await stop()
    },
    start,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
  }
}

/** A real 3-master Redis Cluster (no replicas, no persistence) on free ports. */
export async function startCluster(): Promise<{ ports: number[]; stop: () => Promise<void> }> {
  requireRedisServer()
  const dir = mkdtempSync(join(tmpdir(), 'yp-cluster-'))
  const ports: number[] = []
  const children: ChildProcess[] = []
  const used = new Set<number>()
  const pick = async (): Promise<number> => {
    for (;;) {
      const p = await freePort()
      if (!used.has(p)) return (used.add(p), p)
    }
  }
  for (let i = 0; i < 3; i++) {
    const port = await pick()
    const bus = await pick()
    ports.push(port)
    children.push(
      spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--cluster-port',
          String(bus),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--save',
          '',
          '--appendonly',
          'no',
          '--protected-mode',
          'no',
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      ),
    )
  }
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return
        const exited = once(c, 'exit')
        c.kill('SIGKILL')
        await exited
      }),
    )
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await Promise.all(ports.map(waitForPing))
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      encoding: 'utf8',
    })
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
    // Every node must agree the cluster is up (all 16,384 slots served) before clients start.
    for (const port of ports) {
      const node = new Redis(port, '127.0.0.1')
      try {
        for (let i = 0; ; i++) {
          const info = await node.cluster('INFO')
          if (/cluster_state:ok/.test(info) && /cluster_known_nodes:3/.test(info)) break
          if (i > 400) throw new Error(`cluster node ${port} never reached cluster_state:ok:\n${info}`)
          await new Promise((r) => setTimeout(r, 25))
        }
      } finally {
        node.disconnect()
      }
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { ports, stop }
}
