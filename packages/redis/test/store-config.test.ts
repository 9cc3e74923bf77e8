// Issue 11 items 13 and 14 for RedisStore: configuration errors are not outages, and keys cross
// the wire faithfully (or are refused with a typed error).
import { InvalidArgumentError, SingleFlightCache } from '@yieldpoint/core'
import type { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KeyEncodingError, RedisReplyError, RedisStore } from '../src'
import { admin, connect } from './clients'
import { matrix } from './matrix'

class Ref {
  constructor(readonly id: number) {}
}

describe.each(matrix())('$name: RedisStore configuration and keys', ({ lib, target }) => {
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

  it('validates every option when created', () => {
    for (const lockTtl of [0, 1000.5, -1, Number.NaN, '10']) expect(() => new RedisStore({ client, lockTtl: lockTtl as number })).toThrow(InvalidArgumentError)
    expect(() => new RedisStore({ client, pollInterval: 0 })).toThrow(InvalidArgumentError)
    expect(() => new RedisStore({ client, commandTimeout: -1 })).toThrow(InvalidArgumentError)
    expect(() => new RedisStore({ client, onRedisError: 'ignore' as never })).toThrow(InvalidArgumentError)
    expect(() => new RedisStore({ client, l1: { max: 0 } })).toThrow(InvalidArgumentError)
    expect(() => new RedisStore({ client, codec: {} as never })).toThrow(InvalidArgumentError)
    expect(() => new RedisStore({ client, prefix: 'x{' })).toThrow(InvalidArgumentError)
    const fine = new RedisStore({ client, commandTimeout: Infinity, lockTtl: 2 ** 33 })
    fine.close()
  })

  it('an error reply reaches the caller as RedisReplyError, even with fail-open; the store stays healthy', async () => {
    const store = new RedisStore<string, string>({ client, prefix: 'c1:' })
    const cache = new SingleFlightCache<string, string>({ ttl: 60_000, store })
    await redis.hset('c1:{broken}:v', 'not', 'a string') // WRONGTYPE for the store's GET
    await expect(cache.getOrSet('broken', () => 'loaded')).rejects.toBeInstanceOf(RedisReplyError)
    expect(store.healthy).toBe(true)
    expect(await cache.getOrSet('fine', () => 'loaded')).toBe('loaded')
    store.close()
  })

  it('class instances, numbers and symbols are refused with KeyEncodingError; a key encoder keeps them apart', async () => {
    const plain = new RedisStore<unknown, string>({ client, prefix: 'c2:' })
    const cache = new SingleFlightCache<unknown, string>({ ttl: 60_000, store: plain })
    await expect(cache.getOrSet(new Ref(1), () => 'product 1')).rejects.toBeInstanceOf(KeyEncodingError)
    await expect(cache.getOrSet(Symbol('k'), () => 'x')).rejects.toBeInstanceOf(KeyEncodingError)
    await expect(cache.getOrSet(7, () => 'x')).rejects.toBeInstanceOf(KeyEncodingError)
    plain.close()
    const encoded = new RedisStore<Ref, string>({ client, prefix: 'c2:', key: (ref) => `ref:${ref.id}` })
    const refs = new SingleFlightCache<Ref, string>({ ttl: 60_000, store: encoded })
    expect(await refs.getOrSet(new Ref(1), () => 'product 1')).toBe('product 1')
    expect(await refs.getOrSet(new Ref(2), () => 'product 2')).toBe('product 2')
    expect(await refs.getOrSet(new Ref(1), () => 'loaded again')).toBe('product 1') // another Ref(1): the same Redis key
    encoded.close()
  })

  it('string keys with }, %, { or nothing at all stay distinct and in one slot each (clear() reaches every master)', async () => {
    const store = new RedisStore<string, string>({ client, prefix: 'c3:' })
    const cache = new SingleFlightCache<string, string>({ ttl: 60_000, store })
    const keys = ['}', '%', '%7D', '%25', '{a}', 'a}b', 'a}c', '', 'é', 'k1', 'k2', 'k3', 'k4', 'k5']
    for (const k of keys) expect(await cache.getOrSet(k, () => `v:${k}`)).toBe(`v:${k}`)
    for (const k of keys) expect(await cache.getOrSet(k, () => 'loaded again')).toBe(`v:${k}`)
    await cache.clear()
    for (const k of keys) expect(await cache.get(k)).toBeUndefined()
    store.close()
  })
})
