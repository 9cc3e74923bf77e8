import session from 'express-session'
import { describe, expect, it } from 'vitest'
import { coalesce } from '../src'
import { expressVersions, gate, listen, macrotask, request, until } from './helpers'

describe.each(expressVersions)('coalesce() on %s', (_name, express) => {
  /** An app whose upstream call waits until `expected` requests have arrived. */
  function stampedeApp(expected: number, options: Parameters<typeof coalesce>[0] = {}) {
    const app = express()
    const state = { arrived: 0, upstreamCalls: 0, handlerRuns: 0 }
    const allIn = gate()
    app.use((_req, _res, next) => {
      if (++state.arrived === expected) allIn.open()
      next()
    })
    const upstream = async (id: string) => {
      state.upstreamCalls++
      await macrotask()
      return { id, price: 42, at: state.upstreamCalls }
    }
    app.get('/products/:id', coalesce(options), async (req, res) => {
      state.handlerRuns++
      await allIn.promise
      await macrotask()
      res.json(await upstream(String(req.params.id)))
    })
    return { app, state }
  }

  it('500 concurrent requests → 1 upstream call and 500 identical bodies', async () => {
    const { app, state } = stampedeApp(500)
    const server = await listen(app)
    try {
      const responses = await Promise.all(Array.from({ length: 500 }, () => fetch(`${server.url}/products/7`)))
      const bodies = await Promise.all(responses.map((r) => r.text()))
      expect(state.upstreamCalls).toBe(1)
      expect(new Set(bodies).size).toBe(1)
      expect(JSON.parse(bodies[0]!)).toEqual({ id: '7', price: 42, at: 1 })
      expect(responses.every((r) => r.status === 200 && r.headers.get('content-type')?.startsWith('application/json'))).toBe(true)
      const how = responses.map((r) => r.headers.get('x-coalesce'))
      expect(how.filter((h) => h === 'leader')).toHaveLength(1)
      expect(how.filter((h) => h === 'coalesced')).toHaveLength(499)
    } finally {
      await server.close()
    }
  })

  it('micro-cache: later requests are hits within ttl, then stale-while-revalidate', async () => {
    const { app, state } = stampedeApp(1, { ttl: 200, staleWhileRevalidate: 60_000 })
    const server = await listen(app)
    try {
      const first = await fetch(`${server.url}/products/1`)
      await first.text()
      const second = await fetch(`${server.url}/products/1`)
      expect(second.headers.get('x-coalesce')).toBe('hit')
      expect(await second.json()).toMatchObject({ at: 1 })
      expect(state.upstreamCalls).toBe(1)
      await until(() => false, 'ttl', 250).catch(() => undefined) // let the ttl pass (real clock)
      const third = await fetch(`${server.url}/products/1`) // stale: this request refreshes
      expect(await third.json()).toMatchObject({ at: 2 })
      expect(state.upstreamCalls).toBe(2)
    } finally {
      await server.close()
    }
  })

  it('two users with different Authorization never receive each other\u2019s body, even under concurrency', async () => {
    const app = express()
    let upstreamCalls = 0
    let arrived = 0
    const allIn = gate()
    app.use((_req, _res, next) => {
      if (++arrived === 200) allIn.open()
      next()
    })
    app.get('/me', coalesce(), async (req, res) => {
      upstreamCalls++
      await allIn.promise
      res.json({ user: req.headers.authorization })
    })
    const server = await listen(app)
    try {
      const users = Array.from({ length: 200 }, (_, i) => `Bearer user-${i % 2}`)
      const bodies = await Promise.all(users.map((auth) => fetch(`${server.url}/me`, { headers: { authorization: auth } }).then((r) => r.json())))
      for (const [i, b] of bodies.entries()) expect(b).toEqual({ user: users[i] })
      expect(upstreamCalls).toBe(2) // still coalesced per user
    } finally {
      await server.close()
    }
  })

  it('a response with Set-Cookie is never replayed: every request runs the handler itself', async () => {
    const app = express()
    let arrived = 0
    let runs = 0
    const allIn = gate()
    app.use((_req, _res, next) => {
      if (++arrived === 20) allIn.open()
      next()
    })
    app.get('/session', coalesce({ ttl: 60_000 }), async (req, res) => {
      runs++
      await allIn.promise
      res.cookie('sid', String(req.query.n))
      res.send(`session ${req.query.n} #${runs}`)
    })
    const server = await listen(app)
    try {
      const responses = await Promise.all(Array.from({ length: 20 }, () => fetch(`${server.url}/session?n=same`)))
      for (const r of responses) {
        expect(r.headers.get('set-cookie')).toBe('sid=same; Path=/')
        await r.text()
      }
      const how = responses.map((r) => r.headers.get('x-coalesce'))
      expect(how.filter((h) => h === 'leader')).toHaveLength(1)
      expect(how.filter((h) => h === 'bypass')).toHaveLength(19)
      expect(runs).toBe(20)
      // and it was not cached either
      await (await fetch(`${server.url}/session?n=same`)).text()
      expect(runs).toBe(21)
    } finally {
      await server.close()
    }
  })

  it('a Set-Cookie added as the headers go out (express-session before coalesce()) is never replayed either', async () => {
    // express-session sets its cookie from a writeHead hook, after the handler's last word: a
    // page that started a session (here: a CSRF token stored in it) belongs to that visitor alone.
    const app = express()
    let arrived = 0
    let runs = 0
    const allIn = gate()
    app.use(session({ secret: 'test', resave: false, saveUninitialized: false }))
    app.use((_req, _res, next) => {
      if (++arrived === 10) allIn.open()
      next()
    })
    app.get('/form', coalesce({ ttl: 60_000 }), async (req, res) => {
      const token = `csrf-${++runs}`
      ;(req.session as unknown as { csrf: string }).csrf = token
      await allIn.promise
      res.send(`<input name="csrf" value="${token}">`)
    })
    const server = await listen(app)
    try {
      const rs = await Promise.all(Array.from({ length: 10 }, () => request(`${server.url}/form`)))
      for (const r of rs) expect(r.headers['set-cookie']).toHaveLength(1) // each visitor's own session
      const tokens = rs.map((r) => r.body.toString())
      expect(new Set(tokens).size).toBe(10) // nobody got another visitor's token
      expect(rs.filter((r) => r.headers['x-coalesce'] === 'bypass')).toHaveLength(9)
      expect(runs).toBe(10)
      const later = await request(`${server.url}/form`)
      expect(later.headers['x-coalesce']).toBe('leader') // not cached either
    } finally {
      await server.close()
    }
  })

  it('Cache-Control: private / no-store responses are not shared', async () => {
    const app = express()
    let runs = 0
    app.get('/private', coalesce({ ttl: 60_000 }), (_req, res) => {
      runs++
      res.set('cache-control', 'private, max-age=60').send('mine')
    })
    const server = await listen(app)
    try {
      await (await fetch(`${server.url}/private`)).text()
      await (await fetch(`${server.url}/private`)).text()
      expect(runs).toBe(2)
    } finally {
      await server.close()
    }
  })

  it('chunked and streamed bodies are replayed byte for byte, status and headers preserved', async () => {
    const app = express()
    let arrived = 0
    let runs = 0
    const allIn = gate()
    const payload = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31 + 7) % 256)) // not valid UTF-8
    app.use((_req, _res, next) => {
      if (++arrived === 30) allIn.open()
      next()
    })
    app.get('/stream', coalesce(), async (_req, res) => {
      runs++
      await allIn.promise
      res.status(201)
      res.setHeader('content-type', 'application/octet-stream')
      res.setHeader('x-custom', 'kept')
      for (let i = 0; i < payload.length; i += 7_000) {
        res.write(payload.subarray(i, i + 7_000))
        await macrotask()
      }
      res.end()
    })
    const server = await listen(app)
    try {
      const responses = await Promise.all(Array.from({ length: 30 }, () => fetch(`${server.url}/stream`)))
      for (const r of responses) {
        expect(r.status).toBe(201)
        expect(r.headers.get('x-custom')).toBe('kept')
        expect(r.headers.get('content-type')).toBe('application/octet-stream')
        expect(Buffer.from(await r.arrayBuffer()).equals(payload)).toBe(true)
      }
      expect(runs).toBe(1)
    } finally {
      await server.close()
    }
  })

  it('a 404 is shared with the requests waiting at that moment but not cached', async () => {
    const app = express()
    let arrived = 0
    let runs = 0
    const allIn = gate()
    app.use((_req, _res, next) => {
      if (++arrived === 10) allIn.open()
      next()
    })
    app.get('/missing', coalesce({ ttl: 60_000 }), async (_req, res) => {
      runs++
      await allIn.promise
      res.status(404).json({ error: 'not found' })
    })
    const server = await listen(app)
    try {
      const rs = await Promise.all(Array.from({ length: 10 }, () => fetch(`${server.url}/missing`)))
      expect(rs.every((r) => r.status === 404)).toBe(true)
      expect(runs).toBe(1)
      await (await fetch(`${server.url}/missing`)).text()
      expect(runs).toBe(2)
    } finally {
      await server.close()
    }
  })

  it('handler errors reach Express\u2019s error handler, and every waiting request gets the error response', async () => {
    const app = express()
    let arrived = 0
    let runs = 0
    let errorHandlerRuns = 0
    const allIn = gate()
    app.use((_req, _res, next) => {
      if (++arrived === 10) allIn.open()
      next()
    })
    app.get('/boom', coalesce({ ttl: 60_000 }), (_req, _res, next) => {
      runs++
      allIn.promise.then(() => next(new Error('upstream exploded')))
    })
    app.use((err: Error, _req: unknown, res: { status(n: number): { json(b: unknown): void } }, _next: unknown) => {
      errorHandlerRuns++
      res.status(500).json({ error: err.message })
    })
    const server = await listen(app)
    try {
      const rs = await Promise.all(Array.from({ length: 10 }, () => fetch(`${server.url}/boom`)))
      for (const r of rs) {
        expect(r.status).toBe(500)
        expect(await r.json()).toEqual({ error: 'upstream exploded' })
      }
      expect(runs).toBe(1)
      expect(errorHandlerRuns).toBe(1)
      await (await fetch(`${server.url}/boom`)).text() // errors are not cached
      expect(runs).toBe(2)
    } finally {
      await server.close()
    }
  })

  /** A coalesced route whose handler waits until the test opens `release`; counts arrivals and runs. */
  async function heldRoute(path: string, body: string) {
    const app = express()
    const state = { arrived: 0, runs: 0 }
    const release = gate()
    app.use((_req, _res, next) => {
      state.arrived++
      next()
    })
    app.get(path, coalesce(), async (_req, res) => {
      state.runs++
      await release.promise
      res.send(body)
    })
    return { state, release, server: await listen(app) }
  }

  it('a follower whose client disconnects leaves without affecting the others', async () => {
    const { state, release, server } = await heldRoute('/slow', 'done')
    try {
      const quitter = new AbortController()
      const leader = fetch(`${server.url}/slow`)
      await until(() => state.arrived === 1, 'leader')
      const gone = fetch(`${server.url}/slow`, { signal: quitter.signal }).catch((e: Error) => e.name)
      const stay = fetch(`${server.url}/slow`)
      await until(() => state.arrived === 3, 'followers')
      await macrotask()
      quitter.abort()
      expect(await gone).toBe('AbortError')
      release.open()
      expect(await (await leader).text()).toBe('done')
      expect(await (await stay).text()).toBe('done')
      expect(state.runs).toBe(1)
    } finally {
      await server.close()
    }
  })

  it('a leader whose client disconnects still completes the work for the followers', async () => {
    const { state, release, server } = await heldRoute('/work', 'finished work')
    try {
      const quitter = new AbortController()
      const leader = fetch(`${server.url}/work`, { signal: quitter.signal }).catch((e: Error) => e.name)
      await until(() => state.runs === 1, 'leader in handler')
      const followers = Array.from({ length: 5 }, () => fetch(`${server.url}/work`))
      await until(() => state.arrived === 6, 'followers')
      await macrotask()
      quitter.abort()
      expect(await leader).toBe('AbortError')
      await macrotask()
      release.open()
      for (const f of followers) expect(await (await f).text()).toBe('finished work')
      expect(state.runs).toBe(1)
    } finally {
      await server.close()
    }
  })

  it('honours Vary: requests that differ in a varied header get their own variant', async () => {
    const app = express()
    let arrived = 0
    const allIn = gate()
    app.use((_req, _res, next) => {
      if (++arrived === 40) allIn.open()
      next()
    })
    let vruns = 0
    app.get('/v', coalesce({ ttl: 60_000 }), async (req, res) => {
      vruns++
      await allIn.promise
      res.vary('accept-language').send(`hello in ${req.headers['accept-language']}`)
    })
    const server = await listen(app)
    try {
      const langs = Array.from({ length: 40 }, (_, i) => (i % 2 ? 'fr' : 'de'))
      const bodies = await Promise.all(langs.map((l) => fetch(`${server.url}/v`, { headers: { 'accept-language': l } }).then((r) => r.text())))
      for (const [i, b] of bodies.entries()) expect(b).toBe(`hello in ${langs[i]}`)
      expect(vruns).toBeLessThanOrEqual(3) // the first leader, then one per other variant
      // later requests are cached per variant
      const fr = await fetch(`${server.url}/v`, { headers: { 'accept-language': 'fr' } })
      expect(await fr.text()).toBe('hello in fr')
      expect(fr.headers.get('x-coalesce')).toBe('hit')
    } finally {
      await server.close()
    }
  })

  it('only GET and HEAD are coalesced by default; bad options throw typed errors', async () => {
    expect(() => coalesce({ credentials: 'share' as never })).toThrow(/partition/)
    expect(() => coalesce({ key: 'url' as never })).toThrow(/key must be a function/)
    const app = express()
    let runs = 0
    app.post('/p', coalesce(), (_req, res) => {
      runs++
      res.send('ok')
    })
    const server = await listen(app)
    try {
      await Promise.all(Array.from({ length: 5 }, () => fetch(`${server.url}/p`, { method: 'POST' }).then((r) => r.text())))
      expect(runs).toBe(5)
    } finally {
      await server.close()
    }
  })
})
