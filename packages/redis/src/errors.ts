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
