// Attack: something else publishes on the store's channels (an operator's redis-cli, another
// version during a deploy): a message that is not the store's JSON must be ignored, never
// thrown out of the subscriber's event handler (an uncaught exception ends the process).
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { RedisStore } from '../src'
import { type RedisServer, startRedis } from './redis-server'

let server: RedisServer
beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  await server.stop()
})

it('garbage on the done and invalidate channels is ignored; real invalidations still arrive after it', async () => {
  const mk = async () => {
    const c = new Redis(server.url, { enableOfflineQueue: false, lazyConnect: true })
    await c.connect()
    return c
  }
  const [ca, cb, admin] = [await mk(), await mk(), await mk()]
  const a = new RedisStore<string, string>({ client: ca, prefix: 'f:', l1: { max: 10 } })
  const b = new RedisStore<string, string>({ client: cb, prefix: 'f:' })
  const entry = { kind: 'value' as const, value: 'v1', freshUntil: performance.now() + 60_000, staleUntil: performance.now() + 60_000, delta: 0 }
  await a
    .acquire('warm', undefined, { signal: new AbortController().signal })
    .then((r) => (r.kind === 'lease' ? r.lease.fail({ kind: 'abandoned' }, undefined, 0) : undefined)) // subscribed
  await a.set('k', entry, 60_000)
  for (const message of ['not json', 'null', '42', '{"k":1']) {
    await admin.publish('f:invalidate', message)
    await admin.publish('f:done', message)
  }
  await b.delete('k') // its invalidation follows the garbage on A's subscription
  while ((await a.get('k')) !== undefined) await new Promise((r) => setTimeout(r, 5))
  expect(await a.get('k')).toBeUndefined()
  a.close()
  b.close()
  for (const c of [ca, cb, admin]) c.disconnect()
})
