import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { createInterface } from 'node:readline'

/**
 * A stand-in for a partner's database on 127.0.0.1: it accepts at most `limit` connections at
 * once (like Postgres' max_connections or a partner's per-client cap) and refuses the rest with
 * an error line. A query is answered after `latencyMs`. It counts what happened.
 */
export async function startPartner(limit: number, latencyMs: number) {
  const open = new Set<Socket>()
  const counts = { accepted: 0, refused: 0, peak: 0, queries: 0 }
  const quietWaiters: (() => void)[] = []
  const server: Server = createServer((socket) => {
    socket.on('error', () => {})
    if (open.size >= limit) {
      counts.refused++
      socket.end('ERR too many connections\n')
      return
    }
    open.add(socket)
    counts.accepted++
    counts.peak = Math.max(counts.peak, open.size)
    socket.once('close', () => {
      open.delete(socket)
      if (open.size === 0) for (const resolve of quietWaiters.splice(0)) resolve()
    })
    socket.write('HELLO\n')
    createInterface({ input: socket }).on('line', () => {
      counts.queries++
      setTimeout(() => socket.writable && socket.write('OK\n'), latencyMs)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    port,
    counts,
    /** Resolves once the partner has no connection open (closing is asynchronous on its side). */
    quiet: () => (open.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => quietWaiters.push(resolve))),
    reset: () => Object.assign(counts, { accepted: 0, refused: 0, peak: 0, queries: 0 }),
    close: () => {
      for (const s of open) s.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A client connection: resolves once the partner said HELLO, rejects if it refused us. */
export class Connection {
  private readonly replies: ((line: string) => void)[] = []
  private constructor(private readonly socket: Socket) {
    createInterface({ input: socket }).on('line', (line) => this.replies.shift()?.(line))
  }

  static connect(port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(port, '127.0.0.1')
      socket.once('error', reject)
      const conn = new Connection(socket)
      conn.replies.push((line) => (line === 'HELLO' ? resolve(conn) : (socket.destroy(), reject(new Error(`partner refused the connection: ${line}`)))))
    })
  }

  query(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.replies.push((line) => (line === 'OK' ? resolve(line) : reject(new Error(line))))
      this.socket.write('SELECT 1\n')
    })
  }

  close(): void {
    this.socket.end()
  }
}
