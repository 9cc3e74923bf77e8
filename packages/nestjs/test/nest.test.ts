import 'reflect-metadata'
import { Inject, Injectable, Module, type INestApplication } from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { lastValueFrom } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import { SingleFlight, YieldpointModule, YieldpointService } from '../src'
import { Arrivals, arrivals, ProductsController, ProductsService, Upstream } from './app.fixture'

let app: INestApplication | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

async function start(imports = [YieldpointModule.forRoot({ cache: { ttl: 5_000 } })]) {
  const moduleRef = await Test.createTestingModule({ imports, controllers: [ProductsController], providers: [ProductsService, Upstream, Arrivals] }).compile()
  app = moduleRef.createNestApplication({ logger: false })
  await app.listen(0, '127.0.0.1')
  const address = app.getHttpServer().address() as { port: number }
  return {
    url: `http://127.0.0.1:${address.port}`,
    get: <T>(token: new (...args: never[]) => T) => app!.get(token),
  }
}

import nestCore from '@nestjs/core/package.json' with { type: 'json' }

describe('@yieldpoint/nestjs', () => {
  it(`runs on NestJS ${process.env.EXPECT_NEST_MAJOR ?? '12'} (this test lane)`, () => {
    expect(nestCore.version.split('.')[0]).toBe(process.env.EXPECT_NEST_MAJOR ?? '12')
  })

  it('500 concurrent requests → 1 upstream call (a @SingleFlight service method)', async () => {
    const { url, get } = await start()
    arrivals.reset(500)
    const bodies = await Promise.all(Array.from({ length: 500 }, () => fetch(`${url}/products/service/7`).then((r) => r.json())))
    expect(get(Upstream).calls).toBe(1)
    expect(bodies.every((b) => JSON.stringify(b) === JSON.stringify({ id: '7', call: 1 }))).toBe(true)
  })

  it('a decorated controller route still routes (no 404), guards still run, 1 upstream call', async () => {
    const { url, get } = await start()
    arrivals.reset(100)
    const rs = await Promise.all(Array.from({ length: 100 }, () => fetch(`${url}/products/decorated/3`)))
    expect(rs.every((r) => r.status === 200)).toBe(true)
    expect(arrivals.count).toBe(100) // the guard ran for every request
    expect(get(Upstream).calls).toBe(1)
    expect(get(ProductsController).handlerRuns).toBe(1)
  })

  it('@Coalesce: concurrent GETs share one handler run; per-user partition by Authorization', async () => {
    const { url, get } = await start()
    arrivals.reset(200)
    const auth = (i: number) => ({ authorization: `Bearer u${i % 2}` })
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => fetch(`${url}/products/coalesced/9`, { headers: auth(i) }).then((r) => r.json())))
    expect(get(Upstream).calls).toBe(2) // one per user
    const calls = new Set(rs.map((b) => (b as { call: number }).call))
    expect(calls.size).toBe(2)
  })

  it('errors propagate as Nest exceptions to every waiting request', async () => {
    const { url, get } = await start()
    arrivals.reset(20)
    const rs = await Promise.all(Array.from({ length: 20 }, () => fetch(`${url}/products/coalesced/missing`)))
    for (const r of rs) {
      expect(r.status).toBe(404)
      expect(await r.json()).toMatchObject({ statusCode: 404, message: 'product missing not found' })
    }
    expect(get(Upstream).calls).toBe(1)
  })

  it('@WithLock serialises per key and not across keys', async () => {
    const { get } = await start()
    const products = get(ProductsService)
    await Promise.all(Array.from({ length: 40 }, (_, i) => products.transfer(`acc-${i % 4}`, 10)))
    expect(products.maxPerKey).toBe(1)
    expect(products.maxOverall).toBe(4)
    expect(get(YieldpointService).locks.size).toBe(0)
  })

  it('@Concurrency(n) never exceeds n', async () => {
    const { get } = await start()
    const products = get(ProductsService)
    await Promise.all(Array.from({ length: 30 }, () => products.callPartnerApi()))
    expect(products.partnerMax).toBe(4)
  })

  it('Observable-returning methods stay Observables and are coalesced', async () => {
    const { get } = await start()
    const products = get(ProductsService)
    const results = await Promise.all(Array.from({ length: 10 }, () => lastValueFrom(products.getProduct$('o'))))
    expect(get(Upstream).calls).toBe(1)
    expect(new Set(results.map((r) => r.call)).size).toBe(1)
  })

  it('forRootAsync with isGlobal provides the service to every module', async () => {
    @Injectable()
    class Deep {
      constructor(@Inject(YieldpointService) readonly yp: YieldpointService) {}
      @SingleFlight({ key: () => 'deep' })
      async value() {
        return 'deep value'
      }
    }
    @Module({ providers: [Deep], exports: [Deep] })
    class FeatureModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [YieldpointModule.forRootAsync({ useFactory: async () => ({ cache: { ttl: 1_000 } }), isGlobal: true }), FeatureModule],
    }).compile()
    const deep = moduleRef.get(Deep)
    expect(await deep.value()).toBe('deep value')
    expect(deep.yp).toBeInstanceOf(YieldpointService)
    await moduleRef.close()
  })

  it('fails at bootstrap with a clear error when YieldpointModule is not imported', async () => {
    await expect(Test.createTestingModule({ controllers: [ProductsController], providers: [ProductsService, Upstream, Arrivals] }).compile()).rejects.toThrow(
      /YieldpointService \(import YieldpointModule\.forRoot\(\) in your root module\)/,
    )
  })

  it('bad decorator arguments throw typed errors at definition time', () => {
    expect(() => SingleFlight({ key: 'x' as never })).toThrow(/key must be a function/)
    expect(() => {
      class Bad {
        // @ts-expect-error a getter is not a method (also a compile error)
        @SingleFlight() get value() {
          return 1
        }
      }
      return Bad
    }).toThrow(/can only decorate methods/)
  })
})
