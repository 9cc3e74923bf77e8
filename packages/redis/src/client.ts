import { InvalidArgumentError } from '@yieldpoint/core'
import { ioredisClient, isIoredis } from './client-ioredis'
import { isNodeRedis, nodeRedisClient } from './client-node-redis'

/**
 * The little `@yieldpoint/redis` needs from Redis, over ioredis or node-redis, one server or a
 * Redis Cluster. Every multi-key operation is a Lua script whose keys share one `{hash tag}`, so
 * the same calls work on a cluster. `RedisStore` and `RedisKeyedLock` accept an ioredis
 * `Redis`/`Cluster`, a node-redis client/cluster, or an object implementing this interface.
 *
 * An implementation rejects with {@link RedisReplyError} when Redis answered with an error reply
 * (a bug or misconfiguration), with {@link RedisUnavailableError} for replies that mean "not now"
 * (`LOADING`, `CLUSTERDOWN`…), and with any other error when the command did not get an answer;
 * only the latter two count as "Redis is down".
 *
 * @example
 * ```ts
 * const client: RedisClient = toRedisClient(new Redis(url, { enableOfflineQueue: false }))
 * await client.evalScript("return redis.call('incr', KEYS[1])", ['{counter}'], [])
 * ```
 */
export interface RedisClient {
  /** Which library is underneath, for messages: `'ioredis'`, `'node-redis'`, or your own name. */
  readonly kind: string
  /** True on a Redis Cluster. */
  readonly cluster: boolean
  /** Runs a Lua script atomically (EVALSHA, then EVAL on NOSCRIPT). All `keys` share one hash slot. */
  evalScript(script: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>
  /** PUBLISH (a cluster forwards it to every node). */
  publish(channel: string, message: string): Promise<unknown>
  /** Every key matching the glob `pattern`, in batches, across every master of a cluster. */
  scan(pattern: string): AsyncIterable<string[]>
  /** UNLINKs `keys` (on a cluster, key by key, as they may live in different slots). */
  unlink(keys: readonly string[]): Promise<unknown>
  /**
   * Subscribes to `channels` on a dedicated connection (re-subscribing after reconnects) and
   * calls `onMessage` for every message.
   */
  subscribe(channels: readonly string[], onMessage: (channel: string, message: string) => void): RedisSubscription
}

/**
 * A subscription made by {@link RedisClient.subscribe}.
 * @example
 * ```ts
 * const sub = client.subscribe(['news'], (channel, message) => console.log(message))
 * await sub.ready()
 * sub.close()
 * ```
 */
export interface RedisSubscription {
  /** Resolves once Redis has confirmed the subscription (retries on the next call after a failure). */
  ready(): Promise<void>
  /** Unsubscribes and closes the connection if the subscription opened it. */
  close(): void
}

/**
 * Options of {@link toRedisClient}.
 * @example
 * ```ts
 * toRedisClient(client, { subscriber: client.duplicate() })
 * ```
 */
export interface ToRedisClientOptions {
  /**
   * A connection of the same library to use for SUBSCRIBE (not closed by us). Default: a duplicate
   * of the client, closed by `close()`. It may keep its offline queue (a late SUBSCRIBE is
   * harmless); with ioredis it should, or its own re-subscribe after a reconnect can reject unhandled.
   */
  subscriber?: unknown
  /** Name of the calling API, for error messages. */
  api?: string
}

/**
 * Wraps an ioredis `Redis` or `Cluster`, or a node-redis client or cluster, as a
 * {@link RedisClient}; returns an object that already implements it unchanged.
 *
 * A client must fail commands while it is disconnected instead of queueing them: a queued command
 * runs after the caller has given up (an `acquire` that already timed out would take a lease
 * nobody holds). So ioredis needs `enableOfflineQueue: false` and node-redis
 * `disableOfflineQueue: true` (for a node-redis cluster, in `defaults`); anything else throws
 * `InvalidArgumentError` naming the option to set.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis'
 * const client = toRedisClient(await createClient({ url, disableOfflineQueue: true }).connect())
 * ```
 */
export function toRedisClient(client: unknown, options: ToRedisClientOptions = {}): RedisClient {
  const api = options.api ?? 'toRedisClient()'
  if (isRedisClient(client)) return client
  if (isIoredis(client)) return ioredisClient(client, options.subscriber, api)
  if (isNodeRedis(client)) return nodeRedisClient(client, options.subscriber, api)
  throw new InvalidArgumentError(
    `${api}: client must be an ioredis client (new Redis(url, { enableOfflineQueue: false })), a node-redis client (createClient({ url, ` +
      `disableOfflineQueue: true })), one of their cluster clients, or an object implementing RedisClient; got ${client === null ? 'null' : typeof client}.`,
  )
}

function isRedisClient(value: unknown): value is RedisClient {
  const c = value as Partial<RedisClient> | null
  return typeof c === 'object' && c !== null && typeof c.evalScript === 'function' && typeof c.subscribe === 'function' && typeof c.publish === 'function'
}
