import { PassThrough, pipeline, Readable } from 'node:stream'
import { SingleFlightCache } from '@yieldpoint/core'
import { describe, expect, it } from 'vitest'
import { ByteBudgetStore, coalesce, type CapturedResponse } from '../src'
import { expressVersions, gate, listen, macrotask, request, until } from './helpers'

// Followers wait "forever" for the leader: only the fix can release them before the test's own timeout.
const FOREVER = 3_600_000

describe.each(expressVersions)('coalesce(): the leader\u2019s response and the cache, on %s', (_name, express) => {
  /**
   * A cache with `ttl` 100 and `staleIfError` 60 s on an injected clock at 0; `expire()` moves the
   * clock to 200: past ttl, inside staleIfError (the rule RFC 5861 tests need).
   */
  function staleIfErrorCache() {
    let clock = 0
    const cache = new SingleFlightCache<string, CapturedResponse>({
      ttl: 100,
      staleIfError: 60_000,
      now: () => clock,
      store: new ByteBudgetStore({ max: 10, maxBytes: 1e6 }),
    })
    const expire = (): void => {
      clock = 200
    }
    return { cache, expire }
  }

  /**
   * A route whose first run breaks its response with `breakIt` once 5 followers wait; later runs
   * answer normally. Followers must be released at once and coalesce again (one more run).
   */
  async function brokenLeader(breakIt: (res: import('express').Response, next: import('express').NextFunction) => void) {
    const app = express()
    const state = { arrived: 0, runs: 0 }
    const followersIn = gate()
    app.use((_req, _res, next) => {
      if (++state.arrived === 6) followersIn.open()
      next()
    })
    const mw = coalesce({ followerTimeout: FOREVER })
    app.get('/x', mw, async (_req, res, next) => {
      const run = ++state.runs
      if (run > 1) return void res.send(`answer of run ${run}`)
      await followersIn.promise
      await macrotask()
      breakIt(res, next)
    })
    const server = await listen(app)
    try {
      const leader = request(`${server.url}/x`).then(
        (r) => `got ${r.status}`,
        () => 'broken',
      )
      await until(() => state.runs === 1, 'leader running')
      const followers = Array.from({ length: 5 }, () => request(`${server.url}/x`))
      expect(await leader).toBe('broken')
      const rs = await Promise.all(followers)
      expect(rs.map((r) => r.body.toString())).toEqual(Array(5).fill('answer of run 2'))
      expect(rs.filter((r) => r.headers['x-coalesce'] === 'leader')).toHaveLength(1)
      expect(state.runs).toBe(2) // one new leader, not a stampede
      expect(mw.cache.statistics().inFlight).toBe(0) // the key is free
    } finally {
      await server.close()
    }
  }

  it('3. res.destroy() by the leader releases its followers at once', async () => {
    await brokenLeader((res) => {
      res.write('partial')
      res.destroy()
    })
  })

  it('3. an error after the headers were sent (next(err) mid-body) releases its followers at once', async () => {
    await brokenLeader((res, next) => {
      res.write('partial')
      next(new Error('upstream died mid-body'))
    })
  })

  it('3. a body piped to a client that disconnected releases its followers at once', async () => {
    const app = express()
    const state = { arrived: 0, runs: 0 }
    const followersIn = gate()
    const firstSent = gate()
    app.use((_req, _res, next) => {
      if (++state.arrived === 6) followersIn.open()
      next()
    })
    const mw = coalesce({ followerTimeout: FOREVER })
    app.get('/stream', mw, (_req, res) => {
      const run = ++state.runs
      const source = new PassThrough()
      pipeline(source, res, () => {})
      if (run > 1) return void source.end('whole stream')
      source.write('first chunk ') // and never ends: only the client's leaving ends this one
      firstSent.open()
    })
    const server = await listen(app)
    try {
      const quitter = new AbortController()
      const leader = request(`${server.url}/stream`, { signal: quitter.signal }).catch(() => 'gone')
      await firstSent.promise
      const followers = Array.from({ length: 5 }, () => request(`${server.url}/stream`))
      await followersIn.promise
      await macrotask()
      quitter.abort()
      expect(await leader).toBe('gone')
      const rs = await Promise.all(followers)
      expect(rs.map((r) => r.body.toString())).toEqual(Array(5).fill('whole stream'))
      expect(state.runs).toBe(2)
      expect(mw.cache.statistics().inFlight).toBe(0)
    } finally {
      await server.close()
    }
  })

  it('3. a leader whose client left before the headers, then pipes its body, still answers its followers (no stuck key)', async () => {
    const app = express()
    const state = { arrived: 0, runs: 0 }
    const followersIn = gate()
    const leaderGone = gate()
    app.use((_req, res, next) => {
      if (++state.arrived === 1) res.once('close', leaderGone.open)
      if (state.arrived === 4) followersIn.open()
      next()
    })
    const mw = coalesce({ followerTimeout: FOREVER })
    const body = Buffer.alloc(256 * 1024, 'y')
    app.get('/piped', mw, async (_req, res) => {
      state.runs++
      await leaderGone.promise // the client hung up while the handler was still working
      const source = new PassThrough()
      source.pipe(res) // a socket that is gone never drains: pipe() must not wait for it
      source.write(body.subarray(0, 128 * 1024))
      source.end(body.subarray(128 * 1024))
    })
    const server = await listen(app)
    try {
      const quitter = new AbortController()
      const leader = request(`${server.url}/piped`, { signal: quitter.signal }).catch(() => 'gone')
      await until(() => state.runs === 1, 'leader running')
      const followers = Array.from({ length: 3 }, () => request(`${server.url}/piped`))
      await followersIn.promise
      await until(() => mw.cache.statistics().coalesced === 3, 'followers waiting')
      quitter.abort()
      expect(await leader).toBe('gone')
      const rs = await Promise.all(followers)
      expect(rs.every((r) => r.status === 200 && r.body.equals(body))).toBe(true)
      expect(rs.map((r) => r.headers['x-coalesce'])).toEqual(['coalesced', 'coalesced', 'coalesced'])
      expect(state.runs).toBe(1)
      expect(mw.cache.statistics().inFlight).toBe(0)
    } finally {
      await server.close()
    }
  })

  it(
    '3. a leader whose client left before the headers, then pipeline()s its ' + 'body and fails with next(err), does not hand its 500 to the followers',
    async () => {
      const app = express()
      const state = { arrived: 0, runs: 0 }
      const followersIn = gate()
      const leaderGone = gate()
      app.use((_req, res, next) => {
        if (++state.arrived === 1) res.once('close', leaderGone.open)
        if (state.arrived === 4) followersIn.open()
        next()
      })
      const mw = coalesce({ followerTimeout: FOREVER })
      app.get('/piped', mw, async (_req, res, next) => {
        const run = ++state.runs
        if (run === 1) await leaderGone.promise // the client hung up while the handler was still working
        // pipeline() into a response whose socket is gone fails at once (premature close).
        pipeline(Readable.from([`body of run ${run}`]), res, (error) => error && next(error))
      })
      app.use((_error: Error, _req: import('express').Request, res: import('express').Response, _next: import('express').NextFunction) => {
        res.status(500).send('stream failed')
      })
      const server = await listen(app)
      try {
        const quitter = new AbortController()
        const leader = request(`${server.url}/piped`, { signal: quitter.signal }).catch(() => 'gone')
        await until(() => state.runs === 1, 'leader running')
        const followers = Array.from({ length: 3 }, () => request(`${server.url}/piped`))
        await followersIn.promise
        await until(() => mw.cache.statistics().coalesced === 3, 'followers waiting')
        quitter.abort()
        expect(await leader).toBe('gone')
        const rs = await Promise.all(followers)
        expect(rs.map((r) => `${r.status} ${r.body.toString()}`)).toEqual(Array(3).fill('200 body of run 2'))
        expect(state.runs).toBe(2) // one new leader among the followers
        expect(mw.cache.statistics().inFlight).toBe(0)
      } finally {
        await server.close()
      }
    },
  )

  it('3. a handler that never finishes is bounded by the load deadline (loadTimeout), not by any client', async () => {
    const app = express()
    const state = { arrived: 0, runs: 0 }
    const followersIn = gate()
    const never = gate()
    app.use((_req, _res, next) => {
      if (++state.arrived === 4) followersIn.open()
      next()
    })
    const mw = coalesce({ loadTimeout: 50, followerTimeout: FOREVER })
    app.get('/hang', mw, async (_req, res) => {
      const run = ++state.runs
      if (run === 1) await never.promise // the first run hangs until the test ends
      res.send(`run ${run}`)
    })
    const server = await listen(app)
    try {
      const hung = new AbortController()
      const leader = request(`${server.url}/hang`, { signal: hung.signal }).catch(() => 'gone')
      await until(() => state.runs === 1, 'leader running')
      const followers = Array.from({ length: 3 }, () => request(`${server.url}/hang`))
      await followersIn.promise
      // Released by the deadline. Followers that joined the hung run before it passed each run
      // the handler themselves ('bypass'); on a busy machine the 50 ms deadline may pass before
      // some arrive, and those coalesce on a fresh run instead. Either way every one is answered
      // by a run that finished — without loadTimeout they would all wait forever.
      const rs = await Promise.all(followers)
      for (const r of rs) expect(['bypass', 'leader', 'coalesced']).toContain(r.headers['x-coalesce'])
      expect(rs.every((r) => r.status === 200 && /^run [2-9]/.test(r.body.toString()))).toBe(true)
      expect(state.runs).toBeGreaterThan(1)
      expect(mw.cache.statistics().inFlight).toBe(0)
      hung.abort()
      expect(await leader).toBe('gone')
      never.open()
    } finally {
      await server.close()
    }
  })

  it('6. staleIfError protects the request that leads the refresh too (RFC 5861)', async () => {
    const { cache, expire } = staleIfErrorCache()
    const app = express()
    let failing = false
    let runs = 0
    app.get('/price', coalesce({ cache }), (_req, res) => {
      runs++
      if (failing) return void res.status(503).send('upstream down')
      res.set('x-from', 'handler').send('42')
    })
    const server = await listen(app)
    try {
      expect((await request(`${server.url}/price`)).body.toString()).toBe('42')
      expire() // past ttl, inside staleIfError
      failing = true
      for (let i = 0; i < 3; i++) {
        const r = await request(`${server.url}/price`)
        expect(r.status).toBe(200)
        expect(r.body.toString()).toBe('42')
        expect(r.headers['x-coalesce']).toBe('stale')
        expect(r.headers['x-from']).toBe('handler')
      }
      expect(runs).toBe(4) // each request after ttl tried to refresh
      failing = false
      const fresh = await request(`${server.url}/price`)
      expect(fresh.headers['x-coalesce']).toBe('leader')
      expect(fresh.body.toString()).toBe('42')
    } finally {
      await server.close()
    }
  })

  it('6. a refresh that writes part of its body and then fails (next(err)) is neither cached nor shared as a 200', async () => {
    const { cache, expire } = staleIfErrorCache()
    const app = express()
    let failing = false
    app.get('/feed', coalesce({ cache }), (_req, res, next) => {
      res.type('text')
      res.write('items: 1, 2, ')
      if (failing) return next(new Error('upstream died mid-body'))
      res.end('3')
    })
    app.use((_error: Error, _req: import('express').Request, res: import('express').Response, _next: import('express').NextFunction) => {
      if (res.headersSent) return void res.destroy()
      res.status(500).send('error page')
    })
    const server = await listen(app)
    try {
      expect((await request(`${server.url}/feed`)).body.toString()).toBe('items: 1, 2, 3')
      expire() // past ttl, inside staleIfError: the next request leads a refresh, its response held back
      failing = true
      const refresh = await request(`${server.url}/feed`).then(
        (r) => `${r.status} ${r.body.toString()}`,
        () => 'broken',
      )
      expect(['200 items: 1, 2, 3', '500 error page']).toContain(refresh) // the stale copy, or its own coherent error
      failing = false
      const after = await request(`${server.url}/feed`)
      expect(after.body.toString()).toBe('items: 1, 2, 3') // never the glued half body + error page
    } finally {
      await server.close()
    }
  })

  it('7. the byte budget counts the keys too: long URLs with tiny bodies cannot hold more than maxBytes', async () => {
    const maxBytes = 256 * 1024
    const store = new ByteBudgetStore({ max: 1_000, maxBytes })
    const app = express()
    app.get('/tiny', coalesce({ ttl: 60_000, store }), (_req, res) => res.send('ok'))
    const server = await listen(app)
    try {
      const pad = 'a'.repeat(12 * 1024) // a URL near Node's 16 KiB header limit; the key holds it
      for (let n = 0; n < 40; n++) await request(`${server.url}/tiny?${n}=${pad}`)
      // 40 keys of 12 KiB are 480 KiB: they must not all be kept under a 256 KiB budget.
      expect(store.size * pad.length).toBeLessThanOrEqual(maxBytes)
      expect(store.bytes).toBeLessThanOrEqual(maxBytes)
    } finally {
      await server.close()
    }
  })

  it('7. memory is bounded by bytes; ttl 0 keeps nothing; a body over maxBodySize is neither shared nor kept', async () => {
    const store = new ByteBudgetStore({ max: 1_000, maxBytes: 1024 * 1024 })
    const zeroStore = new ByteBudgetStore({ max: 1_000, maxBytes: 64 * 1024 * 1024 })
    const app = express()
    const big = Buffer.alloc(100 * 1024, 7)
    app.get('/kept/:n', coalesce({ ttl: 60_000, store }), (_req, res) => res.type('bin').send(big))
    app.get('/zero/:n', coalesce({ ttl: 0, store: zeroStore }), (_req, res) => res.type('bin').send(big))
    let hugeRuns = 0
    const hugeStore = new ByteBudgetStore({ max: 1_000, maxBytes: 64 * 1024 * 1024 })
    app.get('/huge', coalesce({ ttl: 60_000, maxBodySize: 50 * 1024, store: hugeStore }), (_req, res) => {
      hugeRuns++
      res.type('bin').send(big)
    })
    const server = await listen(app)
    try {
      for (let n = 0; n < 40; n++) await request(`${server.url}/kept/${n}`)
      expect(store.bytes).toBeLessThanOrEqual(1024 * 1024)
      expect(store.size).toBeGreaterThan(0)
      expect(store.size).toBeLessThan(40)
      for (let n = 0; n < 40; n++) await request(`${server.url}/zero/${n}`)
      expect(zeroStore.size).toBe(0)
      const a = await request(`${server.url}/huge`)
      const b = await request(`${server.url}/huge`)
      expect(a.body.equals(big) && b.body.equals(big)).toBe(true)
      expect(hugeRuns).toBe(2)
      expect(hugeStore.size).toBe(0)
    } finally {
      await server.close()
    }
  })
})
