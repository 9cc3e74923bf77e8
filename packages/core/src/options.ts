import { InvalidArgumentError } from './errors'

/**
 * Options every wait accepts.
 *
 * The rule, for every primitive: a grant and an abort are decided synchronously and whichever
 * happens first wins. An abort (or timeout) that comes after the grant is ignored — the caller
 * owns what it was granted. An abort rejects with `signal.reason` (the same object); a timeout
 * rejects with a {@link TimeoutError}. An already-aborted signal rejects at once, even when no
 * wait would be needed, and acquires nothing. After any outcome no listener is left on the signal
 * and no timer is left running.
 *
 * @example
 * ```ts
 * const guard = await lock.acquire({ signal: req.signal, timeout: 2_000 })
 * ```
 */
export interface WaitOptions {
  /** Abort the wait; it rejects with `signal.reason`. */
  signal?: AbortSignal | undefined
  /** Give up after this many milliseconds (a finite number >= 0, or `Infinity`). */
  timeout?: number | undefined
}

/**
 * Validates `opts` and reports whether its signal is already aborted. Throws
 * {@link InvalidArgumentError} for a malformed option so the mistake surfaces at the call site.
 * @internal
 */
export function checkWaitOptions(opts: WaitOptions, api: string): boolean {
  if (typeof opts !== 'object' || opts === null) {
    throw new InvalidArgumentError(`${api}: options must be an object like { signal, timeout }, got ${describe(opts)}.`)
  }
  const { signal, timeout } = opts
  if (timeout !== undefined) checkTimeout(timeout, api)
  if (signal !== undefined) {
    if (signal === null || typeof signal !== 'object' || typeof signal.addEventListener !== 'function' || typeof signal.aborted !== 'boolean') {
      throw new InvalidArgumentError(`${api}: options.signal must be an AbortSignal, got ${describe(signal)}. Pass controller.signal from an AbortController.`)
    }
    return signal.aborted
  }
  return false
}

/** @internal */
export function checkTimeout(timeout: unknown, api: string): asserts timeout is number {
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new InvalidArgumentError(`${api}: options.timeout must be a number of milliseconds >= 0 (or Infinity for none), got ${describe(timeout)}.`)
  }
}

/** @internal */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (value === null) return 'null'
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object'
  return String(value)
}

/** @internal */
export function checkFunction(fn: unknown, api: string, what = 'fn'): asserts fn is (...args: never[]) => unknown {
  if (typeof fn !== 'function') {
    throw new InvalidArgumentError(`${api}: ${what} must be a function, got ${describe(fn)}. Pass the work to run, e.g. ${api}(async () => { … }).`)
  }
}
