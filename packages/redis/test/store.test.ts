import { SingleFlightCache, type CacheEntry } from '@yieldpoint/core'
import { Redis as IORedis, type Cluster, type Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jsonCodec, RedisStore, RedisUnavailableError } from '../src'
import { admin, connect } from './clients'
import { matrix } from './matrix'

describe.each(matrix())('$name: RedisStore (one process)', ({ lib, target }) => {
  let client: unknown
  let close: () => void
  let redis: Redis | Cluster
  beforeAll(async () => {
    ;({ client, close } = await connect(lib, target))
    redis = admin(target)
  })
  afterAll(() => {
    close()
    redis.disconnect()
  })

  it('round-trips entries (Buffers included) under its prefix, with remaining durations', async () => {
    const store = new RedisStore<string, { body: Buffer }>({ client, prefix: 's1:' })
    const now = performance.now()
    const entry: CacheEntry<{ body: Buffer }> = {
      kind: 'value',
      value: { body: Buffer.from([0, 255, 7]) },
      freshUntil: now + 5_000,
      staleUntil: now + 10_000,
      delta: 12,
    }
    await store.set('k', entry, 10_000)
    expect(await redis.exists('s1:{k}:v')).toBe(1)
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

  it('the JSON codec keeps Buffers', () => {
    const text = jsonCodec.encode({ b: Buffer.from('hi') })
    expect((jsonCodec.decode(text) as { b: Buffer }).b.toString()).toBe('hi')
  })
})

describe('RedisStore with Redis unreachable', () => {
  it('fail-closed rejects with RedisUnavailableError when Redis does not answer', async () => {
    const dead = new IORedis(1, '127.0.0.1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
    dead.on('error', () => {})
    const store = new RedisStore<string, string>({ client: dead, subscriber: dead, onRedisError: 'fail-closed', commandTimeout: 100 })
    const closed = new SingleFlightCache<string, string>({ ttl: 1000, store })
    await expect(closed.getOrSet('k', () => 'x')).rejects.toBeInstanceOf(RedisUnavailableError)
    const open = new RedisStore<string, string>({ client: dead, subscriber: dead, commandTimeout: 100 })
    const cache = new SingleFlightCache<string, string>({ ttl: 1000, store: open })
    expect(await cache.getOrSet('k', () => 'loaded locally')).toBe('loaded locally')
    dead.disconnect()
  })
})
