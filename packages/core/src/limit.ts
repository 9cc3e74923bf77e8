import { InvalidArgumentError } from './errors'
import { Guard } from './guard'
import { deadlineSignal } from './deadline'
import { runWith } from './lock'
import { checkFunction, describe, type WaitOptions } from './options'
import { RateLimiter, type RateLimiterOptions, type RateLimiterStatistics } from './rate-limiter'
import { Semaphore } from './semaphore'

/**
 * Options of {@link limit}: a concurrency bound, a rate, or both.
 * @example
 * ```ts
 * const opts: LimitOptions = { permits: 5, rate: { tokensPerInterval: 100, interval: 1_000 } }
 * ```
 */
export interface LimitOptions {
  /** Most calls in flight at once: a number of permits, or a shared {@link Semaphore}. */
  permits?: number | Semaphore | undefined
  /** Most calls started per interval: {@link RateLimiterOptions}, or a shared {@link RateLimiter}. */
  rate?: RateLimiterOptions | RateLimiter | undefined
  /** A label used in messages and `statistics()`. */
  name?: string | undefined
}

/**
 * A snapshot of a {@link Limit}.
 * @example
 * ```ts
 * const { inFlight, rate } = partner.statistics()
 * ```
 */
export interface LimitStatistics {
  name: string | undefined
  /** Calls holding a permit right now. */
  inFlight: number
  /** Callers waiting for a permit or a token. */
  waiting: number
  /** The rate limiter's own statistics, if there is a rate. */
  rate: RateLimiterStatistics | undefined
}

/**
 * "≤ 5 in flight and ≤ 100 per second" in one object, made by {@link limit}. A caller first
 * takes a permit (FIFO), then a token (FIFO), so the token is spent just before the call
 * starts; a caller that aborts while waiting for its token gives its permit back.
 * @example
 * ```ts
 * const partner = limit({ permits: 5, rate: { tokensPerInterval: 100, interval: 1_000 } })
 * const data = await partner.run(() => fetch(url).then((r) => r.json()), { timeout: 10_000 })
 * ```
 */
export class Limit {
  /** The concurrency bound, if any. */
  readonly semaphore: Semaphore | undefined
  /** The rate, if any. */
  readonly limiter: RateLimiter | undefined
  readonly name: string | undefined
  private inFlight = 0
  private waiting = 0
  // Permits held by callers; any one of them can be returned (they are interchangeable).
  private readonly permits: Guard[] = []
  private readonly label: string

  /** @internal use {@link limit} */
  constructor(semaphore: Semaphore | undefined, limiter: RateLimiter | undefined, name: string | undefined) {
    this.semaphore = semaphore
    this.limiter = limiter
    this.name = name
    this.label = name === undefined ? 'limit()' : `limit(${JSON.stringify(name)})`
  }

  /**
   * Waits for a permit and then a token; resolves with a {@link Guard} that gives the permit
   * back (the token is spent). `timeout` covers both waits together.
   * @example
   * ```ts
   * using _ = await partner.acquire({ signal })
   * await callPartner()
   * ```
   */
  async acquire(opts?: WaitOptions): Promise<Guard> {
    // One deadline for both waits, so `timeout` bounds the whole call.
    const { signal, dispose } = deadlineSignal(opts, `${this.label}.acquire()`)
    if (signal?.aborted) {
      dispose()
      throw signal.reason
    }
    const wait = signal === undefined ? undefined : { signal }
    this.waiting++
    let permit: Guard | undefined
    try {
      if (this.semaphore !== undefined) permit = await this.semaphore.acquire(wait)
      if (this.limiter !== undefined) await this.limiter.acquire(wait)
    } catch (error) {
      // The permit was granted, the token was not: give the permit back, take nothing.
      permit?.release()
      throw error
    } finally {
      this.waiting--
      dispose()
    }
    return this.grant(permit)
  }

  /**
   * Takes a permit and a token only if neither needs waiting; otherwise takes nothing.
   * @example
   * ```ts
   * const guard = partner.tryAcquire()
   * if (guard === undefined) return 'busy'
   * ```
   */
  tryAcquire(): Guard | undefined {
    const guard = this.semaphore?.tryAcquire()
    if (this.semaphore !== undefined && guard === undefined) return undefined
    if (this.limiter !== undefined && !this.limiter.tryAcquire()) {
      guard?.release()
      return undefined
    }
    return this.grant(guard)
  }

  /**
   * Runs `fn` within both limits and returns its result; the permit is returned however it ends.
   * @example
   * ```ts
   * await Promise.all(ids.map((id) => partner.run(() => getItem(id))))
   * ```
   */
  run<R>(fn: () => R | PromiseLike<R>, opts?: WaitOptions): Promise<Awaited<R>> {
    checkFunction(fn, `${this.label}.run`)
    return runWith(this.acquire(opts), fn)
  }

  /**
   * A snapshot for logs and metrics.
   * @example
   * ```ts
   * console.log(partner.statistics().inFlight)
   * ```
   */
  statistics(): LimitStatistics {
    return { name: this.name, inFlight: this.inFlight, waiting: this.waiting, rate: this.limiter?.statistics() }
  }

  /** @internal */
  releaseGuard(): void {
    const permit = this.permits.pop()
    this.inFlight--
    permit?.release()
  }

  private grant(permit: Guard | undefined): Guard {
    if (permit !== undefined) this.permits.push(permit)
    this.inFlight++
    return new Guard(this, 0)
  }
}

/**
 * One object for "at most `permits` in flight and at most `rate.tokensPerInterval` started per
 * `rate.interval`" — the usual contract of a partner API. Pass instances to share a limit with
 * other code (e.g. a {@link RateLimiter} that a Redis limiter mirrors).
 * @throws {@link InvalidArgumentError} if neither `permits` nor `rate` is given, or one is malformed.
 * @example
 * ```ts
 * const partner = limit({ permits: 5, rate: { tokensPerInterval: 100, interval: 1_000 } })
 * const rows = await Promise.all(ids.map((id) => partner.run(() => api.get(id))))
 * ```
 */
export function limit(options: LimitOptions): Limit {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      `limit(): options must be an object like { permits: 5, rate: { tokensPerInterval: 100, interval: 1_000 } }, got ${describe(options)}.`,
    )
  }
  const { permits, rate, name } = options
  if (permits === undefined && rate === undefined) {
    throw new InvalidArgumentError(
      'limit(): give permits (most in flight), rate (most per interval), or both, ' +
        'e.g. limit({ permits: 5, rate: { tokensPerInterval: 100, interval: 1_000 } }).',
    )
  }
  if (name !== undefined && typeof name !== 'string') throw new InvalidArgumentError(`limit(): name must be a string, got ${describe(name)}.`)
  let semaphore: Semaphore | undefined
  if (permits instanceof Semaphore) semaphore = permits
  else if (permits !== undefined) {
    if (typeof permits !== 'number' || !Number.isSafeInteger(permits) || permits < 1) {
      throw new InvalidArgumentError(`limit(): permits must be an integer >= 1 or a Semaphore, got ${describe(permits)}.`)
    }
    semaphore = new Semaphore(permits)
  }
  const limiter = rate === undefined ? undefined : rate instanceof RateLimiter ? rate : new RateLimiter({ ...rate, name: rate.name ?? name })
  return new Limit(semaphore, limiter, name)
}
