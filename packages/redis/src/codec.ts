/**
 * How values are turned into strings for Redis. The default is JSON that also round-trips
 * Buffers (so captured HTTP responses from `@yieldpoint/express` survive).
 *
 * @example
 * ```ts
 * import superjson from 'superjson'
 * new RedisStore({ client, codec: { encode: superjson.stringify, decode: superjson.parse } })
 * ```
 */
export interface Codec {
  encode(value: unknown): string
  decode(text: string): unknown
}

/**
 * JSON, with Buffers kept as base64.
 * @example
 * ```ts
 * new RedisStore({ client, codec: jsonCodec })
 * ```
 */
export const jsonCodec: Codec = {
  encode: (value) =>
    JSON.stringify(value, (_key, v: unknown) =>
      v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)
        ? { $yp: 'buffer', base64: Buffer.from((v as { data: number[] }).data).toString('base64') }
        : v,
    ),
  decode: (text) =>
    JSON.parse(text, (_key, v: unknown) =>
      v && typeof v === 'object' && (v as { $yp?: unknown }).$yp === 'buffer' ? Buffer.from((v as { base64: string }).base64, 'base64') : v,
    ),
}

/**
 * What survives of an error across processes: name, message, code.
 * @example
 * ```ts
 * const wire: SerializedError = { name: 'NotFoundError', message: 'no product 7', code: 'E404' }
 * ```
 */
export interface SerializedError {
  name: string
  message: string
  code?: unknown
  status?: unknown
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const { code, status } = error as Error & { code?: unknown; status?: unknown }
    return { name: error.name, message: error.message, ...(code !== undefined ? { code } : {}), ...(status !== undefined ? { status } : {}) }
  }
  return { name: 'Error', message: String(error) }
}

/**
 * An error thrown in another process, rebuilt from its name, message and code.
 * @example
 * ```ts
 * catch (e) { if (e instanceof RemoteError && e.code === 'E404') return notFound() }
 * ```
 */
export class RemoteError extends Error {
  readonly code?: unknown
  readonly status?: unknown
  constructor(serialized: SerializedError) {
    super(serialized.message)
    this.name = serialized.name
    if (serialized.code !== undefined) this.code = serialized.code
    if (serialized.status !== undefined) this.status = serialized.status
  }
}
