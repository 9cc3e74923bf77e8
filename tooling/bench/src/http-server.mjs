// Child process for the HTTP bench: the same JSON body from a plain route and from a
// coalesced/cached route. Prints its URL, then serves until killed.
import { coalesce } from '@yieldpoint/express'
import express from 'express'
import { createServer } from 'node:http'

const body = { id: 'p-1', name: 'A product with a reasonably sized description', price: 4200, tags: ['a', 'b', 'c'], stock: 17 }
const app = express()
app.get('/plain', (_req, res) => res.json(body))
app.get('/cached', coalesce({ ttl: 3_600_000 }), (_req, res) => res.json(body))
// The cold burst (issue 12): an upstream that takes UPSTREAM_MS, behind coalesce(); every round
// uses a new path, so each burst starts cold. /burst-stats reports calls and the upstream's own time.
const UPSTREAM_MS = 50
const stats = { calls: 0, upstreamMs: [] }
const upstream = async () => {
  stats.calls++
  const start = performance.now()
  await new Promise((r) => setTimeout(r, UPSTREAM_MS))
  stats.upstreamMs.push(performance.now() - start)
  return body
}
app.get('/burst/:round', coalesce({ ttl: 60_000 }), async (_req, res) => res.json(await upstream()))
app.get('/burst-stats', (_req, res) => {
  res.json(stats)
  stats.calls = 0
  stats.upstreamMs = []
})
// backlog 2048: the cold burst opens 1,000 connections at once; with the default 511 the kernel
// drops SYNs and the client retries after 1 s, 3 s, … — TCP's latency, not the server's.
const server = createServer(app).listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, () => console.log(`http://127.0.0.1:${server.address().port}`))
server.keepAliveTimeout = 60_000
