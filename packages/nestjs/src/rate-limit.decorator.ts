import { InvalidArgumentError, limit, Limit, RateLimiter, type Guard, type RateLimiterOptions } from '@yieldpoint/core'
import { Observable } from 'rxjs'
import { copyMethodMetadata } from './copy-metadata'
import type { CallOptions, TypedMethodDecorator } from './decorators'
import { bothSignals, holdWhile } from './hold'

// biome-ignore lint/suspicious/noExplicitAny: a decorated method takes whatever its class declares
type Method = (...args: any[]) => unknown

/**
 * Options of {@link RateLimit}: a rate (and optionally a concurrency bound) for the calls a
 * method makes to somebody else.
 * @example
 * ```ts
 * @RateLimit({ tokensPerInterval: 100, interval: 1_000, permits: 5, timeout: 10_000 })
 * ```
 */
export interface RateLimitOptions<A extends unknown[] = unknown[]> extends CallOptions<A>, Partial<Omit<RateLimiterOptions, 'now'>> {
  /** Use this limiter (or `limit()` result) instead of making one — to share a budget with other code. */
  limiter?: RateLimiter | Limit
  /** Also at most this many calls in flight at once. */
  permits?: number
}

/**
 * At most `tokensPerInterval` calls of this method start per `interval` (across every instance
 * and caller), optionally with at most `permits` in flight; the rest wait in FIFO order. For
 * **outgoing** calls (a partner API's quota) — limiting incoming requests is express-rate-limit's
 * or `@nestjs/throttler`'s job. Options are validated when the class is defined. An Observable
 * method takes its token on subscribe; unsubscribing while waiting leaves the queue.
 *
 * @example
 * ```ts
 * @Injectable()
 * class PartnerClient {
 *   @RateLimit({ tokensPerInterval: 100, interval: 1_000, permits: 5 })
 *   getQuote(id: string) { return fetch(`https://partner.example/quotes/${id}`).then((r) => r.json()) }
 * }
 * ```
 */
export function RateLimit<A extends unknown[] = unknown[]>(options: RateLimitOptions<A>): TypedMethodDecorator<A> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('@RateLimit(options): pass { tokensPerInterval, interval } (and optionally permits, timeout), or { limiter }.')
  }
  const { limiter, permits, timeout, returns, signal: own, ...rate } = options
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) {
    throw new InvalidArgumentError(`@RateLimit({ timeout }): timeout must be a number of milliseconds >= 0, got ${String(timeout)}.`)
  }
  if (own !== undefined && typeof own !== 'function' && !(own instanceof AbortSignal)) {
    throw new InvalidArgumentError('@RateLimit({ signal }): signal must be an AbortSignal or a function of the arguments returning one.')
  }
  let bound: Limit
  if (limiter instanceof Limit) bound = limiter
  else if (limiter instanceof RateLimiter) bound = limit({ rate: limiter, permits })
  else if (limiter !== undefined) throw new InvalidArgumentError('@RateLimit({ limiter }): limiter must be a RateLimiter or a limit() from @yieldpoint/core.')
  else if (rate.tokensPerInterval === undefined)
    throw new InvalidArgumentError('@RateLimit(options): tokensPerInterval is required, e.g. @RateLimit({ tokensPerInterval: 100, interval: 1_000 }).')
  else bound = limit({ rate: rate as RateLimiterOptions, permits, name: rate.name })
  return ((target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor) => {
    if (typeof descriptor?.value !== 'function') throw new InvalidArgumentError(`@RateLimit() can only decorate methods; ${String(propertyKey)} is not one.`)
    const type = Reflect.getMetadata?.('design:returntype', target, propertyKey) as unknown
    const observable =
      returns !== undefined ? returns === 'observable' : type === Observable || (typeof type === 'function' && type.prototype instanceof Observable)
    const original = descriptor.value as Method
    const wrapped = function (this: unknown, ...args: unknown[]) {
      const mine = typeof own === 'function' ? own(...(args as A)) : own
      const acquire = (signal?: AbortSignal): Promise<Guard> => bound.acquire({ signal: bothSignals(mine, signal), timeout })
      return holdWhile(observable, acquire, () => original.apply(this, args))
    }
    copyMethodMetadata(original, wrapped)
    descriptor.value = wrapped
  }) as TypedMethodDecorator<A>
}
