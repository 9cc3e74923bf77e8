import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export interface Worker {
  pid: number
  send<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>
  kill(signal?: NodeJS.Signals): void
  child: ChildProcess
}

/** Starts test/worker.ts in a child process with `env`. */
export async function startWorker(env: Record<string, string>): Promise<Worker> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./worker.ts', import.meta.url))], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  let nextId = 0
  let pid = 0
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited early (${code})`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: boolean; pid?: number; id?: number; result?: unknown; error?: string }
      if (msg.ready) {
        pid = msg.pid!
        return resolve()
      }
      const p = pending.get(msg.id!)
      pending.delete(msg.id!)
      if (msg.error !== undefined) p?.reject(new Error(msg.error))
      else p?.resolve(msg.result)
    })
  })
  await ready
  child.on('exit', () => {
    for (const p of pending.values()) p.reject(new Error('worker exited'))
  })
  return {
    pid,
    child,
    send: <T>(op: string, args: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        if (child.exitCode !== null || child.signalCode !== null) return reject(new Error('worker exited'))
        const id = ++nextId
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
        child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`)
      }),
    kill: (signal = 'SIGTERM') => child.kill(signal),
  }
}

/** The origin every worker loads from: counts calls per key and remembers which process called. */
export interface Origin {
  url: string
  calls: (key?: string) => number
  callers: (key: string) => number[]
  failing: Set<string>
  /** Holds the answer to the next call for `key` until the returned function is called (tests order events, not time). */
  hold: (key: string) => () => void
  server: Server
}

export async function startOrigin(): Promise<Origin> {
  const calls: { key: string; pid: number }[] = []
  const failing = new Set<string>()
  const held = new Map<string, Promise<void>>()
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x')
    const key = url.searchParams.get('key')!
    const pid = Number(url.searchParams.get('pid'))
    calls.push({ key, pid })
    const n = calls.filter((c) => c.key === key).length
    const gate = held.get(key) ?? Promise.resolve()
    held.delete(key) // only the next call is held
    void gate.then(() =>
      setTimeout(
        () => {
          if (failing.has(key)) {
            res.statusCode = 503
            return void res.end(`origin failed for ${key}`)
          }
          res.setHeader('content-type', 'application/json')
          res.end(JSON.stringify({ key, call: n, pid }))
        },
        Number(url.searchParams.get('ms') ?? 100),
      ),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    calls: (key) => (key === undefined ? calls.length : calls.filter((c) => c.key === key).length),
    callers: (key) => calls.filter((c) => c.key === key).map((c) => c.pid),
    failing,
    hold: (key) => {
      let release!: () => void
      held.set(key, new Promise<void>((r) => (release = r)))
      return release
    },
    server,
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls `check` until true (bounded). */
export async function until(check: () => boolean | Promise<boolean>, what: string, limitMs = 15_000): Promise<void> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}
