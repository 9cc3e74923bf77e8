import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * The slow origin every stampede article is about: an HTTP server on 127.0.0.1 that answers
 * `GET /products/:id` after `latencyMs` (or `?ms=`) and counts its calls (`GET /calls`,
 * `GET /callers` — the `x-caller` header of each, `POST /reset`).
 *
 * `POST /reset?holdUntilCalls=N` also withholds every answer until N calls have arrived: a
 * test of the naive path then proves "more than one call" by an event (the N-th call), not by
 * hoping the machine is fast enough for the requests to overlap. A path that coalesces would
 * never get there, and the test would fail rather than pass by luck.
 */
export async function startUpstream(latencyMs = 100): Promise<{ url: string; server: Server; calls: () => number; callers: () => string[] }> {
  let calls = 0
  let callers: string[] = []
  let holdUntil = 0
  const held: (() => void)[] = []
  // [start, end] of every call, in epoch ms (performance.timeOrigin-based, so a load generator
  // in another process can place them on its own clock) — the charts of the run's record.
  let timeline: Array<[number, number]> = []
  const now = (): number => performance.timeOrigin + performance.now()
  const server = createServer((req, res) => {
    if (req.url === '/calls') return void res.end(String(calls))
    if (req.url === '/callers') return void res.end(JSON.stringify(callers))
    if (req.url === '/timeline') return void res.end(JSON.stringify(timeline))
    if (req.url?.startsWith('/reset') && req.method === 'POST') {
      calls = 0
      callers = []
      timeline = []
      holdUntil = Number(new URL(req.url, 'http://x').searchParams.get('holdUntilCalls') ?? 0)
      for (const release of held.splice(0)) release()
      return void res.end('0')
    }
    const match = /^\/products\/([^/?]+)/.exec(req.url ?? '')
    if (!match) {
      res.statusCode = 404
      return void res.end()
    }
    calls++
    callers.push(String(req.headers['x-caller'] ?? 'unknown'))
    const call: [number, number] = [now(), Number.NaN]
    timeline.push(call)
    res.once('finish', () => (call[1] = now()))
    const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? latencyMs)
    const answer = (): void => {
      setTimeout(() => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ id: match[1], name: `Product ${match[1]}`, price: 42, servedBy: 'upstream' }))
      }, delay)
    }
    // Held until the N-th call arrives (see holdUntilCalls above); then everyone is answered.
    if (calls < holdUntil) return void held.push(answer)
    answer()
    if (held.length) for (const release of held.splice(0)) release()
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, server, calls: () => calls, callers: () => callers }
}
