import 'reflect-metadata'
import { Controller, Get, Inject, Injectable, Module, Param } from '@nestjs/common'
import { SingleFlight, YieldpointModule } from '@yieldpoint/nestjs'

export const UPSTREAM_URL = 'UPSTREAM_URL'

/** Calls the real upstream (an HTTP server on 127.0.0.1, ~100 ms per call). */
@Injectable()
export class ProductsService {
  private readonly naiveCache = new Map<string, unknown>()
  constructor(@Inject(UPSTREAM_URL) private readonly upstream: string) {}

  private async fetchProduct(id: string): Promise<unknown> {
    return (await fetch(`${this.upstream}/products/${encodeURIComponent(id)}`)).json()
  }

  /** The seed's check-then-act cache: every caller before the first answer misses. */
  async naive(id: string): Promise<unknown> {
    if (!this.naiveCache.has(id)) this.naiveCache.set(id, await this.fetchProduct(id))
    return this.naiveCache.get(id)
  }

  /** One upstream call per key, however many concurrent callers; cached 5 s. */
  @SingleFlight({ key: (id: string) => `product:${id}`, ttl: 5_000 })
  async getProduct(id: string): Promise<unknown> {
    return this.fetchProduct(id)
  }
}

@Controller()
export class ProductsController {
  constructor(@Inject(ProductsService) private readonly products: ProductsService) {}

  @Get('naive/products/:id')
  naive(@Param('id') id: string) {
    return this.products.naive(id)
  }

  @Get('products/:id')
  product(@Param('id') id: string) {
    return this.products.getProduct(id)
  }
}

export function createAppModule(upstream: string) {
  @Module({
    imports: [YieldpointModule.forRoot({ cache: { ttl: 5_000, staleWhileRevalidate: 30_000 }, isGlobal: true })],
    controllers: [ProductsController],
    providers: [ProductsService, { provide: UPSTREAM_URL, useValue: upstream }],
  })
  class AppModule {}
  return AppModule
}
