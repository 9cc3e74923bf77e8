import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import express5 from 'express'
import express4 from 'express4'

export const expressVersions = [
  ['express 4', express4 as unknown as typeof express5],
  ['express 5', express5],
] as const

/** Listens on 127.0.0.1 on a free port. */
export async function listen(app: { listen: (port: number, host: string, cb: () => void) => Server }): Promise<{ url: string; close: () => Promise<void> }> {
  let server!: Server
  await new Promise<void>((resolve) => {
    server = app.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.()
        server.close(() => resolve())
      }),
  }
}

/** A promise you open from outside. */
export function gate() {
  let open!: () => void
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}

/** Resolves once `count()` reaches `n` (checked on every macrotask). */
export async function until(check: () => boolean, what = 'condition', limitMs = 10_000): Promise<void> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setImmediate(r))
  }
}

export const macrotask = () => new Promise<void>((r) => setImmediate(r))

export interface RawResponse {
  status: number
  headers: import('node:http').IncomingHttpHeaders
  /** The body exactly as it came off the wire (not decompressed). */
  body: Buffer
}

/**
 * A plain node:http request: any `Host` header, no automatic decompression (fetch would decode
 * gzip and hide a corrupt response). Rejects if the connection breaks before the body ends.
 */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; signal?: AbortSignal; onResponse?: () => void } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, signal: options.signal, agent: false }, (res) => {
      options.onResponse?.()
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
      res.on('aborted', () => reject(new Error('aborted')))
    })
    req.on('error', reject)
    req.end()
  })
}

import { request as httpRequest } from 'node:http'
