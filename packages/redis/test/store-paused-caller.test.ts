// Attack: a hung Redis (SIGSTOP: connections open, no answers) and callers with a timeout or a
// signal. The caller's timeout counts from its call, so it also covers the cache's read of the
// store: with commandTimeout: Infinity a caller used to wait for as long as Redis hung.
import { SingleFlightCache, TimeoutError } from '@yieldpoint/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { RedisStore } from '../src'
import { type RedisServer, startRedis } from './redis-server'

let server: RedisServer
beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  server.resume()
  await server.stop()
})

it('callers leave on their own timeout / signal while Redis hangs, whatever the commandTimeout', async () => {
  const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true })
  await client.connect()
  const store = new RedisStore<string, string>({ client, commandTimeout: Infinity, prefix: 'paused:' })
  const cache = new SingleFlightCache<string, string>({ ttl: 60_000, store })
  expect(await cache.getOrSet('warm', () => 'up')).toBe('up') // subscriber connected, scripts loaded
  server.pause()
  let loads = 0
  const timedOut = cache.getOrSet('k', () => (loads++, 'v'), { timeout: 20 }).catch((e: unknown) => e)
  const controller = new AbortController()
  const aborted = cache.getOrSet('k2', () => (loads++, 'v'), { signal: controller.signal }).catch((e: unknown) => e)
  const reason = new Error('client went away')
  controller.abort(reason)
  expect(await timedOut).toBeInstanceOf(TimeoutError)
  expect(await aborted).toBe(reason)
  expect(loads).toBe(0)
  server.resume()
  store.close()
  client.disconnect()
})
