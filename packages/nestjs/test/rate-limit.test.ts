import 'reflect-metadata'
import { Controller, Get, Injectable, Param, type INestApplication } from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { InvalidArgumentError, RateLimiter, TimeoutError } from '@yieldpoint/core'
// biome-ignore lint/style/useImportType: a value import, so design:returntype can name Observable
import { firstValueFrom, Observable, of } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import { RateLimit } from '../src'

const shared = new RateLimiter({ tokensPerInterval: 3, interval: 60_000, name: 'partner' })

@Injectable()
class PartnerClient {
  calls = 0
  @RateLimit({ limiter: shared, timeout: 50 })
  async quote(id: string): Promise<{ id: string; call: number }> {
    return { id, call: ++this.calls }
  }

  @RateLimit({ tokensPerInterval: 1, interval: 60_000, timeout: 50 })
  stream(): Observable<string> {
    return of('tick')
  }

  @RateLimit({ tokensPerInterval: 1, interval: 60_000, signal: (ac: AbortController) => ac.signal })
  async cancellable(_ac: AbortController): Promise<string> {
    return 'ran'
  }
}

@Controller('quotes')
class QuotesController {
  constructor(private readonly partner: PartnerClient) {}
  @RateLimit({ tokensPerInterval: 100, interval: 1_000 })
  @Get(':id')
  get(@Param('id') id: string) {
    return this.partner.quote(id)
  }
}

let app: INestApplication | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

describe('@RateLimit (Nest, outgoing calls)', () => {
  it('validates its options when the class is defined', () => {
    expect(() => RateLimit({} as never)).toThrow(/tokensPerInterval is required/)
    expect(() => RateLimit({ tokensPerInterval: 0 })).toThrow(InvalidArgumentError)
    expect(() => RateLimit({ tokensPerInterval: 1, timeout: -1 })).toThrow(InvalidArgumentError)
    expect(() => RateLimit({ limiter: {} as never })).toThrow(InvalidArgumentError)
    expect(() => RateLimit({ tokensPerInterval: 1, signal: 'x' as never })).toThrow(InvalidArgumentError)
  })

  it('a real Nest app: 5 requests, 3 tokens per minute shared → 3 partner calls, 2 time out waiting; the route keeps its metadata', async () => {
    const moduleRef = await Test.createTestingModule({ controllers: [QuotesController], providers: [PartnerClient] }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    await app.listen(0, '127.0.0.1')
    const { port } = app.getHttpServer().address() as { port: number }
    const statuses = await Promise.all(Array.from({ length: 5 }, (_, i) => fetch(`http://127.0.0.1:${port}/quotes/${i}`).then((r) => r.status)))
    expect(statuses.filter((s) => s === 200).length).toBe(3)
    expect(statuses.filter((s) => s === 500).length).toBe(2) // the TimeoutError, unhandled by this app
    expect(app.get(PartnerClient).calls).toBe(3)
    expect(shared.statistics()).toMatchObject({ waiting: 0, granted: 3 })
    // Called directly, the timeout surfaces as a typed error.
    await expect(app.get(PartnerClient).quote('x')).rejects.toBeInstanceOf(TimeoutError)
  })

  it("{ signal: (...args) => AbortSignal } cancels a waiting call with the signal's reason", async () => {
    const client = new PartnerClient()
    expect(await client.cancellable(new AbortController())).toBe('ran')
    const ac = new AbortController()
    const waiting = client.cancellable(ac)
    ac.abort(new Error('caller left'))
    await expect(waiting).rejects.toThrow('caller left')
  })

  it('an Observable method takes its token on subscribe', async () => {
    const client = new PartnerClient()
    expect(await firstValueFrom(client.stream())).toBe('tick')
    await expect(firstValueFrom(client.stream())).rejects.toBeInstanceOf(TimeoutError)
  })
})
