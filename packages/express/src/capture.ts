import type { Response } from 'express'

/**
 * A response as recorded from the request that produced it, ready to replay to others — the
 * value type of the cache behind `coalesce()`. It is the representation *as the handler produced
 * it*: middleware mounted before `coalesce()` (such as `compression()`) has not touched its
 * headers or bytes, so each request's own middleware encodes it again on replay.
 * @example
 * ```ts
 * const cache = new SingleFlightCache<string, CapturedResponse>({ ttl: 5_000, store: redisStore })
 * app.get('/products/:id', coalesce({ cache }), show)
 * ```
 */
export interface CapturedResponse {
  status: number
  /**
   * Lower-case header names the handler set (headers the request already had before the handler
   * ran, such as `X-Request-Id`, belong to each request and are not kept); hop-by-hop headers and
   * `set-cookie` are never kept.
   */
  headers: Record<string, string | string[]>
  /** The body, byte for byte (a Buffer; a JSON-revived `{ type: 'Buffer', data }` is accepted too). */
  body: Buffer | { type: 'Buffer'; data: number[] }
  /** Request header names from `Vary`, and the producing request's values for them. */
  vary: string[]
  varyValues: string
  /** False when the response must never reach anyone else (Set-Cookie, private/no-store, Vary: *, too big). */
  shareable: boolean
  /** Wall-clock time (ms since the epoch) the response was produced; `Age` on hits is counted from it. */
  storedAt?: number
  /** How long the handler took to produce it (ms), reported in `Server-Timing`. */
  loadMs?: number
}

const NOT_REPLAYED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'set-cookie', 'upgrade', 'proxy-connection', 'trailer'])

type Chunk = string | Uint8Array
type Callback = (error?: Error | null) => void
type Headers = Record<string, string | string[]>

/**
 * The leader's response closed or errored before the handler finished it (`res.destroy()`, an
 * error after the headers went out, a stream piped to a client that left): there is no response
 * to share. Followers are released at once and coalesce again. @internal
 */
export class LeaderFailed extends Error {
  constructor(reason: string) {
    super(`the leader's response did not complete: ${reason}`)
  }
}

/** @internal */
export interface CaptureOptions {
  maxBodySize: number
  /** Hold the response back instead of sending it, so the caller may answer with something else. */
  buffer: boolean
  /** The producing request's values of the named request headers. */
  vary: (names: string[]) => string
  /** Runs just before the handler's headers go out (pass-through mode), e.g. to add Server-Timing. */
  onHead?: (loadMs: number) => void
}

/** @internal */
export interface Capture {
  /** Resolves when the handler ends its response; rejects with {@link LeaderFailed} if it cannot. */
  readonly done: Promise<CapturedResponse>
  /** Whether the response is still held back (buffer mode, not flushed). */
  readonly buffered: boolean
  /** Buffer mode: send the held-back response to this request's client as the handler produced it. */
  flush(extra?: Headers): void
  /** Buffer mode: forget the handler's headers (keeping the request's own), to answer with another response. */
  discard(): void
  /** The response cannot complete (e.g. `next(err)` after the headers went out). */
  fail(reason: string): void
}

/**
 * Records what the handler sends — status and headers at the moment they go out, every body chunk
 * from `write`/`end` (so streamed and chunked bodies are kept byte for byte) — by wrapping `res`'s
 * methods. Wrapping happens here, after every middleware mounted earlier has installed its own
 * wrappers, so what is recorded is what the handler produced, before those layers (compression)
 * transform it: headers and bytes describe the same representation.
 *
 * Pass-through mode sends the response on as usual; `done` resolves when the handler calls
 * `res.end()`, even if the client has already gone (the work is finished for whoever waits on it).
 * Buffer mode holds it back until `flush()`, unless it grows past `maxBodySize` (then it is sent
 * on and marked not shareable).
 * @internal
 */
export function captureResponse(res: Response, options: CaptureOptions): Capture {
  const started = performance.now()
  const before = normalizeHeaders(res.getHeaders())
  const chunks: Buffer[] = []
  let size = 0
  let tooBig = false
  let buffering = options.buffer
  let state: 'running' | 'ended' | 'failed' = 'running'
  let statusAtHead = 0 // res.statusCode when the head was taken: a later change restarted the response
  let head: { status: number; statusMessage: string | undefined; headers: Headers; args: Headers } | undefined
  const inner = { writeHead: res.writeHead, write: res.write, end: res.end, destroy: res.destroy }
  let resolve!: (captured: CapturedResponse) => void
  let reject!: (error: Error) => void
  const done = new Promise<CapturedResponse>((ok, ko) => ((resolve = ok), (reject = ko)))
  done.catch(() => {}) // the caller may settle first; nobody is left unhandled

  const restore = (): void => {
    res.writeHead = inner.writeHead
    res.write = inner.write
    res.end = inner.end
    res.destroy = inner.destroy
    res.off('close', onClose)
  }

  const fail = (reason: string): void => {
    if (state !== 'running') return
    state = 'failed'
    chunks.length = 0
    restore()
    reject(new LeaderFailed(reason))
  }

  // Closed before the handler ended: if the body had started, it can never be completed for
  // anyone. If not, the client left while the handler still works: it finishes for the others,
  // and from now on nothing reaches the dead socket (see `write`).
  let clientGone = false
  const onClose = (): void => {
    if (state !== 'running') return
    if (res.headersSent) fail('the connection closed while the body was being sent')
    else clientGone = true
  }
  res.on('close', onClose)

  const add = (chunk: unknown, encoding: unknown): void => {
    if (chunk === undefined || chunk === null || tooBig || state !== 'running') return
    const buf =
      typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : Buffer.from(chunk as Uint8Array)
    size += buf.length
    if (size > options.maxBodySize) {
      tooBig = true
      if (buffering) sendHeld() // too big to hold back: send what we have and pass the rest through
      chunks.length = 0
      return
    }
    chunks.push(buf)
  }

  /** The head as the handler set it, taken once, before any earlier layer adds to it. */
  const takeHead = (statusCode: number, rest: unknown[]): void => {
    if (head) return
    let args: Headers = {}
    let statusMessage: string | undefined
    for (const arg of rest) {
      if (typeof arg === 'string') statusMessage = arg
      else if (arg && typeof arg === 'object') args = { ...args, ...normalizeHeaders(arg) }
    }
    head = { status: statusCode, statusMessage, headers: { ...normalizeHeaders(res.getHeaders()), ...args }, args }
    statusAtHead = res.statusCode
  }

  /** Buffer mode → pass-through: sends the held head and chunks through the earlier layers. */
  const sendHeld = (extra?: Headers): void => {
    buffering = false
    if (extra) for (const [name, value] of Object.entries(extra)) res.setHeader(name, value)
    if (head) {
      for (const [name, value] of Object.entries(head.args)) res.setHeader(name, value)
      ;(inner.writeHead as (...args: unknown[]) => Response).call(res, head.status, ...(head.statusMessage ? [head.statusMessage] : []))
    }
    for (const chunk of chunks) (inner.write as (...args: unknown[]) => boolean).call(res, chunk)
  }

  res.writeHead = function (this: Response, statusCode: number, ...rest: unknown[]) {
    takeHead(statusCode, rest)
    if (buffering && state === 'running') return this
    if (state === 'running') options.onHead?.(performance.now() - started)
    return (inner.writeHead as (...args: unknown[]) => Response).call(this, statusCode, ...rest)
  } as Response['writeHead']

  res.write = function (this: Response, chunk: Chunk, encoding?: BufferEncoding | Callback, cb?: Callback) {
    add(chunk, encoding)
    // Held back, or the client is gone: the chunk is recorded and accepted here. A gone client's
    // socket never drains, so `pipe()` into it would wait forever and stick the key.
    if ((buffering || clientGone) && state === 'running') {
      takeHead(res.statusCode, [])
      const callback = typeof encoding === 'function' ? encoding : cb
      if (callback) process.nextTick(callback)
      return true
    }
    return (inner.write as (...args: unknown[]) => boolean).call(this, chunk, encoding, cb)
  } as Response['write']

  res.end = function (this: Response, chunk?: Chunk | Callback, encoding?: BufferEncoding | Callback, cb?: Callback) {
    if (state !== 'running') return (inner.end as (...args: unknown[]) => Response).call(this, chunk, encoding, cb)
    if (typeof chunk !== 'function') add(chunk, encoding)
    takeHead(res.statusCode, [])
    // The client left before the headers, and the handler ended with an error — often *because*
    // it left (`pipeline()` into a dead socket fails with a premature close), possibly after body
    // chunks under a 200 head (an error page glued to half a body). Not an answer to share: the
    // followers elect a new leader.
    // Same when the head was held back (a refresh that may yet answer with the stale copy) and
    // the status changed after it was taken: an error handler restarted a response whose body
    // had begun, and "half a body + error page" under a 200 would be kept for the whole ttl.
    const restarted = (clientGone || buffering) && res.statusCode !== statusAtHead
    if (restarted || (clientGone && head!.status >= 500)) {
      fail(restarted ? 'an error response was written over a body that had begun' : 'the handler failed after its client left')
      return (inner.end as (...args: unknown[]) => Response).call(this, chunk, encoding, cb)
    }
    const held = buffering
    if (!held && !res.headersSent) options.onHead?.(performance.now() - started)
    restore()
    state = 'ended'
    const result = held ? this : (inner.end as (...args: unknown[]) => Response).call(this, chunk, encoding, cb)
    resolve(finish())
    return result
  } as Response['end']

  res.destroy = function (this: Response, error?: Error) {
    fail(error ? `res.destroy(${error.message})` : 'res.destroy()')
    return inner.destroy.call(this, error)
  } as Response['destroy']

  const finish = (): CapturedResponse => {
    const sent = head!.headers
    const headers: Headers = {}
    for (const [name, value] of Object.entries(sent)) {
      if (NOT_REPLAYED.has(name) || value === undefined) continue
      // A header the request already had before the handler ran is that request's own.
      if (name in before && String(before[name]) === String(value)) continue
      headers[name] = value
    }
    // What went out on the wire also counts: layers mounted earlier may add Set-Cookie or
    // Cache-Control from a writeHead hook (express-session's cookie for a session this handler
    // started), after the head was taken. Such a response is that visitor's alone.
    const wire = res.headersSent ? res.getHeaders() : {}
    const cacheControl = `${String(sent['cache-control'] ?? '')}, ${String(wire['cache-control'] ?? '')}`.toLowerCase()
    const names = String(sent.vary ?? '')
      .toLowerCase()
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
    return {
      status: head!.status,
      headers,
      body: Buffer.concat(chunks),
      vary: names,
      varyValues: options.vary(names),
      shareable:
        !tooBig && sent['set-cookie'] === undefined && wire['set-cookie'] === undefined && !/\b(private|no-store)\b/.test(cacheControl) && !names.includes('*'),
      storedAt: Date.now(),
      loadMs: performance.now() - started,
    }
  }

  return {
    done,
    get buffered() {
      return buffering
    },
    flush(extra) {
      if (!buffering) return
      sendHeld(extra)
      ;(inner.end as (...args: unknown[]) => Response).call(res)
    },
    discard() {
      buffering = false
      for (const name of res.getHeaderNames()) if (!(name in before)) res.removeHeader(name)
      for (const [name, value] of Object.entries(before)) res.setHeader(name, value)
    },
    fail,
  }
}

/**
 * Sends a captured response to another client, over that request's own headers, through that
 * request's own middleware (so `compression()` encodes it for this client's `Accept-Encoding`).
 * @internal
 */
export function replayResponse(res: Response, captured: CapturedResponse, extra: Headers): void {
  if (res.headersSent || res.destroyed) return
  const body = Buffer.isBuffer(captured.body) ? captured.body : Buffer.from((captured.body as { data: number[] }).data ?? [])
  res.statusCode = captured.status
  for (const [name, value] of Object.entries(captured.headers)) res.setHeader(name, value)
  for (const [name, value] of Object.entries(extra)) res.setHeader(name, value)
  if (res.req.method !== 'HEAD' || captured.headers['content-length'] === undefined) res.setHeader('content-length', body.length)
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

function normalizeHeaders(input: unknown): Headers {
  const out: Headers = {}
  if (Array.isArray(input)) {
    // [[name, value], ...] or a flat raw [name, value, name, value]
    if (input.length > 0 && Array.isArray(input[0])) for (const [k, v] of input as [string, unknown][]) out[String(k).toLowerCase()] = toHeaderValue(v)
    else for (let i = 0; i + 1 < input.length; i += 2) out[String(input[i]).toLowerCase()] = toHeaderValue(input[i + 1])
    return out
  }
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) if (v !== undefined) out[k.toLowerCase()] = toHeaderValue(v)
  return out
}

function toHeaderValue(value: unknown): string | string[] {
  return Array.isArray(value) ? value.map(String) : String(value)
}
