import { YieldpointError } from '@yieldpoint/core'

/**
 * Redis did not answer (down, unreachable, or slower than `commandTimeout`). With `onRedisError:
 * 'fail-open'` (the default) the cache degrades to in-process single-flight instead of throwing.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof RedisUnavailableError) serveDegraded() }
 * ```
 */
export class RedisUnavailableError extends YieldpointError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_YP_REDIS_UNAVAILABLE', message, options)
  }
}

/**
 * A Redis lock was lost while held: its lease could not be extended (Redis down, or a pause
 * longer than the lease). The holder's `guard.signal` aborts with this error; anything it writes
 * should carry `guard.fence` so the resource can reject the stale writer.
 *
 * @example
 * ```ts
 * guard.signal.addEventListener('abort', () => console.warn(guard.signal.reason))
 * ```
 */
export class LockLostError extends YieldpointError {
  constructor(message: string) {
    super('ERR_YP_LOCK_LOST', message)
  }
}

/**
 * Redis answered with an error *reply* to a well-formed request: a script error, a wrong argument,
 * `WRONGTYPE`, `CROSSSLOT`, `NOPERM`… This is a bug or a misconfiguration, not an outage: it never
 * opens the circuit breaker and `onRedisError: 'fail-open'` does not hide it. (Replies that do mean
 * "not available right now" — `LOADING`, `CLUSTERDOWN`, `TRYAGAIN`, `MASTERDOWN`, `READONLY`,
 * `BUSY`, `NOREPLICAS` — count as {@link RedisUnavailableError}.) The reply is the `cause`.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof RedisReplyError) logger.error({ reply: e.reply }, 'fix the Redis setup') }
 * ```
 */
export class RedisReplyError extends YieldpointError {
  /** Redis's error reply, e.g. `'NOPERM this user has no permissions to run the 'evalsha' command'`. */
  readonly reply: string
  constructor(what: string, reply: string, options?: { cause?: unknown }) {
    super('ERR_YP_REDIS_REPLY', `${what}: Redis replied with an error: ${reply}`, options)
    this.reply = reply
  }
}

/**
 * A key cannot be written to Redis faithfully: it is not a string (two different keys, such as
 * `new Ref(1)` and `new Ref(2)`, would both become `'[object Object]'`), or it is a string with a
 * lone surrogate (it would be sent as U+FFFD and collide). Pass a `key` encoder option that maps
 * each key to a distinct well-formed string.
 *
 * @example
 * ```ts
 * new RedisStore<Ref, Product>({ client, key: (ref) => `ref:${ref.id}` })
 * ```
 */
export class KeyEncodingError extends YieldpointError {
  constructor(message: string) {
    super('ERR_YP_REDIS_KEY', message)
  }
}

/** Error replies that mean "not available right now", not "your request is wrong". */
const OUTAGE_REPLY = /^(LOADING|BUSY|CLUSTERDOWN|MASTERDOWN|READONLY|TRYAGAIN|NOREPLICAS|MISCONF|MOVED|ASK)\b/

/** True for an error reply of ioredis (`ReplyError`) or node-redis (`ErrorReply` and subclasses). @internal */
export function isReplyError(error: unknown): error is Error {
  if (!(error instanceof Error)) return false
  if (error.name === 'ReplyError') return true
  for (
    let proto = Object.getPrototypeOf(error) as object | null;
    proto !== null && proto !== Error.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'ErrorReply') return true
  }
  return false
}

/**
 * What a client adapter rejects with: an error reply becomes {@link RedisReplyError} (or
 * {@link RedisUnavailableError} for the "not now" replies); anything else (no answer) is kept.
 * @internal
 */
export function classifyClientError(what: string, error: unknown): unknown {
  if (!isReplyError(error)) return error
  const reply = error.message
  return OUTAGE_REPLY.test(reply) ? new RedisUnavailableError(`${what}: ${reply}`, { cause: error }) : new RedisReplyError(what, reply, { cause: error })
}
