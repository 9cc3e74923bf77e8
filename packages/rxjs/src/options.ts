import { InvalidArgumentError, type SemaphoreAcquireOptions, type WaitOptions } from '@yieldpoint/core'

/**
 * Options of the map operators (`lockMap`, `permitMap`, `keyedLockMap`): the wait options plus
 * `concurrent`, which bounds how many inner Observables *this* stream runs or waits for at once,
 * as in `mergeMap(project, concurrent)`. Default `Infinity`.
 * @example
 * ```ts
 * ids$.pipe(lockMap(lock, (id) => save$(id), { timeout: 5_000, concurrent: 2 }))
 * ```
 */
export interface MapOptions extends WaitOptions {
  /** Most inner Observables of this stream subscribed or waiting at once: an integer >= 1, or `Infinity`. */
  concurrent?: number | undefined
}

/**
 * Options of `permitMap`: {@link MapOptions} plus `permits` (how many each inner Observable holds).
 * @example
 * ```ts
 * ids$.pipe(permitMap(partner, (id) => fetch$(id), { concurrent: 4, permits: 1 }))
 * ```
 */
export interface PermitMapOptions extends MapOptions, Pick<SemaphoreAcquireOptions, 'permits'> {}

const describe = (value: unknown): string =>
  typeof value === 'string'
    ? JSON.stringify(value)
    : typeof value === 'function'
      ? 'a function'
      : value === null
        ? 'null'
        : typeof value === 'object'
          ? 'an object'
          : String(value)

/**
 * Validates operator options when the operator is created, so a mistake surfaces at the call
 * site and not at the first emission. Unknown keys are rejected (e.g. `max` for `permits`).
 * @internal
 */
export function checkOptions(api: string, opts: unknown, allowed: readonly string[]): void {
  if (opts === undefined) return
  if (typeof opts !== 'object' || opts === null)
    throw new InvalidArgumentError(`${api}: options must be an object like { ${allowed.join(', ')} }, got ${describe(opts)}.`)
  const o = opts as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) throw new InvalidArgumentError(`${api}: unknown option ${JSON.stringify(key)}; the options are { ${allowed.join(', ')} }.`)
  }
  const { timeout, signal, permits, concurrent } = o
  if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) {
    throw new InvalidArgumentError(`${api}: options.timeout must be a number of milliseconds >= 0 (or Infinity for none), got ${describe(timeout)}.`)
  }
  if (
    signal !== undefined &&
    (signal === null ||
      typeof signal !== 'object' ||
      typeof (signal as AbortSignal).addEventListener !== 'function' ||
      typeof (signal as AbortSignal).aborted !== 'boolean')
  ) {
    throw new InvalidArgumentError(`${api}: options.signal must be an AbortSignal, got ${describe(signal)}. Pass controller.signal from an AbortController.`)
  }
  if (permits !== undefined && (typeof permits !== 'number' || !Number.isInteger(permits) || permits < 1)) {
    throw new InvalidArgumentError(`${api}: options.permits must be an integer >= 1, got ${describe(permits)}.`)
  }
  if (concurrent !== undefined && (typeof concurrent !== 'number' || !(concurrent === Infinity || (Number.isInteger(concurrent) && concurrent >= 1)))) {
    throw new InvalidArgumentError(`${api}: options.concurrent must be an integer >= 1 (or Infinity), got ${describe(concurrent)}.`)
  }
}

/** @internal */
export function checkFunction(api: string, fn: unknown, what: string): void {
  if (typeof fn !== 'function') throw new InvalidArgumentError(`${api}: ${what} must be a function, got ${describe(fn)}.`)
}

/** The wait options alone, for the core call. @internal */
export function waitOptions(opts: WaitOptions | undefined): WaitOptions | undefined {
  if (opts === undefined || (opts.signal === undefined && opts.timeout === undefined)) return undefined
  return { signal: opts.signal, timeout: opts.timeout }
}
