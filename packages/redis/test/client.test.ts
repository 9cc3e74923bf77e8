import { InvalidArgumentError } from '@yieldpoint/core'
import { Cluster, Redis } from 'ioredis'
import { createClient, createCluster } from 'redis'
import { describe, expect, it } from 'vitest'
import { RedisKeyedLock, RedisStore, toRedisClient, type RedisClient } from '../src'

// Constructing a client does not connect it (lazy); the checks need no server.
describe('client interface: one small RedisClient over ioredis and node-redis', () => {
  it('refuses clients that queue commands while disconnected, saying what to set', () => {
    const queued = [
      [new Redis({ lazyConnect: true }), /enableOfflineQueue: false/],
      [new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true }), /new Cluster\(nodes, \{ enableOfflineQueue: false \}\)/],
      [createClient({ url: 'redis://127.0.0.1:1' }), /disableOfflineQueue: true/],
      [createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] }), /defaults: \{ disableOfflineQueue: true \}/],
    ] as const
    for (const [client, hint] of queued) {
      expect(() => new RedisKeyedLock({ client })).toThrow(InvalidArgumentError)
      expect(() => new RedisStore({ client })).toThrow(hint)
    }
    for (const [client] of queued) if (client instanceof Redis || client instanceof Cluster) client.disconnect()
  })

  it('accepts both libraries configured to fail fast, and any RedisClient implementation as is', () => {
    const io = new Redis({ lazyConnect: true, enableOfflineQueue: false })
    expect(toRedisClient(io).kind).toBe('ioredis')
    expect(toRedisClient(new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, enableOfflineQueue: false })).cluster).toBe(true)
    expect(toRedisClient(createClient({ disableOfflineQueue: true })).kind).toBe('node-redis')
    expect(toRedisClient(createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }], defaults: { disableOfflineQueue: true } })).cluster).toBe(true)
    const custom: RedisClient = {
      kind: 'custom',
      cluster: false,
      evalScript: async () => 0,
      publish: async () => 0,
      scan: async function* () {},
      unlink: async () => 0,
      subscribe: () => ({ ready: async () => {}, close: () => {} }),
    }
    expect(toRedisClient(custom)).toBe(custom)
    expect(() => toRedisClient({ get: () => {} })).toThrow(InvalidArgumentError)
    io.disconnect()
  })
})
