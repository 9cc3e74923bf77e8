// A test worker process: one SingleFlightCache over a RedisStore (and a RedisKeyedLock),
// driven over stdin/stdout with JSON lines. Configuration comes from the environment.
import { SingleFlightCache } from '@yieldpoint/core'
import { Redis } from 'ioredis'
import { createInterface } from 'node:readline'
import { RedisKeyedLock, RedisStore } from '../src'

const env = process.env
const client = new Redis(env.REDIS_URL!, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 100 })
client.on('error', () => {})
const subscriber = client.duplicate()
subscriber.on('error', () => {})
const store = new RedisStore<string, unknown>({
  client,
  subscriber,
  prefix: env.PREFIX ?? 'test:',
  lockTtl: Number(env.LOCK_TTL ?? 10_000),
  pollInterval: Number(env.POLL ?? 100),
  commandTimeout: Number(env.COMMAND_TIMEOUT ?? 500),
  breakerMs: Number(env.BREAKER_MS ?? 500),
  heartbeat: env.HEARTBEAT !== 'false',
  ...(env.L1 ? { l1: { max: 1000 } } : {}),
  ...(env.AFTER_MISS_DELAY ? { afterLockMiss: () => new Promise<void>((r) => setTimeout(r, Number(env.AFTER_MISS_DELAY))) } : {}),
})
const cache = new SingleFlightCache<string, unknown>({ ttl: Number(env.TTL ?? 60_000), errorTtl: Number(env.ERROR_TTL ?? 0), store })
const locks = new RedisKeyedLock({ client, prefix: `${env.PREFIX ?? 'test:'}lock:`, lockTtl: 5_000, pollInterval: 20 })

async function load(key: string): Promise<unknown> {
  const res = await fetch(`${env.ORIGIN}/load?key=${encodeURIComponent(key)}&pid=${process.pid}&ms=${env.ORIGIN_DELAY ?? 100}`)
  if (!res.ok) throw Object.assign(new Error(await res.text()), { name: 'OriginError', code: 'E_ORIGIN' })
  return res.json()
}

type Command = { id: number; op: string; key?: string; n?: number; locked?: boolean; value?: unknown }

async function handle(cmd: Command): Promise<unknown> {
  switch (cmd.op) {
    case 'getOrSet': {
      const started = performance.now()
      const settled = await Promise.allSettled(Array.from({ length: cmd.n ?? 1 }, () => cache.getOrSet(cmd.key!, ({ key }) => load(key))))
      const values = settled.filter((s) => s.status === 'fulfilled').map((s) => JSON.stringify((s as PromiseFulfilledResult<unknown>).value))
      const errors = settled.filter((s) => s.status === 'rejected').map((s) => {
        const e = (s as PromiseRejectedResult).reason as Error & { code?: unknown }
        return { name: e.name, message: e.message, code: e.code }
      })
      return { values: [...new Set(values)], fulfilled: values.length, errors, elapsedMs: performance.now() - started }
    }
    case 'healthy':
      // Redis answers this process again, and the store's breaker has closed.
      return (await client.ping().then(() => true, () => false)) && store.healthy
    case 'get':
      return (await cache.get(cmd.key!)) ?? null
    case 'delete':
      return cache.delete(cmd.key!)
    case 'increment': {
      // read, await, write — the lost update, with or without the cluster-wide lock
      const once = async (): Promise<void> => {
        const value = Number((await client.get('counter')) ?? 0)
        await new Promise((r) => setImmediate(r))
        await client.set('counter', value + 1)
      }
      await Promise.all(Array.from({ length: cmd.n ?? 1 }, () => (cmd.locked ? locks.runExclusive('counter', once) : once())))
      return 'done'
    }
    default:
      throw new Error(`unknown op ${cmd.op}`)
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as Command
  handle(cmd).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: cmd.id, result })}\n`),
    (error: Error) => process.stdout.write(`${JSON.stringify({ id: cmd.id, error: error.message })}\n`),
  )
})
// Commands fail fast while a connection is not ready (no offline queue): start when both are.
const ready = (c: Redis) => (c.status === 'ready' ? Promise.resolve() : new Promise<void>((r) => c.once('ready', () => r())))
await Promise.all([ready(client), ready(subscriber)])
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`)
