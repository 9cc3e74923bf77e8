// TypeScript, module/moduleResolution nodenext (a CommonJS package: the .d.cts types), compiled
// by tsc with decorator metadata, on NestJS (11 or 12, whichever this project installed).
import 'reflect-metadata'
import assert from 'node:assert/strict'
import { Injectable, Module } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { SingleFlightCache, YieldpointError } from '@yieldpoint/core'
import { SingleFlight, YieldpointModule } from '@yieldpoint/nestjs'
import { flightMap } from '@yieldpoint/rxjs'
import { from, lastValueFrom, toArray } from 'rxjs'

let loads = 0

@Injectable()
class ProductsService {
  @SingleFlight({ key: (id: string) => `product:${id}`, ttl: 5_000 })
  async getProduct(id: string): Promise<{ id: string }> {
    loads++
    await new Promise((r) => setImmediate(r))
    return { id }
  }
}

@Module({ imports: [YieldpointModule.forRoot({ cache: { ttl: 5_000 } })], providers: [ProductsService] })
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false })
  const products = app.get(ProductsService)
  const got = await Promise.all(Array.from({ length: 20 }, () => products.getProduct('7')))
  assert.equal(loads, 1)
  assert.ok(got.every((p) => p.id === '7'))
  await app.close()

  const cache = new SingleFlightCache<string, string>({ ttl: 5_000 })
  let fetches = 0
  const load = async (key: string, _signal: AbortSignal): Promise<string> => {
    fetches++
    return key.toUpperCase()
  }
  const out = await lastValueFrom(
    from(['a', 'b', 'a', 'b', 'a']).pipe(
      flightMap(cache, (k: string) => k, load),
      toArray(),
    ),
  )
  assert.equal(out.length, 5)
  assert.equal(fetches, 2)
  const err: unknown = await cache
    .getOrSet('bad', async () => {
      throw new YieldpointError('ERR_YP_SMOKE', 'no')
    })
    .catch((e: unknown) => e)
  assert.ok(err instanceof YieldpointError && err.message.endsWith('https://yieldpoint.dev/errors/ERR_YP_SMOKE'))
  console.log(`ts-nodenext: nest ${require('@nestjs/core/package.json').version}, rxjs ok`)
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
