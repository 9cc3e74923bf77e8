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

// Errors cross processes through the cache's serializeError / reviveError (core); RemoteError
// is core's, re-exported here where it was first documented.
export { RemoteError, type SerializedError } from '@yieldpoint/core'
