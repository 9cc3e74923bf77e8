import { Inject, Injectable } from '@nestjs/common'
import { KeyedLock, Semaphore, SingleFlightCache } from '@yieldpoint/core'
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

  constructor(@Inject(MODULE_OPTIONS_TOKEN) options: YieldpointModuleOptions) {
    const cache = options?.cache
    this.cache =
      cache instanceof SingleFlightCache
        ? cache
        : new SingleFlightCache<string, unknown>({ ...(cache ?? {}), ...(options?.store ? { store: options.store } : {}) })
    this.locks = options?.locks ?? new KeyedLock<string>()
  }

  /** The semaphore named `name`, created with `permits` the first time. */
  semaphore(name: string, permits: number): Semaphore {
    let sem = this.semaphores.get(name)
    if (sem === undefined) this.semaphores.set(name, (sem = new Semaphore(permits)))
    return sem
  }
}
