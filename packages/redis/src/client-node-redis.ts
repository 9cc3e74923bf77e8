import { InvalidArgumentError } from '@yieldpoint/core'
import type { RedisClient, RedisSubscription } from './client'
import { sha1, isNoScript } from './client-ioredis'
import { classifyClientError } from './errors'

// Structural types of what we use of node-redis (`redis` / `@redis/client`), so the
// declarations do not need it installed.
type Listener = (message: string, channel: string) => void
interface NodeRedisBase {
  isOpen: boolean
  connect(): Promise<unknown>
  on(event: string, listener: (...args: never[]) => void): unknown
  subscribe(channels: string[], listener: Listener): Promise<unknown>
  publish(channel: string, message: string): Promise<unknown>
  destroy?(): void
  disconnect?(): Promise<void>
}
interface NodeRedisClient extends NodeRedisBase {
  sendCommand(args: string[]): Promise<unknown>
  duplicate(): NodeRedisClient
  options?: { disableOfflineQueue?: boolean }
}
interface NodeRedisCluster extends NodeRedisBase {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>
  duplicate(): NodeRedisCluster
  masters: unknown[]
  nodeClient(node: unknown): Promise<NodeRedisClient>
  _options?: { defaults?: { disableOfflineQueue?: boolean } }
}
type NodeRedis = NodeRedisClient | NodeRedisCluster

/** @internal */
export function isNodeRedis(value: unknown): value is NodeRedis {
  const c = value as Partial<NodeRedisClient> | null
  return typeof c === 'object' && c !== null && typeof c.sendCommand === 'function' && typeof c.duplicate === 'function' && typeof c.isOpen === 'boolean'
}

const isCluster = (c: NodeRedis): c is NodeRedisCluster => typeof (c as Partial<NodeRedisCluster>).nodeClient === 'function'

/** A {@link RedisClient} over a node-redis client or cluster. @internal */
export function nodeRedisClient(client: NodeRedis, subscriber: unknown, api: string): RedisClient {
  const cluster = isCluster(client)
  // A queued command runs after its caller gave up (an abandoned acquire would take a lease
  // nobody holds), so a client must fail fast while disconnected. node-redis queues by default.
  const offlineQueueOff = cluster ? client._options?.defaults?.disableOfflineQueue === true : client.options?.disableOfflineQueue === true
  if (!offlineQueueOff) {
    throw new InvalidArgumentError(
      `${api}: the node-redis client queues commands while disconnected (its offline queue), so a command could take effect after its caller gave up. Create ` +
        `it with ${cluster ? 'createCluster({ rootNodes, defaults: { disableOfflineQueue: true } })' : 'createClient({ url, disableOfflineQueue: true })'}.`,
    )
  }
  if (subscriber !== undefined && !isNodeRedis(subscriber))
    throw new InvalidArgumentError(`${api}: subscriber must be a node-redis connection like client (client.duplicate()).`)
  const send = async (what: string, firstKey: string | undefined, args: string[]): Promise<unknown> => {
    try {
      return await (cluster ? client.sendCommand(firstKey, false, args) : client.sendCommand(args))
    } catch (error) {
      throw classifyClientError(what, error)
    }
  }
  const scanNode = async function* (node: NodeRedisClient, pattern: string): AsyncIterable<string[]> {
    let cursor = '0'
    do {
      let reply: [string, string[]]
      try {
        reply = (await node.sendCommand(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '500'])) as [string, string[]]
      } catch (error) {
        throw classifyClientError('SCAN', error)
      }
      cursor = String(reply[0])
      if (reply[1].length > 0) yield reply[1]
    } while (cursor !== '0')
  }
  return {
    kind: 'node-redis',
    cluster,
    evalScript: async (script, keys, args) => {
      const tail = [String(keys.length), ...keys, ...args.map(String)]
      try {
        return await send('EVALSHA', keys[0], ['EVALSHA', sha1(script), ...tail])
      } catch (error) {
        if (!isNoScript((error as { cause?: unknown }).cause ?? error)) throw error
        return await send('EVAL', keys[0], ['EVAL', script, ...tail])
      }
    },
    publish: (channel, message) => send('PUBLISH', undefined, ['PUBLISH', channel, message]),
    async *scan(pattern) {
      if (!cluster) return yield* scanNode(client, pattern)
      for (const master of client.masters) yield* scanNode(await client.nodeClient(master), pattern)
    },
    unlink: async (keys) => {
      if (keys.length === 0) return 0
      if (!cluster) return send('UNLINK', undefined, ['UNLINK', ...keys])
      return Promise.all(keys.map((k) => send('UNLINK', k, ['UNLINK', k])))
    },
    subscribe: (channels, onMessage) =>
      nodeRedisSubscription(subscriber === undefined ? client.duplicate() : (subscriber as NodeRedis), subscriber === undefined, channels, onMessage),
  }
}

/** node-redis re-subscribes by itself after a reconnect. */
function nodeRedisSubscription(
  connection: NodeRedis,
  owned: boolean,
  channels: readonly string[],
  onMessage: (channel: string, message: string) => void,
): RedisSubscription {
  // Failures surface through the commands that fail; the connection reconnects by itself.
  connection.on('error', () => {})
  let ready: Promise<void> | undefined
  let closed = false
  const start = (): Promise<void> =>
    (ready ??= (async () => {
      if (!connection.isOpen) await connection.connect()
      await connection.subscribe([...channels], (message, channel) => onMessage(channel, message))
    })().catch((error: unknown) => {
      ready = undefined // try again next time
      throw classifyClientError('SUBSCRIBE', error)
    }))
  start().catch(() => {})
  return {
    ready: start,
    close: () => {
      if (!owned || closed) return
      closed = true
      if (connection.destroy) connection.destroy()
      else void connection.disconnect?.().catch(() => {})
    },
  }
}
