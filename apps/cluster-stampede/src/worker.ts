// One process of the cluster: an Express app whose product route is coalesced — in memory, or
// across processes through RedisStore when REDIS_URL is set. Prints {"url","pid"} when ready.
import { SingleFlightCache } from '@yieldpoint/core'
import type { CapturedResponse } from '@yieldpoint/express'
import { coalesce } from '@yieldpoint/express'
import { RedisStore } from '@yieldpoint/redis'
import express from 'express'
import { Redis } from 'ioredis'
import type { AddressInfo } from 'node:net'

const upstream = process.env.UPSTREAM!
let store: RedisStore<string, CapturedResponse> | undefined
if (process.env.REDIS_URL) {
  const client = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  const subscriber = client.duplicate()
  await Promise.all([client, subscriber].map((c) => new Promise((r) => c.once('ready', r))))
  store = new RedisStore<string, CapturedResponse>({ client, subscriber, prefix: process.env.PREFIX ?? 'cluster:', lockTtl: 1_000, pollInterval: 50 })
}
const cache = new SingleFlightCache<string, CapturedResponse>({ ttl: 5_000, ...(store ? { store } : {}), detectReentrancy: false })

const app = express()
// Behind the load balancer (loopback here): coalesce() keys on the public host it forwards.
app.set('trust proxy', 'loopback')
app.get('/products/:id', coalesce({ cache, followerTimeout: 30_000 }), async (req, res) => {
  const ms = typeof req.query.ms === 'string' ? `?ms=${encodeURIComponent(req.query.ms)}` : ''
  const r = await fetch(`${upstream}/products/${encodeURIComponent(String(req.params.id))}${ms}`, { headers: { 'x-caller': String(process.pid) } })
  res.json({ ...((await r.json()) as object), answeredBy: process.pid })
})
const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pid: process.pid }))
})
server.keepAliveTimeout = 60_000
