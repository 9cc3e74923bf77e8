import { createHash } from 'node:crypto'
import type { Request } from 'express'

/**
 * `scheme://host` as the handler sees them: `X-Forwarded-Proto`/`X-Forwarded-Host` only when the
 * app trusts the proxy that sent the request (`app.set('trust proxy', …)`), exactly like
 * `req.protocol` and Express 5's `req.host` (the port included). A response built for one host or
 * scheme (absolute links, tenant data) must never be replayed for another: nginx keys on
 * `$scheme$proxy_host$request_uri`, Varnish on URL + Host.
 * @internal
 */
export function origin(req: Request): string {
  const trust = req.app.get('trust proxy fn') as ((address: string | undefined, hop: number) => boolean) | undefined
  let host = req.get('x-forwarded-host')
  if (!host || !trust?.(req.socket.remoteAddress, 0)) host = req.get('host')
  else if (host.includes(',')) host = host.slice(0, host.indexOf(',')).trimEnd()
  // Not lower-cased: the handler sees the host as sent (`req.hostname`), and a lookup by it may
  // answer `ACME.example.com` differently from `acme.example.com` — one must not answer the other.
  return `${req.protocol}://${host ?? ''}`
}

/** The partition of the request's credentials (a hash, never the credentials), or '' if it has none. @internal */
export function credentialPartition(req: Request, names: readonly string[]): string {
  let joined = ''
  let any = false
  for (const name of names) {
    const value = req.headers[name]
    if (value !== undefined) any = true
    joined += `${name}=${Array.isArray(value) ? value.join(', ') : (value ?? '')}\n`
  }
  return any ? createHash('sha256').update(joined).digest('base64url') : ''
}

/**
 * Preconditions and ranges that change the answer into a 412 or a 206: such requests never share
 * (they bypass). `If-None-Match`/`If-Modified-Since` (revalidations, answered 304 or 200) are
 * instead part of the key, so a 304 only reaches a request with the same precondition.
 * @internal
 */
export const BYPASS_HEADERS = ['range', 'if-range', 'if-match', 'if-unmodified-since'] as const
/** @internal */
export const KEYED_PRECONDITIONS = ['if-none-match', 'if-modified-since'] as const
