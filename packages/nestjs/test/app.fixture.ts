import 'reflect-metadata'
import { Controller, Get, Inject, Injectable, NotFoundException, Param, UseGuards, type CanActivate } from '@nestjs/common'
import { defer, type Observable } from 'rxjs'
import { Coalesce, Concurrency, SingleFlight, WithLock } from '../src'

export const macrotask = () => new Promise<void>((r) => setImmediate(r))

/** Counts requests as they pass the guard, and lets a test hold the upstream until N arrived. */
class ArrivalGate {
  count = 0
  expected = Infinity
  private open!: () => void
  allIn = new Promise<void>((r) => (this.open = r))
  reset(expected: number): void {
    this.count = 0
    this.expected = expected
    this.allIn = new Promise<void>((r) => (this.open = r))
  }
  arrive(): void {
    if (++this.count >= this.expected) this.open()
  }
}

/** Shared by the guard instance Nest creates and the tests. */
export const arrivals = new ArrivalGate()

@Injectable()
export class Arrivals implements CanActivate {
  canActivate(): boolean {
    arrivals.arrive()
    return true
  }
}

@Injectable()
export class Upstream {
  calls = 0
  async product(id: string): Promise<{ id: string; call: number }> {
    const call = ++this.calls
    await macrotask()
    if (id === 'missing') throw new NotFoundException(`product ${id} not found`)
    return { id, call }
  }
}

@Injectable()
export class ProductsService {
  inside = new Map<string, number>()
  maxPerKey = 0
  maxOverall = 0
  overall = 0
  partnerInside = 0
  partnerMax = 0

  readonly arrivals = arrivals
  constructor(@Inject(Upstream) readonly upstream: Upstream) {}

  @SingleFlight({ key: (id: string) => `product:${id}`, ttl: 5_000 })
  async getProduct(id: string) {
    await this.arrivals.allIn
    return this.upstream.product(id)
  }

  @SingleFlight({ key: (id: string) => `product$:${id}`, ttl: 0, returns: 'observable' })
  getProduct$(id: string): Observable<{ id: string; call: number }> {
    return defer(() => this.upstream.product(id))
  }

  @WithLock((accountId: string) => `account:${accountId}`)
  async transfer(accountId: string, _amount: number) {
    const n = (this.inside.get(accountId) ?? 0) + 1
    this.inside.set(accountId, n)
    this.overall++
    this.maxPerKey = Math.max(this.maxPerKey, n)
    this.maxOverall = Math.max(this.maxOverall, this.overall)
    await macrotask()
    this.inside.set(accountId, n - 1)
    this.overall--
    return accountId
  }

  @Concurrency({ permits: 4 })
  async callPartnerApi() {
    this.partnerInside++
    this.partnerMax = Math.max(this.partnerMax, this.partnerInside)
    await macrotask()
    await macrotask()
    this.partnerInside--
    return 'ok'
  }
}

@Controller('products')
@UseGuards(Arrivals)
export class ProductsController {
  handlerRuns = 0
  constructor(@Inject(ProductsService) private readonly products: ProductsService) {}

  @Get('service/:id')
  viaService(@Param('id') id: string) {
    return this.products.getProduct(id)
  }

  @SingleFlight({ key: (id: string) => `controller:${id}`, ttl: 0 })
  @Get('decorated/:id')
  async decorated(@Param('id') id: string) {
    this.handlerRuns++
    await this.products.arrivals.allIn
    return this.products.upstream.product(id)
  }

  @Get('coalesced/:id')
  @Coalesce()
  async coalesced(@Param('id') id: string) {
    this.handlerRuns++
    await this.products.arrivals.allIn
    return this.products.upstream.product(id)
  }
}
