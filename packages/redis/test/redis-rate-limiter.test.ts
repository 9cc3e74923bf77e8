import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { InvalidArgumentError, TimeoutError } from '@yieldpoint/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { RedisRateLimiter, RedisUnavailableError, toRedisClient, type RedisClient } from '../src'
import { until } from './harness'
import { startRedis } from './redis-server'

let redis: Awaited<ReturnType<typeof startRedis>>
let admin: Redis

/** A client as @yieldpoint/redis requires: no offline queue, so wait until it is ready. */
async function readyClient(): Promise<Redis> {
  const c = new Redis(redis.url, { enableOfflineQueue: false })
  c.on('error', () => {})
  await new Promise((r) => c.once('ready', r))
  return c
}

beforeAll(async () => {
  redis = await startRedis()
  admin = await readyClient()
})
afterAll(async () => {
  admin.disconnect()
  await redis.stop()
})
beforeEach(async () => {
  await admin.flushall()
})

/** Runs the worker in a child process; resolves with its statistics when it has taken all its tokens. */
function runWorker(env: Record<string, string>): Promise<{ granted: number; degraded: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./rate-limit-worker.ts', import.meta.url))], {
    env: { ...process.env, REDIS_URL: redis.url, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout!.on('data', (chunk) => (out += chunk))
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker exited with ${code}`))))
  })
}

/** The most grants in any window [t, t + interval) over the recorded grant times. */
function mostInAnyWindow(times: number[], interval: number): number {
  const sorted = [...times].sort((a, b) => a - b)
  let most = 0
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j]! < sorted[i]! - interval + 1) j++
    most = Math.max(most, i - j + 1)
  }
  return most
}

describe('RedisRateLimiter — one limit across processes, on a real Redis', () => {
  it('validates when created', () => {
    expect(() => new RedisRateLimiter({ client: undefined as never, key: 'k', tokensPerInterval: 1 })).toThrow(InvalidArgumentError)
    expect(() => new RedisRateLimiter({ client: admin, key: '', tokensPerInterval: 1 })).toThrow(/key must be a non-empty string/)
    expect(() => new RedisRateLimiter({ client: admin, key: 'k', tokensPerInterval: 0 })).toThrow(InvalidArgumentError)
    expect(() => new RedisRateLimiter({ client: admin, key: 'k', tokensPerInterval: 5, burst: 6 })).toThrow(InvalidArgumentError)
    expect(() => new RedisRateLimiter({ client: admin, key: 'k', tokensPerInterval: 5, onRedisError: 'maybe' as never })).toThrow(InvalidArgumentError)
  })

  it('4 processes × 25 callers, 10 per 200 ms shared: no window of 200 ms sees more than 10 grants', async () => {
    const env = { PER_INTERVAL: '10', INTERVAL: '200', N: '25' }
    const workers = Array.from({ length: 4 }, () => runWorker(env))
    while (Number(await admin.get('ready')) < 4) await new Promise((r) => setTimeout(r, 10))
    await admin.set('go', '1')
    const stats = await Promise.all(workers)
    const times = (await admin.lrange('grants', 0, -1)).map(Number)
    expect(times.length).toBe(100)
    expect(stats.reduce((sum, s) => sum + s.granted, 0)).toBe(100)
    expect(stats.every((s) => s.degraded === 0)).toBe(true)
    expect(mostInAnyWindow(times, 200)).toBeLessThanOrEqual(10)
    // The keys are hash-tagged (one cluster slot) and expire on their own.
    const keys = await admin.keys('yp:rate:*')
    expect(keys.every((k) => k.startsWith('yp:rate:{partner}'))).toBe(true)
  })

  it('the budget is shared: what one process took, another cannot take', async () => {
    const a = new RedisRateLimiter({ client: admin, key: 'shared', tokensPerInterval: 3, interval: 60_000 })
    const other = await readyClient()
    const b = new RedisRateLimiter({ client: other, key: 'shared', tokensPerInterval: 3, interval: 60_000 })
    try {
      expect(await a.tryAcquire(2)).toBe(true)
      expect(await b.tryAcquire(2)).toBe(false)
      expect(await b.tryAcquire(1)).toBe(true)
      expect(await a.tryAcquire()).toBe(false)
      // A waiter that times out took nothing; an aborted one neither.
      await expect(b.acquire({ timeout: 50 })).rejects.toBeInstanceOf(TimeoutError)
      const reason = new Error('gone')
      await expect(b.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
      expect(await admin.zcard('yp:rate:{shared}')).toBe(3)
    } finally {
      other.disconnect()
    }
  })

  it('a grant that lands after its caller aborted is given back: the aborted caller takes nothing', async () => {
    // Redis runs the script (the tokens are logged) but its answer is held until after the abort.
    const inner = toRedisClient(admin)
    let releaseReply!: () => void
    const held = new Promise<void>((resolve) => (releaseReply = resolve))
    let ran!: () => void
    const scriptRan = new Promise<void>((resolve) => (ran = resolve))
    const gated: RedisClient = Object.assign(Object.create(inner) as RedisClient, {
      evalScript: async (script: string, keys: readonly string[], args: readonly (string | number)[]) => {
        const reply = await inner.evalScript(script, keys, args)
        if (keys[0] === 'yp:rate:{late}' && args.length === 5) {
          ran()
          await held
        }
        return reply
      },
    })
    const limiter = new RedisRateLimiter({ client: gated, key: 'late', tokensPerInterval: 5, interval: 60_000, burst: 2 })
    const ac = new AbortController()
    const waiting = limiter.acquire({ tokens: 2, signal: ac.signal })
    await scriptRan
    expect(await admin.zcard('yp:rate:{late}')).toBe(2) // taken on Redis…
    ac.abort(new Error('caller left'))
    await expect(waiting).rejects.toThrow('caller left')
    releaseReply()
    await until(async () => (await admin.zcard('yp:rate:{late}')) === 0, 'the late grant to be given back')
    expect(Number(await admin.hget('yp:rate:{late}:b', 'b'))).toBe(2) // …and the bucket refilled
    expect(limiter.statistics().granted).toBe(0)
  })

  it('burst spreads grants: burst 1 at 5 per 500 ms is one grant every 100 ms at most', async () => {
    const limiter = new RedisRateLimiter({ client: admin, key: 'smooth', tokensPerInterval: 5, interval: 500, burst: 1 })
    const times = await Promise.all(Array.from({ length: 4 }, () => limiter.acquire()))
    const sorted = (times as number[]).sort((x, y) => x - y)
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(100)
  })

  it('Redis down: fail-open limits in-process (same settings); fail-closed rejects with RedisUnavailableError', async () => {
    const client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 })
    client.on('error', () => {})
    const open = new RedisRateLimiter({ client, key: 'down', tokensPerInterval: 2, interval: 60_000, commandTimeout: 200, breakerMs: 60_000 })
    const closed = new RedisRateLimiter({
      client,
      key: 'down',
      tokensPerInterval: 2,
      interval: 60_000,
      commandTimeout: 200,
      breakerMs: 60_000,
      onRedisError: 'fail-closed',
    })
    try {
      await redis.stop()
      expect(await open.acquire()).toBeUndefined() // granted by the in-process fallback
      expect(await open.tryAcquire()).toBe(true)
      expect(await open.tryAcquire()).toBe(false) // the fallback still limits
      expect(open.statistics()).toMatchObject({ degraded: 2, granted: 0, healthy: false })
      await expect(closed.acquire()).rejects.toBeInstanceOf(RedisUnavailableError)
    } finally {
      client.disconnect()
      await redis.start()
    }
  })
})
