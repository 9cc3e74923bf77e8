import compression from 'compression'
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError, TimeoutError, YieldpointError } from '@yieldpoint/core'
import { ClientClosedError, coalesce, concurrencyLimit, requestSignal, serialize } from '../src'
import { expressVersions, gate, listen, macrotask, request, until } from './helpers'

describe.each(expressVersions)('serialize() and concurrencyLimit() on %s', (_name, express) => {
  it('serialize: the lost update is gone per key, and different keys run in parallel', async () => {
    const app = express()
    const balances = new Map<string, number>()
    const inside = new Map<string, number>()
    let maxPerKey = 0
    let maxOverall = 0
    let overall = 0
    const mw = serialize({ key: (req) => String(req.params.id) })
    app.post('/accounts/:id/deposit', mw, async (req, res) => {
      const id = String(req.params.id)
      inside.set(id, (inside.get(id) ?? 0) + 1)
      overall++
      maxPerKey = Math.max(maxPerKey, inside.get(id)!)
      maxOverall = Math.max(maxOverall, overall)
      const balance = balances.get(id) ?? 0 // read
      await macrotask() // await
      balances.set(id, balance + 1) // write
      inside.set(id, inside.get(id)! - 1)
      overall--
      res.json({ balance: balance + 1 })
    })
    const server = await listen(app)
    try {
      await Promise.all(Array.from({ length: 100 }, (_, i) => fetch(`${server.url}/accounts/${i % 4}/deposit`, { method: 'POST' }).then((r) => r.text())))
      expect([...balances.values()]).toEqual([25, 25, 25, 25])
      expect(maxPerKey).toBe(1)
      expect(maxOverall).toBeGreaterThanOrEqual(1)
      expect(mw.lock.size).toBe(0)
    } finally {
      await server.close()
    }
  })

  it('serialize: two different keys are held at the same time', async () => {
    const app = express()
    const bothIn = gate()
    let inside = 0
    app.get('/k/:id', serialize({ key: (req) => String(req.params.id) }), async (_req, res) => {
      if (++inside === 2) bothIn.open()
      await bothIn.promise // would never open if different keys were serialized
      res.send('ok')
    })
    const server = await listen(app)
    try {
      const rs = await Promise.all([fetch(`${server.url}/k/a`), fetch(`${server.url}/k/b`)])
      expect(rs.map((r) => r.status)).toEqual([200, 200])
    } finally {
      await server.close()
    }
  })

  it('serialize: a client that disconnects while waiting leaves; one that disconnects while holding keeps the lock until its handler is done', async () => {
    const app = express()
    const release = gate()
    let entered = 0
    let closed = 0
    let arrived = 0
    const mw = serialize({ key: () => 'one' })
    app.use((_req, res, next) => {
      arrived++
      res.on('close', () => closed++)
      next()
    })
    app.get('/hold', mw, async (_req, res) => {
      entered++
      await release.promise
      res.send('ok')
    })
    const server = await listen(app)
    try {
      const holder = new AbortController()
      const waiter = new AbortController()
      const h = fetch(`${server.url}/hold`, { signal: holder.signal }).catch(() => 'aborted')
      await until(() => entered === 1, 'holder inside')
      const w = fetch(`${server.url}/hold`, { signal: waiter.signal }).catch(() => 'aborted')
      await until(() => arrived === 2, 'waiter queued')
      await macrotask()
      waiter.abort()
      holder.abort()
      expect(await w).toBe('aborted')
      expect(await h).toBe('aborted')
      await until(() => closed === 2, 'server saw both clients leave')
      // The holder's handler still runs: the lock stays held (no second writer may enter).
      expect(mw.lock.locked('one')).toBe(true)
      expect(entered).toBe(1)
      release.open()
      await until(() => mw.lock.locked('one') === false, 'lock released when the handler ended')
      const after = await fetch(`${server.url}/hold`)
      expect(await after.text()).toBe('ok')
      expect(entered).toBe(2) // the aborted waiter never ran
      await until(() => mw.lock.size === 0, 'no entry left')
    } finally {
      await server.close()
    }
  })

  it('serialize: a withdrawal whose client gives up still excludes the next one (100 - 10 - 10 = 80)', async () => {
    const app = express()
    let balance = 100
    const proceed = gate()
    let closed = 0
    let arrived = 0
    app.use((_req, res, next) => {
      arrived++
      res.on('close', () => closed++)
      next()
    })
    app.post('/withdraw', serialize({ key: () => 'acct' }), async (_req, res) => {
      const read = balance
      await proceed.promise
      await macrotask()
      balance = read - 10
      res.send(String(balance))
    })
    const server = await listen(app)
    try {
      const quitter = new AbortController()
      const first = fetch(`${server.url}/withdraw`, { method: 'POST', signal: quitter.signal }).catch(() => 'aborted')
      await until(() => arrived === 1, 'first inside')
      const second = fetch(`${server.url}/withdraw`, { method: 'POST' })
      await until(() => arrived === 2, 'second waits for the lock')
      await macrotask()
      quitter.abort() // the first client gives up while its withdrawal is mid-way
      expect(await first).toBe('aborted')
      await until(() => closed === 1, 'server saw the first client leave')
      await macrotask()
      proceed.open()
      expect(await (await second).text()).toBe('80')
      expect(balance).toBe(80)
    } finally {
      await server.close()
    }
  })

  it('concurrencyLimit: clients that give up do not free their permit while the handler runs', async () => {
    const app = express()
    const release = gate()
    let inside = 0
    let max = 0
    let closed = 0
    const limit = concurrencyLimit({ permits: 2 })
    app.use((_req, res, next) => {
      res.on('close', () => closed++)
      next()
    })
    app.get('/work', limit, async (_req, res) => {
      max = Math.max(max, ++inside)
      await release.promise
      inside--
      res.send('done')
    })
    const server = await listen(app)
    try {
      const quitters = [new AbortController(), new AbortController()]
      const gone = quitters.map((c) => fetch(`${server.url}/work`, { signal: c.signal }).catch(() => 'aborted'))
      await until(() => inside === 2, 'two inside')
      for (const c of quitters) c.abort()
      await Promise.all(gone)
      await until(() => closed === 2, 'server saw both leave')
      const later = Array.from({ length: 4 }, () => fetch(`${server.url}/work`))
      await until(() => limit.semaphore.statistics().waiting === 4, 'the later requests wait for a permit')
      expect(inside).toBe(2)
      release.open()
      const statuses = await Promise.all(later.map(async (r) => (await r).status))
      expect(statuses).toEqual([200, 200, 200, 200])
      expect(max).toBe(2)
      await until(() => limit.semaphore.value === 2, 'every permit back')
    } finally {
      await server.close()
    }
  })

  it.each([
    ['concurrencyLimit', () => concurrencyLimit({ permits: 1 })],
    ['serialize', () => serialize({ key: () => 'report' })],
  ] as const)('%s mounted before compression(): a handler that ends its response after the client left gives the hold back', async (_api, make) => {
    // compression() wraps res.end after the limiter: the handler's end goes into gzip, which can
    // never flush to a socket that is gone, so the layer below never sees the end.
    const app = express()
    const limit = make()
    const heldAfterEnd: boolean[] = []
    const backedUp = gate()
    app.use(limit)
    app.use(compression({ threshold: 0 }))
    app.get('/report', (_req, res) => {
      res.type('text')
      const chunk = 'x'.repeat(64 * 1024)
      const fill = (): void => {
        // The client never reads: write until the socket pushes back, then let it hang up.
        while (res.write(`${chunk}${Math.random()}`));
        backedUp.open()
      }
      res.once('close', () => {
        res.end('the end') // the handler is done
        heldAfterEnd.push('semaphore' in limit ? limit.semaphore.locked() : limit.lock.locked('report'))
      })
      fill()
    })
    app.get('/next', (_req, res) => res.send('next')) // behind the same limit (app.use)
    const server = await listen(app)
    try {
      const quitter = new AbortController()
      const gone = request(`${server.url}/report`, { signal: quitter.signal, headers: { 'accept-encoding': 'gzip' } }).catch(() => 'gone')
      await backedUp.promise
      quitter.abort()
      expect(await gone).toBe('gone')
      await until(() => heldAfterEnd.length === 1, 'the handler ended its response')
      expect(heldAfterEnd).toEqual([false])
      expect((await request(`${server.url}/next`)).body.toString()).toBe('next')
    } finally {
      await server.close()
    }
  })

  it.each([
    ['a coalesce() follower', 'coalesce'],
    ['a serialize() waiter', 'serialize'],
  ] as const)('concurrencyLimit() in front of %s whose client leaves: the permit comes back', async (_title, inner) => {
    // The inner middleware stops waiting for a client that left and answers nothing; the response
    // must still end (be destroyed), or the permit taken in front of it is never given back.
    const app = express()
    const limit = concurrencyLimit({ permits: 2 })
    const release = gate()
    let runs = 0
    let closed = 0
    app.use((_req, res, next) => {
      res.on('close', () => closed++)
      next()
    })
    const middle = inner === 'coalesce' ? coalesce() : serialize({ key: () => 'one' })
    app.get('/x', limit, middle, async (_req, res) => {
      runs++
      await release.promise
      res.send('done')
    })
    const server = await listen(app)
    try {
      const first = request(`${server.url}/x`)
      await until(() => runs === 1, 'the first request runs')
      const quitter = new AbortController()
      const second = request(`${server.url}/x`, { signal: quitter.signal }).catch(() => 'gone')
      await until(() => limit.semaphore.value === 0, 'the second request holds a permit and waits inside')
      quitter.abort()
      expect(await second).toBe('gone')
      await until(() => closed === 1, 'the server saw it leave')
      await until(() => limit.semaphore.value === 1, 'its permit back')
      release.open()
      expect((await first).body.toString()).toBe('done')
      await until(() => limit.semaphore.value === 2, 'every permit back')
      expect(runs).toBe(1)
    } finally {
      await server.close()
    }
  })

  it.each([
    ['serialize', () => serialize({ key: () => 'one' })],
    ['concurrencyLimit', () => concurrencyLimit({ permits: 1 })],
  ] as const)('%s: a handler that fails mid-body (next(err) after the headers) gives the hold back', async (_api, make) => {
    // Express's final handler cannot send an error page once the body began: it destroys the
    // connection. The handler is done; the next request must get in.
    const app = express()
    const hold = make()
    let runs = 0
    app.get('/x', hold, (_req, res, next) => {
      if (++runs > 1) return void res.send('second')
      res.write('partial')
      next(new Error('upstream died mid-body'))
    })
    const server = await listen(app)
    try {
      expect(
        await request(`${server.url}/x`).then(
          () => 'complete',
          () => 'broken',
        ),
      ).toBe('broken')
      expect((await request(`${server.url}/x`)).body.toString()).toBe('second')
    } finally {
      await server.close()
    }
  })

  it('serialize: a timeout answers 503 with Retry-After', async () => {
    const app = express()
    const release = gate()
    const seen: unknown[] = []
    app.get('/t', serialize({ key: () => 'k', timeout: 30, retryAfter: 3 }), async (_req, res) => {
      await release.promise
      res.send('ok')
    })
    app.use((err: unknown, _req: unknown, _res: unknown, next: (e: unknown) => void) => {
      seen.push(err)
      next(err) // Express's own handler answers with err.status
    })
    const server = await listen(app)
    try {
      const first = fetch(`${server.url}/t`)
      const second = await fetch(`${server.url}/t`)
      expect(second.status).toBe(503)
      expect(second.headers.get('retry-after')).toBe('3')
      expect(seen).toHaveLength(1)
      expect(seen[0]).toBeInstanceOf(TimeoutError)
      expect(seen[0]).toMatchObject({ status: 503, statusCode: 503, code: 'ERR_YP_TIMEOUT' })
      release.open()
      expect((await first).status).toBe(200)
    } finally {
      await server.close()
    }
  })

  it('concurrencyLimit: never more than max inside; past the queue 503 at once; past the timeout 503', async () => {
    const app = express()
    const release = gate()
    let inside = 0
    let max = 0
    const limit = concurrencyLimit({ permits: 2, queue: 3, timeout: 10_000 })
    app.use('/report', limit)
    app.get('/report', async (_req, res) => {
      inside++
      max = Math.max(max, inside)
      await release.promise
      inside--
      res.send('report')
    })
    const server = await listen(app)
    try {
      const running = Array.from({ length: 5 }, () => fetch(`${server.url}/report`))
      await until(() => inside === 2 && limit.semaphore.statistics().waiting === 3, '2 inside, 3 queued')
      const rejected = await fetch(`${server.url}/report`)
      expect(rejected.status).toBe(503)
      expect(rejected.headers.get('retry-after')).toBe('1')
      release.open()
      const statuses = await Promise.all(running.map(async (r) => (await r).status))
      expect(statuses).toEqual([200, 200, 200, 200, 200])
      expect(max).toBe(2)
      expect(limit.semaphore.value).toBe(2)

      const app2 = express()
      const hold = gate()
      app2.use(concurrencyLimit({ permits: 1, timeout: 20 }))
      app2.get('/', async (_req, res) => {
        await hold.promise
        res.send('x')
      })
      const s2 = await listen(app2)
      const busy = fetch(`${s2.url}/`)
      const late = await fetch(`${s2.url}/`)
      expect(late.status).toBe(503)
      hold.open()
      expect((await busy).status).toBe(200)
      await s2.close()
    } finally {
      await server.close()
    }
  })

  it('bad options throw typed errors', () => {
    expect(() => serialize({ key: () => 'k', timeout: -1 })).toThrow(InvalidArgumentError)
    expect(() => serialize({ key: () => 'k', retryAfter: 1.5 })).toThrow(InvalidArgumentError)
    expect(() => serialize({ key: () => 'k', lock: {} as never })).toThrow(InvalidArgumentError)
    expect(() => concurrencyLimit({ permits: 1, timeout: Number.NaN })).toThrow(InvalidArgumentError)
    expect(() => concurrencyLimit({ max: 2 } as never)).toThrow(InvalidArgumentError)
    expect(() => serialize({} as never)).toThrow(/key must be a function/)
    expect(() => concurrencyLimit({ permits: 0 })).toThrow(/permits must be an integer >= 1/)
    expect(() => concurrencyLimit({ permits: 2, queue: -1 })).toThrow(/queue must be a number >= 0/)
  })
})

describe.each(expressVersions)('requestSignal() on %s', (_name, express) => {
  it('aborts with a ClientClosedError (a YieldpointError with a code) when the client leaves', async () => {
    const app = express()
    const reasons: unknown[] = []
    const entered = gate()
    const aborted = gate()
    app.get('/wait', (req, res) => {
      const signal = requestSignal(req, res)
      signal.addEventListener('abort', () => {
        reasons.push(signal.reason)
        aborted.open()
      })
      entered.open()
    })
    const server = await listen(app)
    try {
      const quitter = new AbortController()
      const gone = fetch(`${server.url}/wait`, { signal: quitter.signal }).catch(() => 'aborted')
      await entered.promise
      quitter.abort()
      expect(await gone).toBe('aborted')
      await aborted.promise
      expect(reasons[0]).toBeInstanceOf(ClientClosedError)
      expect(reasons[0]).toBeInstanceOf(YieldpointError)
      expect(reasons[0]).toMatchObject({ code: 'ERR_YP_CLIENT_CLOSED' })
    } finally {
      await server.close()
    }
  })
})
