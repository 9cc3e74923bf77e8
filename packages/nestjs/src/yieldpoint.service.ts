import { Inject, Injectable } from '@nestjs/common'
import { InvalidArgumentError, KeyedLock, Semaphore, SingleFlightCache } from '@yieldpoint/core'
import { MODULE_OPTIONS_TOKEN, type YieldpointModuleOptions } from './yieldpoint.module-definition'

/**
 * Owns what the decorators use: the `SingleFlightCache`, the `KeyedLock` and one `Semaphore`
 * per `@Concurrency` method. Inject it to use them directly.
 *
 * @example
 * ```ts
 * constructor(@Inject(YieldpointService) private readonly yp: YieldpointService) {}
 * await this.yp.cache.delete(`product:${id}`) // after a write
 * ```
 */
@Injectable()
export class YieldpointService {
  readonly cache: SingleFlightCache<string, unknown>
  readonly locks: KeyedLock<string>
  private readonly semaphores = new Map<string, Semaphore>()
  private readonly sizes = new Map<string, number>()

  constructor(@Inject(MODULE_OPTIONS_TOKEN) options: YieldpointModuleOptions) {
    const cache = options?.cache
    if (cache instanceof SingleFlightCache && options.store !== undefined) {
      throw new InvalidArgumentError(
        'YieldpointModule.forRoot({ cache, store }): store configures a new cache and would be ignored next to a SingleFlightCache ' +
          'instance: build that cache with the store, or pass cache options.',
      )
    }
    if (options?.locks !== undefined && !(options.locks instanceof KeyedLock))
      throw new InvalidArgumentError('YieldpointModule.forRoot({ locks }): locks must be a KeyedLock<string>.')
    this.cache =
      cache instanceof SingleFlightCache
        ? cache
        : new SingleFlightCache<string, unknown>({ ...(cache ?? {}), ...(options?.store ? { store: options.store } : {}) })
    this.locks = options?.locks ?? new KeyedLock<string>()
  }

  /**
   * The semaphore named `name`, created with `permits` the first time.
   * @throws {@link InvalidArgumentError} if `name` exists with a different number of permits.
   */
  semaphore(name: string, permits: number): Semaphore {
    if (!Number.isSafeInteger(permits) || permits < 1)
      throw new InvalidArgumentError(`YieldpointService.semaphore(name, permits): permits must be an integer >= 1, got ${String(permits)}.`)
    const known = this.sizes.get(name)
    if (known !== undefined && known !== permits) {
      throw new InvalidArgumentError(
        `YieldpointService.semaphore(${JSON.stringify(name)}, ${permits}): this semaphore already exists with ${known} permits; use one number per name.`,
      )
    }
    this.sizes.set(name, permits)
    let sem = this.semaphores.get(name)
    if (sem === undefined) this.semaphores.set(name, (sem = new Semaphore(permits)))
    return sem
  }
}
