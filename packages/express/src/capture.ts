import type { Response } from 'express'

/**
 * A response as recorded from the request that produced it, ready to replay to others — the
 * value type of the cache behind `coalesce()`.
 * @example
 * ```ts
 * const cache = new SingleFlightCache<string, CapturedResponse>({ ttl: 5_000, store: redisStore })
 * app.get('/products/:id', coalesce({ cache }), show)
 * ```
 */
export interface CapturedResponse {
  status: number
  /** Lower-case header names; hop-by-hop headers and `set-cookie` are never kept. */
  headers: Record<string, string | string[]>
  /** The body, byte for byte (a Buffer; a JSON-revived `{ type: 'Buffer', data }` is accepted too). */
  body: Buffer | { type: 'Buffer'; data: number[] }
  /** Request header names from `Vary`, and the producing request's values for them. */
  vary: string[]
  varyValues: string
  /** False when the response must never reach anyone else (Set-Cookie, private/no-store, Vary: *, too big). */
  shareable: boolean
}

const NOT_REPLAYED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'set-cookie', 'upgrade', 'proxy-connection', 'trailer'])

type Chunk = string | Uint8Array
type Callback = (error?: Error | null) => void

/**
 * Records what `res` sends — status, headers from `setHeader` and `writeHead`, and every body
 * chunk from `write`/`end` (so streamed and chunked bodies are kept byte for byte) — while it
 * still goes to the client as usual. `onEnd` runs when the handler calls `res.end()`, even if the
 * client has already gone: the work is finished for whoever waits on it.
 * @internal
 */
export function captureResponse(res: Response, maxBodySize: number, vary: (names: string[]) => string, onEnd: (captured: CapturedResponse) => void): void {
  const chunks: Buffer[] = []
  let size = 0
  let tooBig = false
  let headHeaders: Record<string, string | string[]> = {}
  const writeHead = res.writeHead
  const write = res.write
  const end = res.end

  const add = (chunk: unknown, encoding: unknown): void => {
    if (chunk === undefined || chunk === null || tooBig) return
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : Buffer.from(chunk as Uint8Array)
    size += buf.length
    if (size > maxBodySize) {
      tooBig = true
      chunks.length = 0
      return
    }
    chunks.push(buf)
  }

  res.writeHead = function (this: Response, statusCode: number, ...rest: unknown[]) {
    for (const arg of rest) {
      if (arg && typeof arg === 'object') headHeaders = { ...headHeaders, ...normalizeHeaders(arg) }
    }
    return (writeHead as (...args: unknown[]) => Response).call(this, statusCode, ...rest)
  } as Response['writeHead']

  res.write = function (this: Response, chunk: Chunk, encoding?: BufferEncoding | Callback, cb?: Callback) {
    add(chunk, encoding)
    return (write as (...args: unknown[]) => boolean).call(this, chunk, encoding, cb)
  } as Response['write']

  res.end = function (this: Response, chunk?: Chunk | Callback, encoding?: BufferEncoding | Callback, cb?: Callback) {
    if (typeof chunk !== 'function') add(chunk, encoding)
    res.writeHead = writeHead
    res.write = write
    res.end = end
    const result = (end as (...args: unknown[]) => Response).call(this, chunk, encoding, cb)
    const headers: Record<string, string | string[]> = {}
    for (const [name, value] of Object.entries({ ...normalizeHeaders(res.getHeaders()), ...headHeaders })) {
      if (!NOT_REPLAYED.has(name) && value !== undefined) headers[name] = value
    }
    const setCookie = res.getHeader('set-cookie') ?? headHeaders['set-cookie']
    const cacheControl = String(headers['cache-control'] ?? '').toLowerCase()
    const varyHeader = String(headers['vary'] ?? '').toLowerCase()
    const names = varyHeader.split(',').map((s) => s.trim()).filter(Boolean)
    onEnd({
      status: res.statusCode,
      headers,
      body: Buffer.concat(chunks),
      vary: names,
      varyValues: vary(names),
      shareable: !tooBig && setCookie === undefined && !/\b(private|no-store)\b/.test(cacheControl) && !names.includes('*'),
    })
    return result
  } as Response['end']
}

/** Sends a captured response to another client. @internal */
export function replayResponse(res: Response, captured: CapturedResponse, header: string | false, how: string): void {
  if (res.headersSent) return
  const body = Buffer.isBuffer(captured.body) ? captured.body : Buffer.from((captured.body as { data: number[] }).data ?? [])
  res.statusCode = captured.status
  for (const [name, value] of Object.entries(captured.headers)) res.setHeader(name, value)
  if (header) res.setHeader(header, how)
  if (res.req.method !== 'HEAD' || captured.headers['content-length'] === undefined) res.setHeader('content-length', body.length)
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

function normalizeHeaders(input: unknown): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
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
