import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'
import compression from 'compression'
import express from 'express'
import { describe, expect, it } from 'vitest'
import { coalesce } from '../src'
import { macrotask } from './helpers'

const USERS = 60
const REQUESTS = 10_000
const IN_FLIGHT = 150
const TENANTS = ['acme.example.com', 'globex.example.com', 'initech.example.com']
const ENCODINGS = ['gzip', 'identity', 'gzip, deflate, br', 'br;q=0, gzip;q=0', 'deflate']

interface Figures {
  requests: number
  completed: number
  aborted: number
  wrongUser: number
  wrongHost: number
  wrongRequestId: number
  undecodable: number
  unaskedEncoding: number
  statuses: Record<number, number>
  how: Record<string, number>
  handlerRuns: number
  stuckKeys: number
  handlersRunning: number
}

/** A user: which credentials they send, for which tenant and scheme. */
function user(i: number) {
  const headers: Record<string, string> = {}
  if (i % 4 === 0 || i % 4 === 2) headers.authorization = `Bearer user-${i}`
  if (i % 4 === 1 || i % 4 === 2) headers.cookie = `sid=user-${i}`
  if (i % 4 === 3) headers['x-api-key'] = `key-${i}`
  return {
    headers,
    tenant: TENANTS[i % TENANTS.length]!,
    proto: i % 5 === 0 ? 'http' : 'https',
    identity: `${headers.authorization ?? ''}|${headers.cookie ?? ''}|${headers['x-api-key'] ?? ''}`,
  }
}

function decode(encoding: string | undefined, body: Buffer): string {
  if (encoding === 'gzip') return gunzipSync(body).toString()
  if (encoding === 'br') return brotliDecompressSync(body).toString()
  if (encoding === 'deflate') return inflateSync(body).toString()
  return body.toString()
}

/** Whether `accept` (an Accept-Encoding value) admits `encoding`. */
function accepts(accept: string, encoding: string): boolean {
  for (const part of accept.split(',')) {
    const [name, ...params] = part.trim().split(';')
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    if (name === encoding) return q === undefined || Number(q.slice(2)) > 0
  }
  return false
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('mixed-user load through a proxy and compression()', () => {
  it(`${USERS} users, ${REQUESTS} requests, some clients aborting: 0 wrong-user or undecodable responses, 0 stuck keys`, { timeout: 120_000 }, async () => {
    // The app: compression at the top, a per-request id, coalesce on three kinds of route.
    const app = express()
    app.set('trust proxy', 'loopback')
    app.use(compression({ threshold: 0 }))
    app.use((req, res, next) => {
      res.setHeader('x-request-id', String(req.headers['x-request-id']))
      next()
    })
    let handlerRuns = 0
    let handlersRunning = 0
    const credentialHeaders = ['authorization', 'cookie', 'x-api-key']
    const me = coalesce({ ttl: 1_000, staleWhileRevalidate: 1_000, credentialHeaders })
    const config = coalesce({ ttl: 1_000, credentialHeaders })
    const feed = coalesce({ credentialHeaders })
    const who = (req: express.Request) => `${req.headers.authorization ?? ''}|${req.headers.cookie ?? ''}|${req.headers['x-api-key'] ?? ''}`
    const page = (req: express.Request) => ({ user: who(req), host: req.hostname, proto: req.protocol, url: req.originalUrl, pad: 'x'.repeat(100) })
    app.get('/me', me, async (req, res) => {
      handlerRuns++
      handlersRunning++
      await macrotask()
      handlersRunning--
      res.json(page(req))
    })
    app.get('/config', config, async (req, res) => {
      handlerRuns++
      handlersRunning++
      await macrotask()
      handlersRunning--
      res.json(page(req))
    })
    app.get('/feed', feed, async (req, res) => {
      handlerRuns++
      handlersRunning++
      const body = JSON.stringify(page(req))
      res.type('json')
      const third = Math.ceil(body.length / 3)
      for (let i = 0; i < body.length; i += third) {
        res.write(body.slice(i, i + third))
        await macrotask()
      }
      handlersRunning--
      res.end()
    })
    const appServer = createServer(app)
    const appUrl = new URL(await listen(appServer))

    // The proxy: sets Host and X-Forwarded-* from what the client asked for, passes bytes through.
    const upstreamAgent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT })
    const proxy = createServer((req, res) => {
      const headers = {
        ...req.headers,
        host: 'app.internal',
        'x-forwarded-host': String(req.headers['x-tenant']),
        'x-forwarded-proto': String(req.headers['x-proto']),
      }
      const up = httpRequest({ host: appUrl.hostname, port: appUrl.port, path: req.url, method: req.method, headers, agent: upstreamAgent }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers)
        upRes.pipe(res)
      })
      up.on('error', () => res.destroy())
      res.on('close', () => {
        if (!res.writableFinished) up.destroy() // the client left: so does the proxy's upstream request
      })
      up.end()
    })
    const proxyUrl = new URL(await listen(proxy))

    const figures: Figures = {
      requests: 0,
      completed: 0,
      aborted: 0,
      wrongUser: 0,
      wrongHost: 0,
      wrongRequestId: 0,
      undecodable: 0,
      unaskedEncoding: 0,
      statuses: {},
      how: {},
      handlerRuns: 0,
      stuckKeys: 0,
      handlersRunning: 0,
    }
    const clientAgent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT })
    const paths = ['/me', '/config', '/feed', '/me?view=full', '/config?lang=fr']

    const one = (n: number): Promise<void> =>
      new Promise<void>((resolve) => {
        const u = user(n % USERS)
        const accept = ENCODINGS[(n * 7) % ENCODINGS.length]!
        const requestId = `r-${n}`
        // Some clients give up: 1 in 25 as soon as the request is sent, 1 in 25 once the headers arrive.
        const abortOnSent = n % 25 === 3
        const abortOnHeaders = n % 25 === 11
        figures.requests++
        const req = httpRequest(
          {
            host: proxyUrl.hostname,
            port: proxyUrl.port,
            path: paths[n % paths.length],
            agent: clientAgent,
            headers: { ...u.headers, 'accept-encoding': accept, 'x-tenant': u.tenant, 'x-proto': u.proto, 'x-request-id': requestId },
          },
          (res: IncomingMessage) => {
            if (abortOnHeaders) {
              figures.aborted++
              req.destroy()
              return resolve()
            }
            const chunks: Buffer[] = []
            res.on('data', (c: Buffer) => chunks.push(c))
            res.on('end', () => {
              figures.completed++
              figures.statuses[res.statusCode ?? 0] = (figures.statuses[res.statusCode ?? 0] ?? 0) + 1
              const how = String(res.headers['x-coalesce'])
              figures.how[how] = (figures.how[how] ?? 0) + 1
              const encoding = res.headers['content-encoding']
              if (encoding !== undefined && !accepts(accept, encoding)) figures.unaskedEncoding++
              if (res.headers['x-request-id'] !== requestId) figures.wrongRequestId++
              let body: { user: string; host: string; proto: string }
              try {
                body = JSON.parse(decode(encoding, Buffer.concat(chunks)))
              } catch {
                figures.undecodable++
                return resolve()
              }
              if (body.user !== u.identity) figures.wrongUser++
              if (body.host !== u.tenant || body.proto !== u.proto) figures.wrongHost++
              resolve()
            })
            res.on('error', () => resolve())
            res.on('aborted', () => resolve())
          },
        )
        req.on('error', () => resolve())
        if (abortOnSent)
          req.on('finish', () => {
            figures.aborted++
            req.destroy()
            resolve()
          })
        req.end()
      })

    try {
      let next = 0
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < REQUESTS) await one(next++)
        }),
      )
      // Every handler a gone client left behind still finishes; then nothing may be left open.
      for (let i = 0; handlersRunning > 0 || me.cache.statistics().inFlight + config.cache.statistics().inFlight + feed.cache.statistics().inFlight > 0; i++) {
        if (i > 100_000) break
        await macrotask()
      }
      figures.handlerRuns = handlerRuns
      figures.handlersRunning = handlersRunning
      figures.stuckKeys = me.cache.statistics().inFlight + config.cache.statistics().inFlight + feed.cache.statistics().inFlight
      console.log(`load figures: ${JSON.stringify(figures)}`)
      expect(figures.requests).toBeGreaterThanOrEqual(10_000)
      expect(figures.completed + figures.aborted).toBeGreaterThanOrEqual(figures.requests - 5) // a connection reset may cut one short
      expect(figures.aborted).toBeGreaterThan(0)
      expect(figures.wrongUser).toBe(0)
      expect(figures.wrongHost).toBe(0)
      expect(figures.wrongRequestId).toBe(0)
      expect(figures.undecodable).toBe(0)
      expect(figures.unaskedEncoding).toBe(0)
      expect(figures.stuckKeys).toBe(0)
      expect(figures.handlersRunning).toBe(0)
      expect(Object.keys(figures.statuses)).toEqual(['200'])
      expect((figures.how.coalesced ?? 0) + (figures.how.hit ?? 0)).toBeGreaterThan(0) // it did coalesce
    } finally {
      clientAgent.destroy()
      upstreamAgent.destroy()
      proxy.closeAllConnections()
      appServer.closeAllConnections()
      await Promise.all([new Promise((r) => proxy.close(r)), new Promise((r) => appServer.close(r))])
    }
  })
})
