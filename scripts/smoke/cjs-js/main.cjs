// CommonJS JavaScript consumer: require() of @yieldpoint/core, /express on Express 5, /redis on ioredis.
const assert = require('node:assert/strict')
const { KeyedLock, SingleFlightCache, TimeoutError, Lock } = require('@yieldpoint/core')
const { coalesce } = require('@yieldpoint/express')
const { RedisStore } = require('@yieldpoint/redis')
const express = require('express')
const { Redis } = require('ioredis')

async function main() {
  const locks = new KeyedLock()
  let peak = 0
  let running = 0
  await Promise.all(
    ['a', 'b', 'a', 'b'].map((k) =>
      locks.runExclusive(k, async () => {
        running++
        peak = Math.max(peak, running)
        await new Promise((r) => setImmediate(r))
        running--
      }),
    ),
  )
  assert.equal(peak, 2)

  const lock = new Lock()
  const held = await lock.acquire()
  await assert.rejects(lock.acquire({ timeout: 0 }), (e) => e instanceof TimeoutError && e.code === 'ERR_YP_TIMEOUT')
  held.release()

  let handled = 0
  const app = express()
  app.get('/products/:id', coalesce({ ttl: 5_000 }), async (req, res) => {
    handled++
    await new Promise((r) => setImmediate(r))
    res.json({ id: req.params.id })
  })
  const server = app.listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  const url = `http://127.0.0.1:${server.address().port}/products/2`
  const bodies = await Promise.all(Array.from({ length: 20 }, () => fetch(url).then((r) => r.json())))
  server.close()
  assert.equal(handled, 1)
  assert.ok(bodies.every((b) => b.id === '2'))

  const client = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false })
  if (client.status !== 'ready') await new Promise((r) => client.once('ready', r))
  const store = new RedisStore({ client, prefix: `smoke-cjs-${process.pid}:` })
  const cache = new SingleFlightCache({ ttl: 5_000, store })
  let loads = 0
  await Promise.all(
    Array.from({ length: 20 }, () =>
      cache.getOrSet('k', async () => {
        loads++
        return 1
      }),
    ),
  )
  assert.equal(loads, 1)
  store.close()
  await client.quit()
  // node-redis (the `redis` package), when this @yieldpoint/redis supports it
  if (process.env.SMOKE_NODE_REDIS) {
    const { createClient } = require('redis')
    const nodeRedis = createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true })
    nodeRedis.on('error', () => {})
    await nodeRedis.connect()
    const store2 = new RedisStore({ client: nodeRedis, prefix: `smoke-cjs-node-redis-${process.pid}:` })
    const cache2 = new SingleFlightCache({ ttl: 5_000, store: store2 })
    let loads2 = 0
    await Promise.all(
      Array.from({ length: 20 }, () =>
        cache2.getOrSet('k', async () => {
          loads2++
          return 1
        }),
      ),
    )
    assert.equal(loads2, 1)
    store2.close()
    await nodeRedis.quit()
  }
  console.log(`cjs-js: core, express 5, ioredis${process.env.SMOKE_NODE_REDIS ? ', node-redis' : ''} ok`)
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
