import { InvalidArgumentError, limit, Limit, RateLimiter, type WaitOptions } from '@yieldpoint/core'
import type { MonoTypeOperatorFunction, ObservableInput, ObservedValueOf, OperatorFunction } from 'rxjs'
import { checkFunction, checkOptions, type MapOptions } from './options'
import { type Acquire, guardMap, holding } from './with-guard'

const WAIT = ['signal', 'timeout'] as const
const MAP = ['signal', 'timeout', 'concurrent'] as const

function toLimit(limiter: unknown, api: string): Limit {
  if (limiter instanceof Limit) return limiter
  if (limiter instanceof RateLimiter) return limit({ rate: limiter })
  throw new InvalidArgumentError(`${api}: limiter must be a RateLimiter or a limit() from @yieldpoint/core.`)
}

/**
 * Waits on a `Limit` (a token, and a permit if it has one). Granted at once, synchronously, when
 * free; otherwise the grant arrives a microtask after the limiter made it — a withdrawal in that
 * gap gives the permit back (the token is spent).
 */
function limitAcquire(bound: Limit, opts: WaitOptions | undefined): Acquire {
  const userSignal = opts?.signal
  const timeout = opts?.timeout
  return (onGrant, onError) => {
    if (userSignal?.aborted) {
      onError(userSignal.reason)
      return () => {}
    }
    const now = bound.tryAcquire()
    if (now !== undefined) {
      onGrant(now)
      return () => {}
    }
    const controller = new AbortController()
    const signal = userSignal === undefined ? controller.signal : AbortSignal.any([controller.signal, userSignal])
    bound.acquire({ signal, timeout }).then(
      (guard) => (controller.signal.aborted ? guard.release() : onGrant(guard)),
      (error: unknown) => {
        if (!controller.signal.aborted) onError(error)
      },
    )
    return () => controller.abort()
  }
}

/**
 * Subscribes to the source only once `limiter` grants a token (and, for a `limit()`, a permit,
 * held until the source ends) — FIFO with every other user of the limiter. Unsubscribing while
 * waiting leaves the queue and takes nothing; `{ timeout, signal }` bound the wait (the
 * subscription errors with `TimeoutError` / `signal.reason`).
 *
 * ```text
 * RateLimiter(2 per 1s), three sources:  A: a|   B: b|   C: ·····(1s)·····c|
 * ```
 * @example
 * ```ts
 * const partner = new RateLimiter({ tokensPerInterval: 10, interval: 1_000 })
 * const quote$ = defer(() => http.get(url)).pipe(withRateLimit(partner, { timeout: 5_000 }))
 * ```
 */
export function withRateLimit<T>(limiter: RateLimiter | Limit, opts?: WaitOptions): MonoTypeOperatorFunction<T> {
  const bound = toLimit(limiter, 'withRateLimit(limiter)')
  checkOptions('withRateLimit(limiter, options)', opts, WAIT)
  const acquire = limitAcquire(bound, opts)
  return holding<T>(() => acquire)
}

/**
 * `mergeMap` where each inner Observable starts only when `limiter` allows — at most
 * `tokensPerInterval` started per `interval` across every stream sharing the limiter (and at
 * most `permits` running, for a `limit({ permits, rate })`). The stream keeps one wait open at a
 * time and buffers values behind it, like `permitMap`. For outgoing calls; limiting incoming
 * requests is express-rate-limit's job.
 *
 * ```text
 * source:                         -1-2-3-4-|
 * rateLimitMap(2 per 100ms, p):   -p(1)-p(2)----(100ms)----p(3)-p(4)-|
 * ```
 * @example
 * ```ts
 * const partner = limit({ permits: 5, rate: { tokensPerInterval: 100, interval: 1_000 } })
 * ids$.pipe(rateLimitMap(partner, (id) => fetch$(`/items/${id}`), { timeout: 10_000 }))
 * ```
 */
export function rateLimitMap<T, O extends ObservableInput<unknown>>(
  limiter: RateLimiter | Limit,
  project: (value: T, index: number) => O,
  opts?: MapOptions,
): OperatorFunction<T, ObservedValueOf<O>> {
  const api = 'rateLimitMap(limiter, project, options)'
  const bound = toLimit(limiter, api)
  checkFunction(api, project, 'project')
  checkOptions(api, opts, MAP)
  return guardMap(limitAcquire(bound, opts), project, opts?.concurrent ?? Infinity)
}
