import { gunzipSync } from 'node:zlib'
import { InvalidArgumentError, YieldpointError } from '@yieldpoint/core'
import compression from 'compression'
import { describe, expect, it } from 'vitest'
import { coalesce } from '../src'
import { expressVersions, gate, listen, request, until } from './helpers'

/** The body as the client would read it: gunzipped only if the server said gzip. */
const decoded = (r: { headers: Record<string, unknown>; body: Buffer }) => (r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.body) : r.body).toString()

describe.each(expressVersions)('coalesce() in real deployments, on %s', (_name, express) => {
  /** A coalesced route that waits until `expected` requests have arrived, then answers with `body(req)`. */
  function heldApp(expected: number, setup: (app: ReturnType<typeof express>, allIn: Promise<void>, state: { arrived: number; runs: number }) => void) {
    const app = express()
    const state = { arrived: 0, runs: 0 }
    const allIn = gate()
    app.use((_req, _res, next) => {
      if (++state.arrived === expected) allIn.open()
      next()
    })
    setup(app, allIn.promise, state)
    return { app, state }
  }

  it('1. the key holds scheme and host: a Host or X-Forwarded-* request never poisons another host', async () => {
    const { app } = heldApp(1, (app) => {
      app.get('/page', coalesce({ ttl: 60_000 }), (req, res) => {
        res.send(`<a href="${req.protocol}://${req.get('host')}/cart">cart</a>`)
      })
    })
    const server = await listen(app)
    const port = new URL(server.url).port
    try {
      const evil = await request(`${server.url}/page`, { headers: { host: 'evil.example' } })
      expect(evil.body.toString()).toContain('http://evil.example/cart')
      const shop = await request(`${server.url}/page`, { headers: { host: `shop.example.com:${port}` } })
      expect(shop.body.toString()).toContain(`http://shop.example.com:${port}/cart`)
      expect(shop.headers['x-coalesce']).toBe('leader')
      const again = await request(`${server.url}/page`, { headers: { host: `shop.example.com:${port}` } })
      expect(again.headers['x-coalesce']).toBe('hit')
      // Not trusted: X-Forwarded-Proto neither changes the page nor the key.
      const downgrade = await request(`${server.url}/page`, { headers: { host: `shop.example.com:${port}`, 'x-forwarded-proto': 'https' } })
      expect(downgrade.headers['x-coalesce']).toBe('hit')
    } finally {
      await server.close()
    }
  })

  it('1. the host in the key is exactly the one the handler sees: a Host in other letter case never poisons the real one', async () => {
    const app = express()
    const tenants: Record<string, string> = { 'acme.example.com': 'acme' }
    app.get('/config', coalesce({ ttl: 60_000 }), (req, res) => {
      res.send(`tenant=${tenants[req.hostname] ?? 'unknown'}`) // a lookup that is case-sensitive, as most are
    })
    const server = await listen(app)
    try {
      const shouting = await request(`${server.url}/config`, { headers: { host: 'ACME.example.com' } })
      expect(shouting.body.toString()).toBe('tenant=unknown')
      const acme = await request(`${server.url}/config`, { headers: { host: 'acme.example.com' } })
      expect(acme.body.toString()).toBe('tenant=acme')
      expect(acme.headers['x-coalesce']).toBe('leader')
    } finally {
      await server.close()
    }
  })

  it('1. behind a trusted proxy, X-Forwarded-Proto and X-Forwarded-Host are part of the key, as the handler sees them', async () => {
    const app = express()
    app.set('trust proxy', 'loopback')
    let runs = 0
    app.get('/config', coalesce({ ttl: 60_000 }), (req, res) => {
      runs++
      res.json({ tenant: req.hostname, scheme: req.protocol })
    })
    const server = await listen(app)
    try {
      const ask = (host: string, proto: string) => request(`${server.url}/config`, { headers: { 'x-forwarded-host': host, 'x-forwarded-proto': proto } })
      const acme = await ask('acme.example.com', 'https')
      const globex = await ask('globex.example.com', 'https')
      const acmeHttp = await ask('acme.example.com', 'http')
      const acmeAgain = await ask('acme.example.com', 'https')
      expect(JSON.parse(acme.body.toString())).toEqual({ tenant: 'acme.example.com', scheme: 'https' })
      expect(JSON.parse(globex.body.toString())).toEqual({ tenant: 'globex.example.com', scheme: 'https' })
      expect(JSON.parse(acmeHttp.body.toString())).toEqual({ tenant: 'acme.example.com', scheme: 'http' })
      expect(acmeAgain.headers['x-coalesce']).toBe('hit')
      expect(JSON.parse(acmeAgain.body.toString())).toEqual({ tenant: 'acme.example.com', scheme: 'https' })
      expect(runs).toBe(3)
    } finally {
      await server.close()
    }
  })

  const payload = JSON.stringify({ items: Array.from({ length: 400 }, (_, i) => ({ id: i, name: `item ${i}` })) })

  it.each([
    ['compression() before coalesce() (app.use at the top)', 'before'],
    ['compression() after coalesce() (on the route)', 'after'],
  ] as const)('2. %s: every client gets a body it can decode, gzip only if it asked', async (_title, order) => {
    const { app, state } = heldApp(40, (app, allIn, state) => {
      if (order === 'before') app.use(compression({ threshold: 0 }))
      const chain = order === 'before' ? [coalesce({ ttl: 60_000 })] : [coalesce({ ttl: 60_000 }), compression({ threshold: 0 })]
      app.get('/list', ...chain, async (_req: unknown, res: { type(t: string): { send(b: string): void } }) => {
        state.runs++
        await allIn
        res.type('json').send(payload)
      })
    })
    const server = await listen(app)
    try {
      const accepts = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 'gzip' : i % 3 === 1 ? 'identity' : 'br;q=0, deflate;q=0, gzip;q=0'))
      const rs = await Promise.all(accepts.map((ae) => request(`${server.url}/list`, { headers: { 'accept-encoding': ae } })))
      const later = await Promise.all(accepts.slice(0, 6).map((ae) => request(`${server.url}/list`, { headers: { 'accept-encoding': ae } })))
      for (const [i, r] of [...rs, ...later].entries()) {
        const ae = accepts[i % 40]!
        if (ae !== 'gzip') expect(r.headers['content-encoding']).toBeUndefined()
        expect(decoded(r)).toBe(payload)
      }
      expect(rs.filter((r) => r.headers['content-encoding'] === 'gzip').length).toBeGreaterThan(0)
      expect(later.map((r) => r.headers['x-coalesce'])).toEqual(['hit', 'hit', 'hit', 'hit', 'hit', 'hit'])
      expect(state.runs).toBeLessThanOrEqual(order === 'before' ? 1 : 3) // 'after' keys by Accept-Encoding (the bytes vary)
    } finally {
      await server.close()
    }
  })

  it('5. conditional and partial requests never share with plain ones: one If-Match leader, 19 plain GETs all get 200', async () => {
    const { app, state } = heldApp(20, (app, allIn, state) => {
      app.get('/doc', coalesce(), async (req, res) => {
        state.runs++
        await allIn
        const match = req.headers['if-match'] ?? req.headers['if-unmodified-since']
        if (match !== undefined && match !== '"v1"') return void res.status(412).end()
        if (req.headers.range) return void res.status(206).set('content-range', 'bytes 0-1/4').send('do')
        res.set('etag', '"v1"').send('doc!')
      })
    })
    const server = await listen(app)
    try {
      const preconditions: Record<string, string>[] = [
        { 'if-match': '"bogus"' },
        { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' },
        { range: 'bytes=0-1' },
      ]
      for (const precondition of preconditions) {
        state.arrived = 0
        state.runs = 0
        const first = request(`${server.url}/doc`, { headers: precondition })
        await until(() => state.runs === 1, 'the conditional request runs first')
        const plain = Array.from({ length: 19 }, () => request(`${server.url}/doc`))
        const odd = await first
        expect([412, 206]).toContain(odd.status)
        expect(odd.headers['x-coalesce']).toBe('bypass')
        for (const r of await Promise.all(plain)) {
          expect(r.status).toBe(200)
          expect(r.body.toString()).toBe('doc!')
        }
      }
    } finally {
      await server.close()
    }
  })

  it('5. If-None-Match revalidations are keyed by their precondition: a 304 only reaches the same one', async () => {
    const { app } = heldApp(0, (app) => {
      app.get('/e', coalesce({ ttl: 60_000 }), (_req, res) => {
        res.set('etag', '"v1"').send('body') // Express answers 304 to a matching If-None-Match
      })
    })
    const server = await listen(app)
    try {
      const revalidate = await request(`${server.url}/e`, { headers: { 'if-none-match': '"v1"' } })
      expect(revalidate.status).toBe(304)
      const plain = await request(`${server.url}/e`)
      expect(plain.status).toBe(200)
      expect(plain.body.toString()).toBe('body')
    } finally {
      await server.close()
    }
  })

  it('8. non-idempotent methods run every handler and say bypass; methods with POST need a key', async () => {
    expect(() => coalesce({ methods: ['GET', 'POST'] })).toThrow(InvalidArgumentError)
    expect(() => coalesce({ methods: ['put'] })).toThrow(/key/)
    for (const m of ['PATCH', 'DELETE']) expect(() => coalesce({ methods: [m] })).toThrow(YieldpointError)
    expect(() => coalesce({ methods: ['GET', 'POST'], key: (req) => `${req.originalUrl} ${String(req.headers['idempotency-key'])}` })).not.toThrow()
    const app = express()
    let runs = 0
    app.post('/orders', coalesce(), (_req, res) => {
      runs++
      res.send('created')
    })
    const server = await listen(app)
    try {
      const rs = await Promise.all(Array.from({ length: 5 }, () => request(`${server.url}/orders`, { method: 'POST' })))
      expect(rs.map((r) => r.headers['x-coalesce'])).toEqual(['bypass', 'bypass', 'bypass', 'bypass', 'bypass'])
      expect(runs).toBe(5)
    } finally {
      await server.close()
    }
  })

  it('9. each request keeps its own X-Request-Id (followers and hits); hits carry Age; Server-Timing tells wait and load', async () => {
    let id = 0
    const { app } = heldApp(10, (app, allIn) => {
      app.use((_req, res, next) => {
        res.setHeader('x-request-id', `req-${++id}`)
        next()
      })
      app.get('/traced', coalesce({ ttl: 60_000 }), async (_req, res) => {
        await allIn
        res.set('cache-control', 'public, max-age=60').send('traced')
      })
    })
    const server = await listen(app)
    try {
      const rs = await Promise.all(Array.from({ length: 10 }, () => request(`${server.url}/traced`)))
      const hit = await request(`${server.url}/traced`)
      const ids = [...rs, hit].map((r) => r.headers['x-request-id'])
      expect(new Set(ids).size).toBe(11)
      expect(hit.headers['x-coalesce']).toBe('hit')
      expect(hit.headers.age).toMatch(/^\d+$/)
      expect(rs.some((r) => r.headers.age !== undefined)).toBe(false) // fresh answers have no Age
      for (const r of [...rs, hit]) expect(r.headers['server-timing']).toMatch(/coalesce-wait;dur=[\d.]+/)
      expect(rs.find((r) => r.headers['x-coalesce'] === 'coalesced')?.headers['server-timing']).toMatch(/coalesce-load;dur=[\d.]+/)
      expect(rs.find((r) => r.headers['x-coalesce'] === 'leader')?.headers['server-timing']).toMatch(/coalesce-load;dur=[\d.]+/)
    } finally {
      await server.close()
    }
  })

  it('10. credentialHeaders partitions by other credentials (X-Api-Key)', async () => {
    const { app, state } = heldApp(40, (app, allIn, state) => {
      app.get('/account', coalesce({ credentialHeaders: ['authorization', 'cookie', 'x-api-key'] }), async (req, res) => {
        state.runs++
        await allIn
        res.json({ owner: req.headers['x-api-key'] })
      })
    })
    const server = await listen(app)
    try {
      const keys = Array.from({ length: 40 }, (_, i) => `key-${i % 4}`)
      const rs = await Promise.all(keys.map((k) => request(`${server.url}/account`, { headers: { 'x-api-key': k } })))
      for (const [i, r] of rs.entries()) expect(JSON.parse(r.body.toString())).toEqual({ owner: keys[i] })
      expect(state.runs).toBe(4)
      expect(() => coalesce({ credentialHeaders: 'x-api-key' as never })).toThrow(InvalidArgumentError)
    } finally {
      await server.close()
    }
  })

  it('options are validated when the middleware is created; store or ttl next to cache is refused', () => {
    const cache = coalesce().cache
    expect(() => coalesce({ cache, store: new Map() as never })).toThrow(InvalidArgumentError)
    expect(() => coalesce({ cache, ttl: 5 })).toThrow(/ignored next to cache/)
    expect(() => coalesce({ cache, loadTimeout: 5 })).toThrow(InvalidArgumentError)
    expect(() => coalesce({ loadTimeout: 0 })).toThrow(InvalidArgumentError)
    expect(() => coalesce({ cache })).not.toThrow()
    expect(() => coalesce({ ttl: -1 })).toThrow(InvalidArgumentError)
    expect(() => coalesce({ followerTimeout: Number.NaN })).toThrow(/followerTimeout/)
    expect(() => coalesce({ maxBytes: 0 })).toThrow(/maxBytes/)
    expect(() => coalesce({ max: 1.5 })).toThrow(/max/)
    expect(() => coalesce({ header: 3 as never })).toThrow(/header/)
    expect(() => coalesce({ serverTiming: 'yes' as never })).toThrow(/serverTiming/)
    expect(() => coalesce({ cacheStatuses: 200 as never })).toThrow(/cacheStatuses/)
    expect(() => coalesce({ methods: 'GET' as never })).toThrow(/methods/)
  })
})
