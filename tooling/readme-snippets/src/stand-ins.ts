// The stand-ins README snippets may use without declaring them: the application around the
// snippet (a database, an Express app, a request id, …). Everything from yieldpoint, Express,
// Nest or ioredis a snippet uses it must import itself — that is what the check is for.
// This file is type-checked with every snippet and loaded (`--import`) before each one runs.
import express from 'express'

interface Connection {
  query(sql: string): Promise<unknown>
  isAlive(): boolean
  close(): Promise<void>
}

declare global {
  /** A product row. */
  type Product = { id: string; name: string }
  /** A user row. */
  type User = { id: string; name: string }
  /** The application's database. */
  var db: {
    get(key: string): Promise<number>
    set(key: string, value: number): Promise<void>
    product(id: string, opts?: { signal?: AbortSignal }): Promise<Product>
  }
  /** An Express app that is never listened on. */
  var app: express.Express
  /** An Express handler that answers 200. */
  var handler: express.RequestHandler
  /** A caller's cancellation, e.g. the request's. */
  var signal: AbortSignal
  /** Ids and URLs the snippets talk about. */
  var id: string
  var from: string
  var to: string
  var ids: string[]
  var url: string
  var fetchUser: (id: string, opts?: { signal?: AbortSignal }) => Promise<User>
  var debit: (id: string, amount: number) => Promise<void>
  var fetchQuote: (id: string) => Promise<{ id: string; price: number }>
  var transfer: (id: string, fence: number) => Promise<void>
  var api: { getUser(id: string): Promise<User> }
  var ses: { send(mail: { to: string; body: string }): Promise<void> }
  var mail: { to: string; body: string }
  var connect: (url: string) => Promise<Connection>
}

const rows = new Map<string, number>()
const pause = () => new Promise<void>((resolve) => setImmediate(resolve))
const product = (id: string): Product => ({ id, name: `product ${id}` }) satisfies Product
const user = (id: string): User => ({ id, name: `user ${id}` }) satisfies User

globalThis.db = {
  async get(key) {
    await pause()
    return rows.get(key) ?? 0
  },
  async set(key, value) {
    await pause()
    rows.set(key, value)
  },
  async product(id) {
    await pause()
    return product(id)
  },
}
globalThis.app = express()
globalThis.handler = (_req, res) => {
  res.end('ok')
}
globalThis.signal = new AbortController().signal
globalThis.id = '42'
globalThis.from = '1'
globalThis.to = '2'
globalThis.ids = ['1', '2', '3']
globalThis.url = 'data:application/json,{"ok":true}'
globalThis.fetchUser = async (id) => (await pause(), user(id))
globalThis.debit = async () => pause()
globalThis.fetchQuote = async (id) => (await pause(), { id, price: 1 })
globalThis.transfer = async () => pause()
globalThis.api = { getUser: async (id) => (await pause(), user(id)) }
globalThis.ses = { send: async () => pause() }
globalThis.mail = { to: 'a@example.com', body: 'hi' }
globalThis.connect = async () => {
  let open = true
  return {
    query: async () => (await pause(), []),
    isAlive: () => open,
    close: async () => {
      open = false
    },
  }
}
