// ESM JavaScript consumer: @yieldpoint/core + @yieldpoint/express on Express 4 + ioredis.
import assert from 'node:assert/strict'
import { InvalidArgumentError, Lock, Semaphore, SingleFlightCache } from '@yieldpoint/core'
import { coalesce } from '@yieldpoint/express'
import { RedisStore } from '@yieldpoint/redis'
import express from 'express'
import { Redis } from 'ioredis'

// the lost update, fixed
const lock = new Lock()
let n = 0
await Promise.all(
  Array.from({ length: 10 }, () =>
    lock.runExclusive(async () => {
      const v = n
      await new Promise((r) => setImmediate(r))
      n = v + 1
    }),
  ),
)
assert.equal(n, 10)

// a typed error whose message ends with its page
assert.throws(
  () => new Semaphore(-1),
  (e) => e instanceof InvalidArgumentError && e.message.endsWith('https://yieldpoint.dev/errors/ERR_YP_INVALID_ARGUMENT'),
)

// Express 4: 20 concurrent requests for one key → the handler runs once (ttl: later ones are hits)
let handled = 0
const app = express()
app.get('/products/:id', coalesce({ ttl: 5_000 }), async (req, res) => {
  handled++
  await new Promise((r) => setImmediate(r))
  res.json({ id: req.params.id })
})
const server = app.listen(0, '127.0.0.1')
await new Promise((r) => server.once('listening', r))
const url = `http://127.0.0.1:${server.address().port}/products/1`
const bodies = await Promise.all(Array.from({ length: 20 }, () => fetch(url).then((r) => r.json())))
server.close()
assert.equal(handled, 1)
assert.ok(bodies.every((b) => b.id === '1'))

// ioredis: a SingleFlightCache backed by Redis makes one load for 20 concurrent callers
// no offline queue: @yieldpoint/redis refuses clients that could run a command after its caller left
const client = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false })
if (client.status !== 'ready') await new Promise((r) => client.once('ready', r))
const store = new RedisStore({ client, prefix: `smoke-esm-${process.pid}:` })
const cache = new SingleFlightCache({ ttl: 5_000, store })
let loads = 0
const values = await Promise.all(
  Array.from({ length: 20 }, () =>
    cache.getOrSet('k', async () => {
      loads++
      return 'v'
    }),
  ),
)
assert.equal(loads, 1)
assert.ok(values.every((v) => v === 'v'))
store.close()
await client.quit()
console.log('esm-js: core, express 4, ioredis ok')
