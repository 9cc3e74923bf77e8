import { InvalidArgumentError } from '@yieldpoint/core'
import { KeyEncodingError } from './errors'

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

/**
 * Turns a cache or lock key into the string that identifies it in Redis. Must be injective (two
 * different keys, two different strings) and return well-formed strings.
 *
 * @example
 * ```ts
 * const key: KeyEncoder<Ref> = (ref) => `ref:${ref.id}`
 * new RedisStore<Ref, Product>({ client, key })
 * ```
 */
export type KeyEncoder<K> = (key: K) => string

/**
 * The `{hash tag}` of one key: every Redis key of a cache key (`prefix{tag}:v`, `:l`, `:seq`) shares
 * it, so they sit in one Cluster slot and one Lua script may touch them all. The tag ends at the
 * first `}` and an empty tag hashes the whole name, so `%` and `}` are escaped and `''` becomes
 * `%` (which no escaped key can be): the mapping stays one-to-one.
 * @internal
 */
export function hashTag(key: string): string {
  return key === '' ? '%' : key.replace(/[%}]/g, (c) => (c === '%' ? '%25' : '%7D'))
}

/**
 * The function a store or lock uses to turn its keys into hash tags: the `key` option if given,
 * else strings as they are; anything that cannot cross the wire faithfully throws
 * {@link KeyEncodingError}.
 * @internal
 */
export function keyEncoder<K>(custom: KeyEncoder<K> | undefined, api: string): (key: K) => string {
  if (custom !== undefined && typeof custom !== 'function')
    throw new InvalidArgumentError(`${api}: the key option must be a function (key) => string, got ${typeof custom}.`)
  return (key) => {
    const text = custom === undefined ? key : custom(key)
    if (typeof text !== 'string') {
      throw new KeyEncodingError(
        custom === undefined
          ? `${api}: the key ${describeKey(key)} is not a string, and Redis keys are strings: String(key) could make two ` +
              `different keys one. Pass a key option that maps each key to a distinct string, e.g. key: (k) => \`ref:\${k.id}\`.`
          : `${api}: the key option returned ${describeKey(text)} for ${describeKey(key)}; it must return a string.`,
      )
    }
    if (LONE_SURROGATE.test(text)) {
      throw new KeyEncodingError(
        `${api}: the key ${JSON.stringify(text)} contains a lone surrogate, which Redis would receive as U+FFFD (so it could collide ` +
          `with another key). Pass well-formed strings (String.prototype.toWellFormed() if collisions are acceptable) or a key option.`,
      )
    }
    return hashTag(text)
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function describeKey(key: unknown): string {
  if (typeof key === 'symbol') return key.toString()
  if (typeof key === 'bigint') return `${key}n`
  if (typeof key === 'object' && key !== null) return `an instance of ${(key as object).constructor?.name ?? 'Object'}`
  return typeof key === 'string' ? JSON.stringify(key) : String(key)
}

/**
 * Validates a key/channel prefix: a string without `{` or `}` (they would change the hash tag).
 * @internal
 */
export function checkPrefix(prefix: unknown, fallback: string, api: string): string {
  if (prefix === undefined) return fallback
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new InvalidArgumentError(
      `${api}: prefix must be a string without '{' or '}' (they would change the Redis Cluster ` +
        `hash tag), got ${typeof prefix === 'string' ? JSON.stringify(prefix) : typeof prefix}.`,
    )
  }
  return prefix
}

/** Escapes SCAN MATCH's glob characters in a literal. @internal */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}
