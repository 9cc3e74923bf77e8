import 'reflect-metadata'
import { request as httpRequest } from 'node:http'
import { Readable } from 'node:stream'
import { Controller, Get, Headers, Injectable, Module, Param, Req, StreamableFile, type INestApplication } from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { InvalidArgumentError, TimeoutError } from '@yieldpoint/core'
import { lastValueFrom, type Observable, of } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import { Coalesce, Concurrency, SingleFlight, WithLock, YieldpointModule, YieldpointService } from '../src'

const macrotask = () => new Promise<void>((r) => setImmediate(r))

/** A plain node:http GET with any Host header. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

class Profile {
  readonly #secret: string
  constructor(readonly name: string) {
    this.#secret = name
  }
  secret(): string {
    return this.#secret
  }
}

@Injectable()
class Risky {
  runs = 0
  @WithLock('obs', { returns: 'observable' })
  throwsSync(): Observable<string> {
    throw new Error('sync throw in an Observable method')
  }

  @WithLock('obs2')
  notObservable(): Observable<string> {
    return 42 as unknown as Observable<string> // design:returntype says Observable
  }

  @Concurrency({ permits: 1, returns: 'observable' })
  permitThrows(): Observable<string> {
    throw new Error('sync throw under a permit')
  }

  @Concurrency({ permits: 1 })
  async permitRejects(): Promise<string> {
    throw new Error('async throw under a permit')
  }

  @WithLock('plain')
  plainThrows(): string {
    throw new Error('sync throw in a plain method')
  }

  @WithLock('ok', { returns: 'observable' })
  fine(): Observable<string> {
    return of('fine')
  }

  @SingleFlight({ ttl: 0 })
  async profile(who: unknown): Promise<string> {
    this.runs++
    await macrotask()
    return `profile of ${who instanceof Profile ? who.name : String(who)}`
  }

  @SingleFlight({ ttl: 0 })
  async byFilter(filter: { ids: number[]; user?: string | null }): Promise<string> {
    this.runs++
    await macrotask()
    return JSON.stringify(filter)
  }

  @WithLock('held', { timeout: 0 })
  async heldWithTimeout(): Promise<string> {
    return 'got it'
  }

  @WithLock((_id: string, _signal?: AbortSignal) => 'held', { signal: (_id: string, signal?: AbortSignal) => signal })
  async heldWithSignal(id: string, _signal?: AbortSignal): Promise<string> {
    return id
  }
}

@Controller('users')
class UsersController {
  @Get(':id')
  @Coalesce({ ttl: 60_000, key: (request) => String((request as unknown as { params: { id: string } }).params.id) })
  user(@Param('id') id: string) {
    return { kind: 'user', id }
  }
}

@Controller('orders')
class OrdersController {
  @Get(':id')
  @Coalesce({ ttl: 60_000, key: (request) => String((request as unknown as { params: { id: string } }).params.id) })
  order(@Param('id') id: string) {
    return { kind: 'order', id }
  }
}

@Controller('file')
class FileController {
  runs = 0
  @Get()
  @Coalesce({ ttl: 60_000 })
  file() {
    this.runs++
    return new StreamableFile(Readable.from(['hello ', 'world'])) // a stream can be read once
  }
}

@Controller('page')
class PageController {
  runs = 0
  @Get()
  @Coalesce({ ttl: 60_000 })
  page(@Req() req: { protocol: string; headers: Record<string, string> }, @Headers('host') host: string) {
    this.runs++
    return { link: `${req.protocol}://${host}/cart` }
  }
}

let app: INestApplication | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

async function start(trustProxy = false) {
  @Module({ imports: [YieldpointModule.forRoot({})], controllers: [PageController, UsersController, OrdersController, FileController], providers: [Risky] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile()
  app = moduleRef.createNestApplication({ logger: false })
  if (trustProxy) (app as unknown as { set(k: string, v: unknown): void }).set('trust proxy', 'loopback')
  await app.listen(0, '127.0.0.1')
  const { port } = app.getHttpServer().address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    risky: app.get(Risky),
    yp: app.get(YieldpointService),
    page: app.get(PageController),
    file: app.get(FileController),
  }
}

describe('@yieldpoint/nestjs in real deployments', () => {
  it('1. @Coalesce keys on scheme and host: a Host header never poisons another host', async () => {
    const { url, port, page } = await start()
    const evil = await get(`${url}/page`, { host: 'evil.example' })
    expect(JSON.parse(evil.body)).toEqual({ link: 'http://evil.example/cart' })
    const shop = await get(`${url}/page`, { host: `shop.example.com:${port}` })
    expect(JSON.parse(shop.body)).toEqual({ link: `http://shop.example.com:${port}/cart` })
    await get(`${url}/page`, { host: `shop.example.com:${port}` })
    expect(page.runs).toBe(2) // the second shop request was a hit of shop's own entry
  })

  it('1. the host in the @Coalesce key is exactly the one the handler sees: another letter case is another key', async () => {
    const { url, page } = await start()
    const shouting = await get(`${url}/page`, { host: 'SHOP.example.com' })
    expect(JSON.parse(shouting.body)).toEqual({ link: 'http://SHOP.example.com/cart' })
    const shop = await get(`${url}/page`, { host: 'shop.example.com' })
    expect(JSON.parse(shop.body)).toEqual({ link: 'http://shop.example.com/cart' })
    expect(page.runs).toBe(2)
  })

  it('a custom @Coalesce key is scoped to its handler: two controllers keyed by :id never answer for each other', async () => {
    const { url } = await start()
    expect(JSON.parse((await get(`${url}/users/1`)).body)).toEqual({ kind: 'user', id: '1' })
    expect(JSON.parse((await get(`${url}/orders/1`)).body)).toEqual({ kind: 'order', id: '1' })
  })

  it('@Coalesce never shares or caches a stream (StreamableFile): each request reads a whole body of its own', async () => {
    const { url, file } = await start()
    const first = await get(`${url}/file`)
    const later = await get(`${url}/file`) // within ttl: a cached stream would already be drained
    expect([first.body, later.body]).toEqual(['hello world', 'hello world'])
    expect(file.runs).toBe(2)
  })

  it('1. behind a trusted proxy, X-Forwarded-Proto/-Host are part of the @Coalesce key', async () => {
    const { url, page } = await start(true)
    const https = await get(`${url}/page`, { host: 'shop.example.com', 'x-forwarded-proto': 'https' })
    const http = await get(`${url}/page`, { host: 'shop.example.com', 'x-forwarded-proto': 'http' })
    expect(JSON.parse(https.body).link.startsWith('https://')).toBe(true)
    expect(JSON.parse(http.body).link.startsWith('http://')).toBe(true)
    expect(page.runs).toBe(2)
  })

  it('11. @WithLock/@Concurrency: a method that throws or returns a non-ObservableInput gives the caller the error and frees the lock/permit', async () => {
    const { risky, yp } = await start()
    await expect(lastValueFrom(risky.throwsSync())).rejects.toThrow('sync throw in an Observable method')
    expect(yp.locks.locked('obs')).toBe(false)
    await expect(lastValueFrom(risky.notObservable())).rejects.toThrow(TypeError)
    expect(yp.locks.locked('obs2')).toBe(false)
    await expect(lastValueFrom(risky.permitThrows())).rejects.toThrow('sync throw under a permit')
    expect(yp.semaphore('Risky.permitThrows', 1).value).toBe(1)
    await expect(risky.permitRejects()).rejects.toThrow('async throw under a permit')
    expect(yp.semaphore('Risky.permitRejects', 1).value).toBe(1)
    await expect(risky.plainThrows()).rejects.toThrow('sync throw in a plain method')
    expect(yp.locks.locked('plain')).toBe(false)
    // and the lock still works afterwards
    expect(await lastValueFrom(risky.fine())).toBe('fine')
    await expect(lastValueFrom(risky.throwsSync())).rejects.toThrow()
    expect(yp.locks.size).toBe(0)
  })

  it('12. @SingleFlight default key: calls that differ never share; unkeyable arguments fail naming `key`', async () => {
    const { risky } = await start()
    const results = await Promise.all([
      risky.profile(undefined),
      risky.profile(null),
      risky.profile(Number.NaN),
      risky.profile('undefined'),
      risky.profile(0),
      risky.profile(-0),
    ])
    expect(results).toEqual(['profile of undefined', 'profile of null', 'profile of NaN', 'profile of undefined', 'profile of 0', 'profile of 0'])
    expect(risky.runs).toBe(6)
    for (const bad of [new Set(['alice']), new Map([['u', 'bob']]), new Profile('alice'), new Date(0), () => 'x', Symbol('s')]) {
      const error = await risky.profile(bad).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(InvalidArgumentError)
      expect((error as Error).message).toMatch(/key/)
    }
    const cyclic: { self?: unknown } = {}
    cyclic.self = cyclic
    await expect(risky.profile(cyclic)).rejects.toBeInstanceOf(InvalidArgumentError)
    risky.runs = 0
    const filters = await Promise.all([
      risky.byFilter({ ids: [1, 2] }),
      risky.byFilter({ ids: [1, 2], user: null }),
      risky.byFilter({ ids: [1, 2], user: undefined }),
      risky.byFilter({ ids: [2, 1] }),
    ])
    expect(new Set(filters).size).toBe(3) // `user: undefined` and `user: null` differ; missing and undefined print alike
    expect(risky.runs).toBe(4)
  })

  it('decorators accept { timeout, signal }: a waiting call stops with TimeoutError or its signal', async () => {
    const { risky, yp } = await start()
    const held = await yp.locks.acquire('held')
    await expect(risky.heldWithTimeout()).rejects.toBeInstanceOf(TimeoutError)
    const controller = new AbortController()
    const waiting = risky.heldWithSignal('x', controller.signal)
    await macrotask()
    controller.abort(new Error('caller gave up'))
    await expect(waiting).rejects.toThrow('caller gave up')
    held.release()
    expect(await risky.heldWithSignal('y')).toBe('y')
  })

  it('options are validated when the decorator or module is created', async () => {
    expect(() => Concurrency({ permits: 0 })).toThrow(InvalidArgumentError)
    expect(() => Concurrency(4 as never)).toThrow(InvalidArgumentError)
    expect(() => WithLock('k', { timeout: -1 })).toThrow(InvalidArgumentError)
    expect(() => WithLock('k', { signal: 'x' as never })).toThrow(InvalidArgumentError)
    expect(() => SingleFlight({ ttl: Number.NaN })).toThrow(InvalidArgumentError)
    expect(() => SingleFlight({ returns: 'stream' as never })).toThrow(InvalidArgumentError)
    expect(() => Coalesce({ credentials: 'share' as never })).toThrow(InvalidArgumentError)
    expect(() => Coalesce({ credentialHeaders: 'x-api-key' as never })).toThrow(InvalidArgumentError)
    const { yp } = await start()
    yp.semaphore('partner', 1)
    expect(() => yp.semaphore('partner', 3)).toThrow(InvalidArgumentError)
    const withStore = Test.createTestingModule({
      imports: [YieldpointModule.forRoot({ cache: yp.cache, store: { get: () => undefined, set() {}, delete() {}, clear() {} } })],
    }).compile()
    await expect(withStore.then((m) => m.get(YieldpointService))).rejects.toBeInstanceOf(InvalidArgumentError)
  })
})
