/**
 * Every error yieldpoint throws or rejects with, in one place.
 *
 * Each class has a stable `code` (for logs and `switch`) and a `name` equal to the class name,
 * and its message says what was wrong and what to do instead. Outcomes of waiting (a timeout, a
 * broken barrier, a closed lock) reject the wait's promise; programming errors (bad arguments,
 * releasing what is not held) throw synchronously at the call site, so they surface where the
 * mistake is.
 */

/**
 * Base class of all yieldpoint errors.
 *
 * @example
 * ```ts
 * try { lock.release() } catch (e) { if (e instanceof YieldpointError) console.error(e.code) }
 * ```
 */
export class YieldpointError extends Error {
  /** A stable machine-readable code, e.g. `'ERR_YP_TIMEOUT'`. */
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(withDocsLink(code, message), options)
    this.code = code
    this.name = new.target.name
  }
}

/**
 * Where every error code is explained: `https://yieldpoint.dev/errors/<code>`. Every message ends
 * with its page's link, added here once, so a subclass in any package gets it from its `code`.
 *
 * @example
 * ```ts
 * errorDocsUrl('ERR_YP_TIMEOUT') // 'https://yieldpoint.dev/errors/ERR_YP_TIMEOUT'
 * ```
 */
export function errorDocsUrl(code: string): string {
  return `https://yieldpoint.dev/errors/${code}`
}

// Only yieldpoint's own codes have a page (a revived error may carry its origin's code, e.g.
// 'E_ORIGIN'), and a message revived from another process may already carry its link: never
// add it twice.
function withDocsLink(code: string, message: string): string {
  if (!code.startsWith('ERR_YP_')) return message
  const url = errorDocsUrl(code)
  return message.endsWith(url) ? message : `${message} See ${url}`
}

/**
 * A wait ran out of time (`{ timeout }` option). Its `name` is `'TimeoutError'`, like the
 * DOMException of `AbortSignal.timeout()`, so code that checks `err.name === 'TimeoutError'`
 * handles both.
 *
 * @example
 * ```ts
 * await lock.acquire({ timeout: 100 }).catch((e) => { if (e.name === 'TimeoutError') retryLater() })
 * ```
 */
export class TimeoutError extends YieldpointError {
  /** The timeout that elapsed, in milliseconds. */
  readonly timeout: number
  constructor(message: string, timeout: number) {
    super('ERR_YP_TIMEOUT', message)
    this.timeout = timeout
  }
}

/**
 * An argument was of the wrong type or out of range (`new Semaphore(-1)`, a non-function passed to
 * `runExclusive`, a negative `timeout`, …). Thrown synchronously; nothing was changed.
 *
 * @example
 * ```ts
 * new Semaphore(-1) // throws InvalidArgumentError: Semaphore(permits): permits must be an integer >= 0 …
 * ```
 */
export class InvalidArgumentError extends YieldpointError {
  constructor(message: string) {
    super('ERR_YP_INVALID_ARGUMENT', message)
  }
}

/**
 * An operation needs a lock to be held and it is not: `Lock.release()` on an unlocked lock,
 * `Condition.notify()` / `wait()` without the condition's lock. Thrown synchronously; the
 * primitive is unchanged.
 *
 * @example
 * ```ts
 * const lock = new Lock()
 * lock.release() // throws LockNotAcquiredError
 * ```
 */
export class LockNotAcquiredError extends YieldpointError {
  constructor(message: string) {
    super('ERR_YP_LOCK_NOT_ACQUIRED', message)
  }
}

/**
 * A `BoundedSemaphore` was released more times than it was acquired. Thrown synchronously; the
 * semaphore's value is unchanged.
 *
 * @example
 * ```ts
 * new BoundedSemaphore(1).release() // throws OverReleaseError
 * ```
 */
export class OverReleaseError extends YieldpointError {
  constructor(message: string) {
    super('ERR_YP_OVER_RELEASE', message)
  }
}

/**
 * A `Barrier` was aborted or reset while this task waited at it, or was already broken when it
 * arrived. asyncio's `BrokenBarrierError`.
 *
 * @example
 * ```ts
 * barrier.abort()
 * await barrier.wait() // rejects with BrokenBarrierError until barrier.reset()
 * ```
 */
export class BrokenBarrierError extends YieldpointError {
  constructor(message: string) {
    super('ERR_YP_BROKEN_BARRIER', message)
  }
}

/**
 * The `Lock` or `Semaphore` was closed with `close()`: current and future waits reject with this
 * error. Guards already granted can still be released.
 *
 * @example
 * ```ts
 * sem.close()
 * await sem.acquire() // rejects with ClosedError
 * ```
 */
export class ClosedError extends YieldpointError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_YP_CLOSED', message, options)
  }
}

/**
 * A single-flight loader asked for its own key (directly or through other keys), which would
 * wait for itself forever. Rejected instead of deadlocking.
 *
 * @example
 * ```ts
 * cache.getOrSet('a', () => cache.getOrSet('a', load)) // rejects with ReentrancyError
 * ```
 */
export class ReentrancyError extends YieldpointError {
  constructor(message: string) {
    super('ERR_YP_REENTRANCY', message)
  }
}

/**
 * A `Lock` (or a `KeyedLock` key) was acquired again by code running inside its own
 * `runExclusive` — it would wait for itself forever. Rejected instead of hanging (see
 * `detectDeadlock`).
 *
 * @example
 * ```ts
 * await lock.runExclusive(() => lock.acquire()) // rejects with DeadlockError
 * ```
 */
export class DeadlockError extends YieldpointError {
  constructor(message: string) {
    super('ERR_YP_DEADLOCK', message)
  }
}

/**
 * A caller joined a load whose loader declared its outcome private (`ctx.share = false`, e.g. a
 * response with `Set-Cookie`): only the caller that started the load gets it. Every joined
 * caller — in this process or, through a remote store, in any other — rejects with this error and
 * should do its own work instead.
 *
 * @example
 * ```ts
 * const page = await cache.getOrSet(url, load).catch((e) => {
 *   if (e instanceof NotSharedError) return renderForThisUser()
 *   throw e
 * })
 * ```
 */
export class NotSharedError extends YieldpointError {
  constructor(message: string) {
    super('ERR_YP_NOT_SHARED', message)
  }
}
