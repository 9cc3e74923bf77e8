import { SingleFlightCache, type CacheEntry } from '@yieldpoint/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jsonCodec, LockLostError, RedisKeyedLock, RedisStore, RedisUnavailableError } from '../src'
import { startRedis } from './redis-server'

let redis: Awaited<ReturnType<typeof startRedis>>
let client: Redis
beforeAll(async () => {
  redis = await startRedis()
  client = new Redis(redis.url)
})
afterAll(async () => {
  client.disconnect()
  await redis.stop()
})

describe('RedisKeyedLock (one process)', () => {
  it('grants increasing fences, serialises a key, and releases for the next waiter', async () => {
    const locks = new RedisKeyedLock({ client, prefix: 'u1:', pollInterval: 20 })
    const a = await locks.acquire('k')
    const b = locks.acquire('k')
    expect(await locks.locked('k')).toBe(true)
    await a.releaseAsync()
    const gb = await b
    expect(gb.fence).toBeGreaterThan(a.fence)
    gb.release()
    await new Promise((r) => setTimeout(r, 50))
    expect(await locks.locked('k')).toBe(false)
    locks.close()
  })

  it('timeout rejects with TimeoutError; abort with signal.reason; neither leaves the key held', async () => {
    const locks = new RedisKeyedLock({ client, prefix: 'u2:', pollInterval: 20 })
    const held = await locks.acquire('k')
    await expect(locks.acquire('k', { timeout: 100 })).rejects.toMatchObject({ name: 'TimeoutError' })
    const ac = new AbortController()
    const reason = new Error('gone')
    const p = locks.acquire('k', { signal: ac.signal })
    ac.abort(reason)
    await expect(p).rejects.toBe(reason)
    await held.releaseAsync()
    const again = await locks.acquire('k', { timeout: 1000 })
    await again.releaseAsync()
    locks.close()
  })

  it('a lost lease aborts guard.signal with LockLostError', async () => {
    const locks = new RedisKeyedLock({ client, prefix: 'u3:', lockTtl: 150 })
    const g = await locks.acquire('k')
    await client.del('u3:{k}:l') // someone broke the lease
    await new Promise((r) => g.signal.addEventListener('abort', r, { once: true }))
    expect(g.signal.reason).toBeInstanceOf(LockLostError)
    g.release()
    locks.close()
  })

  it('rejects bad options with typed errors', () => {
    expect(() => new RedisKeyedLock({} as never)).toThrow(/ioredis client/)
    expect(() => new RedisKeyedLock({ client, lockTtl: -1 })).toThrow(/lockTtl/)
  })
})

describe('RedisStore (one process)', () => {
  it('round-trips entries (Buffers included) under its prefix, with remaining durations', async () => {
    const store = new RedisStore<string, { body: Buffer }>({ client, prefix: 's1:' })
    const now = performance.now()
    const entry: CacheEntry<{ body: Buffer }> = { kind: 'value', value: { body: Buffer.from([0, 255, 7]) }, freshUntil: now + 5_000, staleUntil: now + 10_000, delta: 12 }
    await store.set('k', entry, 10_000)
    expect(await client.exists('s1:{k}:v')).toBe(1)
    const got = (await store.get('k'))!
    if (got.kind !== 'value') throw new Error('expected a value entry')
    expect(Buffer.isBuffer(got.value.body)).toBe(true)
    expect(got.value.body.equals(Buffer.from([0, 255, 7]))).toBe(true)
    expect(got.freshUntil - performance.now()).toBeGreaterThan(4_000)
    expect(got.staleUntil - got.freshUntil).toBeCloseTo(5_000, -2)
    await store.delete('k')
    expect(await store.get('k')).toBeUndefined()
    store.close()
  })

  it('is a drop-in store for SingleFlightCache (hits, delete, clear)', async () => {
    const store = new RedisStore<string, string>({ client, prefix: 's2:' })
    const cache = new SingleFlightCache<string, string>({ ttl: 60_000, store })
    let calls = 0
    const values = await Promise.all(Array.from({ length: 50 }, () => cache.getOrSet('k', async () => (calls++, 'v'))))
    expect(values.every((v) => v === 'v')).toBe(true)
    expect(calls).toBe(1)
    expect(await cache.getOrSet('k', async () => (calls++, 'w'))).toBe('v')
    await cache.clear()
    expect(await cache.get('k')).toBeUndefined()
    store.close()
  })

  it('fail-closed rejects with RedisUnavailableError when Redis does not answer', async () => {
    const dead = new Redis(1, '127.0.0.1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
    dead.on('error', () => {})
    const store = new RedisStore<string, string>({ client: dead, subscriber: dead, onRedisError: 'fail-closed', commandTimeout: 100 })
    const closed = new SingleFlightCache<string, string>({ ttl: 1000, store })
    await expect(closed.getOrSet('k', () => 'x')).rejects.toBeInstanceOf(RedisUnavailableError)
    const open = new RedisStore<string, string>({ client: dead, subscriber: dead, commandTimeout: 100 })
    const cache = new SingleFlightCache<string, string>({ ttl: 1000, store: open })
    expect(await cache.getOrSet('k', () => 'loaded locally')).toBe('loaded locally')
    dead.disconnect()
  })

  it('the JSON codec keeps Buffers', () => {
    const text = jsonCodec.encode({ b: Buffer.from('hi') })
    expect((jsonCodec.decode(text) as { b: Buffer }).b.toString()).toBe('hi')
  })
})
