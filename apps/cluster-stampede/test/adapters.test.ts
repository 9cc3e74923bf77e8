// The Redis backend plugs into the NestJS module and the RxJS operators without changes to
// their code: two independent caches (as two processes would have) share one load per key.
import 'reflect-metadata'
import { Inject, Injectable } from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { SingleFlightCache } from '@yieldpoint/core'
import { SingleFlight, YieldpointModule } from '@yieldpoint/nestjs'
import { RedisStore } from '@yieldpoint/redis'
import { flightMap } from '@yieldpoint/rxjs'
import { Redis } from 'ioredis'
import { defer, from, lastValueFrom, toArray } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis } from '../src/cluster'

let redis: Awaited<ReturnType<typeof startRedis>>
const clients: Redis[] = []
const stores: RedisStore[] = []
const newStore = async (prefix: string) => {
  // @yieldpoint/redis refuses clients that queue commands while disconnected; such a client
  // fails commands until it is ready, so wait for it.
  const client = new Redis(redis!.url, { enableOfflineQueue: false })
  clients.push(client)
  await new Promise((r) => client.once('ready', r))
  const store = new RedisStore<string, unknown>({ client, prefix })
  stores.push(store)
  return store
}

beforeAll(async () => {
  redis = await startRedis()
  if (!redis) throw new Error('redis-server is not installed (the README test command installs it)')
})
afterAll(() => {
  for (const s of stores) s.close()
  for (const c of clients) c.disconnect()
  redis?.stop()
})

describe('@yieldpoint/redis plugged into the other adapters', () => {
  it('YieldpointModule.forRoot({ store }): @SingleFlight loads once across two Nest apps', async () => {
    let calls = 0
    @Injectable()
    class Products {
      @SingleFlight({ key: (id: string) => `product:${id}`, ttl: 60_000 })
      async product(id: string) {
        calls++
        await new Promise((r) => setTimeout(r, 100))
        return { id, calls }
      }
    }
    @Injectable()
    class Holder {
      constructor(@Inject(Products) readonly products: Products) {}
    }
    const app = async () =>
      (
        await Test.createTestingModule({ imports: [YieldpointModule.forRoot({ store: await newStore('nest:') })], providers: [Products, Holder] }).compile()
      ).get(Holder)
    const [a, b] = await Promise.all([app(), app()])
    const results = await Promise.all([
      ...Array.from({ length: 20 }, () => a.products.product('7')),
      ...Array.from({ length: 20 }, () => b.products.product('7')),
    ])
    expect(calls).toBe(1)
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1)
  })

  it('flightMap over a SingleFlightCache with a RedisStore: one upstream call across two streams with separate caches', async () => {
    let calls = 0
    const upstream = (id: string) => defer(async () => (calls++, await new Promise((r) => setTimeout(r, 100)), `product ${id}`))
    const cacheA = new SingleFlightCache<string, string>({ ttl: 60_000, store: (await newStore('rx:')) as RedisStore<string, string> })
    const cacheB = new SingleFlightCache<string, string>({ ttl: 60_000, store: (await newStore('rx:')) as RedisStore<string, string> })
    const stream = (cache: SingleFlightCache<string, string>) =>
      lastValueFrom(
        from(['x', 'x', 'x']).pipe(
          flightMap(
            cache,
            (id) => id,
            (id) => upstream(id),
          ),
          toArray(),
        ),
      )
    const [a, b] = await Promise.all([stream(cacheA), stream(cacheB)])
    expect([...a, ...b].every((v) => v === 'product x')).toBe(true)
    expect(calls).toBe(1)
  })
})
