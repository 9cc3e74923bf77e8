import { InvalidArgumentError, OverReleaseError } from './errors'
import { Semaphore, type SemaphoreStatistics } from './semaphore'
import type { PrimitiveOptions } from './diagnostics-watch'

/**
 * What `BoundedSemaphore.statistics()` returns: the {@link SemaphoreStatistics} plus its bound.
 * @example
 * ```ts
 * const { value, bound } = pool.statistics()
 * ```
 */
export interface BoundedSemaphoreStatistics extends SemaphoreStatistics {
  /** The initial (and maximum) number of permits. */
  bound: number
}

/**
 * A {@link Semaphore} that refuses to be released above its initial value — the usual symptom
 * of a double release. Permits handed to woken waiters count as held, so a release never fails
 * spuriously (asyncio's rule).
 *
 * @example
 * ```ts
 * const pool = new BoundedSemaphore(2)
 * pool.release() // throws OverReleaseError: nothing was acquired
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  /** The initial (and maximum) number of permits. */
  readonly bound: number

  /**
   * @param permits how many permits it starts with, which is also the most it may hold. Default 1.
   * @param options `name` and `warnAfter` (see {@link Semaphore}).
   * @throws {@link InvalidArgumentError} for a negative or fractional count or a malformed option.
   */
  constructor(permits = 1, options?: PrimitiveOptions) {
    super(permits, options)
    this.bound = permits
  }

  /** A snapshot for logs and metrics. */
  override statistics(): BoundedSemaphoreStatistics {
    return { ...super.statistics(), bound: this.bound }
  }

  /**
   * Returns one permit.
   * @throws {@link OverReleaseError} if every permit is already free (value unchanged).
   */
  override release(): void {
    this.releasePermits(1)
  }

  /** @internal */
  protected override releasePermits(n: number): void {
    if (this.permits + n > this.bound) {
      throw new OverReleaseError(
        `${this.meta.who} released too many times: releasing ${n} would make ${this.permits + n} free permits, above ` +
          `its bound of ${this.bound}. Release only permits you acquired (keep the Guard and call guard.release() once).`,
      )
    }
    super.releasePermits(n)
  }

  /** @internal */
  protected override checkRequest(permits: unknown, method: string): number {
    const n = super.checkRequest(permits, method)
    if (n > this.bound) {
      throw new InvalidArgumentError(
        `BoundedSemaphore.${method}(): asked for ${n} permits but the bound is ${this.bound}, so it could never be granted. Ask for at most ${this.bound}.`,
      )
    }
    return n
  }
}
