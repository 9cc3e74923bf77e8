import { createHash } from 'node:crypto'

/** The parts of an HTTP request (Express or Fastify, as Nest hands it over) that `@Coalesce` reads. */
export interface CoalescedRequest {
  method: string
  url: string
  originalUrl?: string
  headers: Record<string, string | string[] | undefined>
}

interface ExpressLike {
  protocol?: string
  hostname?: string
  host?: string
  app?: { get(setting: string): unknown }
  socket?: { remoteAddress?: string; encrypted?: boolean }
}

/**
 * `scheme://host` as the handler sees them. On Express: `X-Forwarded-Proto`/`-Host` count only
 * when `trust proxy` trusts the sender, exactly like `req.protocol` and Express 5's `req.host`;
 * on Fastify: its `protocol` and `host`/`hostname` (which follow `trustProxy`). A result computed
 * for one host or scheme is never given to another.
 * @internal
 */
export function origin(request: CoalescedRequest): string {
  const req = request as CoalescedRequest & ExpressLike
  const header = (name: string): string | undefined => {
    const v = req.headers[name]
    return Array.isArray(v) ? v[0] : v
  }
  let host: string | undefined
  const trust =
    typeof req.app?.get === 'function' ? (req.app.get('trust proxy fn') as ((address: string | undefined, hop: number) => boolean) | undefined) : undefined
  if (trust !== undefined) {
    host = header('x-forwarded-host')
    if (!host || !trust(req.socket?.remoteAddress, 0)) host = header('host')
    else if (host.includes(',')) host = host.slice(0, host.indexOf(',')).trimEnd()
  } else {
    host = req.host ?? req.hostname ?? header('host')
  }
  const scheme = req.protocol ?? (req.socket?.encrypted ? 'https' : 'http')
  // Not lower-cased: the handler sees the host as sent, and may answer another letter case differently.
  return `${scheme}://${host ?? ''}`
}

/** A hash of the request's credentials, or '' if it has none. @internal */
export function credentialPartition(request: CoalescedRequest, names: readonly string[]): string {
  let joined = ''
  let any = false
  for (const name of names) {
    const value = request.headers[name]
    if (value !== undefined) any = true
    joined += `${name}=${Array.isArray(value) ? value.join(', ') : (value ?? '')}\n`
  }
  return any ? createHash('sha256').update(joined).digest('base64url') : ''
}

/** Requests that may be answered 412/206: never coalesced. @internal */
export const BYPASS_HEADERS = ['range', 'if-range', 'if-match', 'if-unmodified-since'] as const
/** Revalidation preconditions: part of the key. @internal */
export const KEYED_PRECONDITIONS = ['if-none-match', 'if-modified-since'] as const
