// A test worker process: SingleFlightCaches over RedisStores (and a RedisKeyedLock), driven over
// stdin/stdout with JSON lines. The library and topology come from the environment (REDIS_LIB,
// REDIS_TARGET); each command carries its configuration (`cfg`), so one worker serves many
// tests (spawning processes is the slow part of the suite on a busy machine).
import { SingleFlightCache } from '@yieldpoint/core'
import { createInterface } from 'node:readline'
import { RedisKeyedLock, RedisStore } from '../src'
import { connect, type Lib, type Target } from './clients'

const env = process.env
const { client } = await connect(env.REDIS_LIB as Lib, JSON.parse(env.REDIS_TARGET!) as Target)
const raw = client as { get(key: string): Promise<string | null>; set(key: string, value: string): Promise<unknown>; incr(key: string): Promise<number> }

/** Options of one test's store and cache (strings, as they once came from the environment). */
export type Config = Partial<
  Record<'LOCK_TTL' | 'POLL' | 'COMMAND_TIMEOUT' | 'BREAKER_MS' | 'HEARTBEAT' | 'L1' | 'MISS' | 'TTL' | 'ERROR_TTL' | 'ORIGIN_DELAY', string>
>

interface Setup {
  store: RedisStore<string, unknown>
  cache: SingleFlightCache<string, unknown>
  locks: RedisKeyedLock
  cfg: Config
}
const setups = new Map<string, Setup>()
function setup(cfg: Config = {}): Setup {
  const id = JSON.stringify(cfg)
  let found = setups.get(id)
  if (found) return found
  const store = new RedisStore<string, unknown>({
    client,
    prefix: 'test:',
    lockTtl: Number(cfg.LOCK_TTL ?? 10_000),
    pollInterval: Number(cfg.POLL ?? 100),
    commandTimeout: Number(cfg.COMMAND_TIMEOUT ?? 2_000),
    breakerMs: Number(cfg.BREAKER_MS ?? 500),
    heartbeat: cfg.HEARTBEAT !== 'false',
    ...(cfg.L1 ? { l1: { max: 1000 } } : {}),
    ...(cfg.MISS ? { afterLockMiss: () => afterMiss(cfg.MISS!) } : {}),
  })
  const cache = new SingleFlightCache<string, unknown>({ ttl: Number(cfg.TTL ?? 60_000), errorTtl: Number(cfg.ERROR_TTL ?? 0), store })
  const locks = new RedisKeyedLock({ client, prefix: 'test:lock:', lockTtl: 5_000, pollInterval: 20 })
  setups.set(id, (found = { store, cache, locks, cfg }))
  return found
}

/**
 * The store's test hook between a follower's failed lease attempt and its re-check: count the
 * miss in Redis (`misses`), so the test knows the follower is waiting, and with `MISS: 'gate'`
 * stay there until the test sets `go` — the test orders events instead of guessing durations.
 */
async function afterMiss(mode: string): Promise<void> {
  await raw.incr('misses')
  while (mode === 'gate' && (await raw.get('go')) === null) await new Promise((r) => setTimeout(r, 10))
}

async function load(key: string, cfg: Config): Promise<unknown> {
  const res = await fetch(`${env.ORIGIN}/load?key=${encodeURIComponent(key)}&pid=${process.pid}&ms=${cfg.ORIGIN_DELAY ?? 100}`)
  if (!res.ok) throw Object.assign(new Error(await res.text()), { name: 'OriginError', code: 'E_ORIGIN' })
  return res.json()
}

type Command = { id: number; op: string; key?: string; n?: number; locked?: boolean; value?: unknown; cfg?: Config }

async function handle(cmd: Command): Promise<unknown> {
  if (cmd.op === 'reset') {
    // The end of a test: close what it opened.
    for (const { store, locks } of setups.values()) store.close(), locks.close()
    setups.clear()
    return 'reset'
  }
  const { store, cache, locks, cfg } = setup(cmd.cfg)
  switch (cmd.op) {
    case 'getOrSet': {
      const started = performance.now()
      const settled = await Promise.allSettled(Array.from({ length: cmd.n ?? 1 }, () => cache.getOrSet(cmd.key!, ({ key }) => load(key, cfg))))
      const values = settled.filter((s) => s.status === 'fulfilled').map((s) => JSON.stringify((s as PromiseFulfilledResult<unknown>).value))
      const errors = settled
        .filter((s) => s.status === 'rejected')
        .map((s) => {
          const e = (s as PromiseRejectedResult).reason as Error & { code?: unknown }
          return { name: e.name, message: e.message, code: e.code }
        })
      return { values: [...new Set(values)], fulfilled: values.length, errors, elapsedMs: performance.now() - started }
    }
    case 'healthy':
      // Redis answers this process again, and the store's breaker has closed.
      return (
        (await raw.get('probe').then(
          () => true,
          () => false,
        )) && store.healthy
      )
    case 'get':
      return (await cache.get(cmd.key!)) ?? null
    case 'delete':
      return cache.delete(cmd.key!)
    case 'increment': {
      // read, await, write — the lost update, with or without the cluster-wide lock
      const once = async (): Promise<void> => {
        const value = Number((await raw.get('counter')) ?? 0)
        await new Promise((r) => setImmediate(r))
        await raw.set('counter', String(value + 1))
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
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`)
