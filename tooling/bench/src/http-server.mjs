// Child process for the HTTP bench: the same JSON body from a plain route and from a
// coalesced/cached route. Prints its URL, then serves until killed.
import { coalesce } from '@yieldpoint/express'
import express from 'express'

const body = { id: 'p-1', name: 'A product with a reasonably sized description', price: 4200, tags: ['a', 'b', 'c'], stock: 17 }
const app = express()
app.get('/plain', (_req, res) => res.json(body))
app.get('/cached', coalesce({ ttl: 3_600_000 }), (_req, res) => res.json(body))
const server = app.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${server.address().port}`))
server.keepAliveTimeout = 60_000
