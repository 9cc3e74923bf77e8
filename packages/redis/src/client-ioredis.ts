import { InvalidArgumentError } from '@yieldpoint/core'
import { createHash } from 'node:crypto'
import type { RedisClient, RedisSubscription } from './client'
import { classifyClientError } from './errors'

// Structural types of what we use, so the declarations do not need ioredis installed.
type Arg = string | number
interface IoredisCommands {
  evalsha(sha: string, numKeys: number, ...args: Arg[]): Promise<unknown>
  eval(script: string, numKeys: number, ...args: Arg[]): Promise<unknown>
  publish(channel: string, message: string): Promise<unknown>
  scan(cursor: string, ...args: Arg[]): Promise<[string, string[]]>
  unlink(...keys: string[]): Promise<unknown>
  subscribe(...channels: string[]): Promise<unknown>
  on(event: string, listener: (...args: never[]) => void): unknown
  disconnect(): void
  duplicate(...overrides: unknown[]): IoredisCommands
  status: string
  options: { enableOfflineQueue?: boolean }
}
interface IoredisCluster extends IoredisCommands {
  isCluster: true
  nodes(role: 'master'): IoredisCommands[]
}

/** @internal */
export function isIoredis(value: unknown): value is IoredisCommands {
  const c = value as Partial<IoredisCommands> | null
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.evalsha === 'function' &&
    typeof c.duplicate === 'function' &&
    typeof c.options === 'object' &&
    typeof c.status === 'string'
  )
}

const shas = new Map<string, string>()
/** @internal */
export function sha1(script: string): string {
  let sha = shas.get(script)
  if (sha === undefined) shas.set(script, (sha = createHash('sha1').update(script).digest('hex')))
  return sha
}

/** The NOSCRIPT reply of either client. @internal */
export const isNoScript = (error: unknown): boolean => String((error as Error | undefined)?.message).startsWith('NOSCRIPT')

/** A {@link RedisClient} over an ioredis `Redis` or `Cluster`. @internal */
export function ioredisClient(client: IoredisCommands, subscriber: unknown, api: string): RedisClient {
  const cluster = (client as Partial<IoredisCluster>).isCluster === true
  // A queued command runs after its caller gave up (an abandoned acquire would take a lease
  // nobody holds), so a client must fail fast while disconnected. ioredis queues by default.
  if (client.options.enableOfflineQueue !== false) {
    throw new InvalidArgumentError(
      `${api}: the ioredis client queues commands while disconnected (enableOfflineQueue), ` +
        `so a command could take effect after its caller gave up. Create it ` +
        `with { enableOfflineQueue: false }: ` +
        `${cluster ? 'new Cluster(nodes, { enableOfflineQueue: false })' : 'new Redis(url, { enableOfflineQueue: false })'}.`,
    )
  }
  if (subscriber !== undefined && !isIoredis(subscriber))
    throw new InvalidArgumentError(`${api}: subscriber must be an ioredis connection like client (client.duplicate()).`)
  const run = async <T>(what: string, command: () => Promise<T>): Promise<T> => {
    try {
      return await command()
    } catch (error) {
      throw classifyClientError(what, error)
    }
  }
  return {
    kind: 'ioredis',
    cluster,
    evalScript: (script, keys, args) =>
      run('EVALSHA', async () => {
        try {
          return await client.evalsha(sha1(script), keys.length, ...keys, ...args)
        } catch (error) {
          if (!isNoScript(error)) throw error
          return await client.eval(script, keys.length, ...keys, ...args)
        }
      }),
    publish: (channel, message) => run('PUBLISH', () => client.publish(channel, message)),
    async *scan(pattern) {
      for (const node of cluster ? (client as IoredisCluster).nodes('master') : [client]) {
        let cursor = '0'
        do {
          const [next, keys] = await run('SCAN', () => node.scan(cursor, 'MATCH', pattern, 'COUNT', 500))
          cursor = next
          if (keys.length > 0) yield keys
        } while (cursor !== '0')
      }
    },
    unlink: (keys) =>
      run('UNLINK', () => (cluster ? Promise.all(keys.map((k) => client.unlink(k))) : keys.length ? client.unlink(...keys) : Promise.resolve(0))),
    subscribe: (channels, onMessage) =>
      ioredisSubscription(
        subscriber === undefined ? subscriberOf(client, cluster) : (subscriber as IoredisCommands),
        subscriber === undefined,
        channels,
        onMessage,
      ),
  }
}

/**
 * The connection we open for SUBSCRIBE keeps an offline queue: a late SUBSCRIBE has no effect to
 * undo, and without the queue ioredis's own re-subscribe after a reconnect rejects unhandled
 * ("Stream isn't writeable") when the connection drops again at once — which ends the process.
 */
function subscriberOf(client: IoredisCommands, cluster: boolean): IoredisCommands {
  return cluster ? client.duplicate(undefined, { enableOfflineQueue: true }) : client.duplicate({ enableOfflineQueue: true })
}

/**
 * One subscriber connection dispatching every message. ioredis re-subscribes after a reconnect
 * only what had succeeded, so we subscribe again whenever the connection becomes ready.
 */
function ioredisSubscription(
  connection: IoredisCommands,
  owned: boolean,
  channels: readonly string[],
  onMessage: (channel: string, message: string) => void,
): RedisSubscription {
  let ready: Promise<void> | undefined
  const start = (): Promise<void> =>
    (ready ??= connection.subscribe(...channels).then(
      () => {},
      (error: unknown) => {
        ready = undefined // try again next time
        throw classifyClientError('SUBSCRIBE', error)
      },
    ))
  connection.on('message', ((channel: string, message: string) => onMessage(channel, message)) as never)
  // Failures surface through the commands that fail; the connection reconnects by itself.
  connection.on('error', () => {})
  connection.on('ready', () => {
    ready = undefined
    start().catch(() => {})
  })
  if (connection.status === 'ready') start().catch(() => {})
  return {
    ready: start,
    close: () => {
      if (owned) connection.disconnect()
    },
  }
}
