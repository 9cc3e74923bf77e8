// One process of the errors-across-processes test (issue 11): an Express app whose routes share
// loads with the other processes through RedisStore, and report what their callers received.
//   /express/:id  coalesce() over a Redis-backed cache; the handler answers 404 after the upstream
//   /nest/:id     a Nest service (@SingleFlight through YieldpointModule) that throws NotFoundException
//   /poll?keys=   getOrSet per key with errorTtl; with ROLE=follower this process ignores pub/sub
//                 and learns the leader's outcome only by polling
//   /busy?what=   how many loads this process has waited for on another process's lease
import 'reflect-metadata'
import { Inject, Injectable, NotFoundException } from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { SingleFlightCache } from '@yieldpoint/core'
import { coalesce, type CapturedResponse } from '@yieldpoint/express'
import { reviveHttpException, serializeHttpException, SingleFlight, YieldpointModule } from '@yieldpoint/nestjs'
import { RedisStore } from '@yieldpoint/redis'
import express from 'express'
import { Redis } from 'ioredis'
import type { AddressInfo } from 'node:net'

const upstream = process.env.UPSTREAM!
const prefix = process.env.PREFIX!
const busy: Record<string, number> = { express: 0, nest: 0, poll: 0 }

async function newStore<V>(what: string, extra: { ignoreMessages?: boolean } = {}): Promise<RedisStore<string, V>> {
  const client = new Redis(process.env.REDIS_URL!, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  const subscriber = client.duplicate()
  await Promise.all([client, subscriber].map((c) => new Promise((r) => c.once('ready', r))))
  // RedisStore's internal test hooks (not in its published types): count lease waits; ignore pub/sub.
  const hooks: Record<string, unknown> = { afterLockMiss: async () => void busy[what]!++, ...extra }
  return new RedisStore<string, V>({ client, subscriber, prefix: `${prefix}${what}:`, pollInterval: 10, ...hooks })
}

const expressCache = new SingleFlightCache<string, CapturedResponse>({
  ttl: 60_000,
  store: await newStore<CapturedResponse>('express'),
  detectReentrancy: false,
})
const pollCache = new SingleFlightCache<string, unknown>({
  errorTtl: 60_000,
  store: await newStore('poll', { ignoreMessages: process.env.ROLE === 'follower' }),
  detectReentrancy: false,
})

@Injectable()
class Products {
  @SingleFlight({ key: (id: string) => `product:${id}` })
  async product(id: string): Promise<unknown> {
    await fetch(`${upstream}/hold/nest-${id}`)
    throw new NotFoundException(`no product ${id}`)
  }
}
@Injectable()
class Holder {
  constructor(@Inject(Products) readonly products: Products) {}
}
const nest = await Test.createTestingModule({
  imports: [YieldpointModule.forRoot({ store: await newStore('nest'), cache: { serializeError: serializeHttpException, reviveError: reviveHttpException } })],
  providers: [Products, Holder],
}).compile()
const products = nest.get(Holder).products

const app = express()
// Behind the load balancer (loopback here): coalesce() keys on the public host it forwards.
app.set('trust proxy', 'loopback')
app.get('/busy', (req, res) => void res.json(busy[String(req.query.what)] ?? 0))
app.get('/express/:id', coalesce({ cache: expressCache, followerTimeout: 30_000 }), async (req, res) => {
  await fetch(`${upstream}/hold/express-${req.params.id}`)
  res.status(404).json({ error: 'no such product', id: req.params.id })
})
app.get('/nest/:id', async (req, res) => {
  try {
    res.json(await products.product(String(req.params.id)))
  } catch (e) {
    const error = e as NotFoundException
    res.status(typeof error.getStatus === 'function' ? error.getStatus() : 500).json({
      class: error.constructor.name,
      isNotFoundException: error instanceof NotFoundException,
      response: typeof error.getResponse === 'function' ? error.getResponse() : String(error),
    })
  }
})
app.get('/poll', async (req, res) => {
  const keys = String(req.query.keys).split(',')
  const outcomes = await Promise.all(
    keys.map((key) =>
      pollCache
        .getOrSet(key, async () => {
          const r = await fetch(`${upstream}/hold/poll-${key}`)
          throw Object.assign(new Error(`origin failed for ${key}`), { name: 'OriginError', status: r.status })
        })
        .then(
          (value) => ({ value: value === undefined ? 'undefined' : value }),
          (error: Error & { status?: unknown }) => ({ error: { name: error.name, message: error.message, status: error.status } }),
        ),
    ),
  )
  res.json(outcomes)
})
const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pid: process.pid }))
})
