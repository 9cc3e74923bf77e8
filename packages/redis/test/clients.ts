// The test matrix: every Redis test runs with ioredis and node-redis, against one server and
// against a 3-master Redis Cluster (started once by global-setup.ts).
import { Cluster, Redis } from 'ioredis'
import { createClient, createCluster } from 'redis'

export type Lib = 'ioredis' | 'node-redis'
export type Target = { topology: 'single'; port: number } | { topology: 'cluster'; ports: number[] }

/** A raw library client configured as the package requires (no offline queue), connected. */
export async function connect(lib: Lib, target: Target): Promise<{ client: unknown; close: () => void }> {
  if (lib === 'ioredis') {
    const client =
      target.topology === 'single'
        ? new Redis(target.port, '127.0.0.1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 })
        : new Cluster(
            target.ports.map((port) => ({ host: '127.0.0.1', port })),
            { enableOfflineQueue: false },
          )
    client.on('error', () => {})
    if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()))
    return { client, close: () => client.disconnect() }
  }
  const client =
    target.topology === 'single'
      ? createClient({ url: `redis://127.0.0.1:${target.port}`, disableOfflineQueue: true, socket: { reconnectStrategy: () => 50 } })
      : createCluster({ rootNodes: target.ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })), defaults: { disableOfflineQueue: true } })
  client.on('error', () => {})
  await client.connect()
  return { client, close: () => void client.destroy() }
}

/** A plain ioredis connection for the test itself to look at and prepare Redis (any topology). */
export function admin(target: Target): Redis | Cluster {
  const c = target.topology === 'single' ? new Redis(target.port, '127.0.0.1') : new Cluster(target.ports.map((port) => ({ host: '127.0.0.1', port })))
  c.on('error', () => {})
  return c
}

/** Every master of the admin connection. */
export const masters = (c: Redis | Cluster): Redis[] => ((c as Cluster).isCluster ? (c as Cluster).nodes('master') : [c as Redis])

export async function flushAll(c: Redis | Cluster): Promise<void> {
  await Promise.all(masters(c).map((n) => n.flushall()))
}

/** Every key on every master matching `pattern`. */
export async function allKeys(c: Redis | Cluster, pattern = '*'): Promise<string[]> {
  return (await Promise.all(masters(c).map((n) => n.keys(pattern)))).flat()
}
