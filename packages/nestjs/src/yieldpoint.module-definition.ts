import { ConfigurableModuleBuilder } from '@nestjs/common'
import type { KeyedLock, SingleFlightCache, SingleFlightCacheOptions, Store } from '@yieldpoint/core'

/**
 * Options of `YieldpointModule.forRoot()`.
 * @example
 * ```ts
 * YieldpointModule.forRoot({ cache: { ttl: 5_000 }, store: new RedisStore({ client }) })
 * ```
 */
export interface YieldpointModuleOptions {
  /**
   * The cache behind `@SingleFlight` and `@Coalesce`: options for a new `SingleFlightCache`
   * (e.g. `{ ttl: 5_000, staleWhileRevalidate: 30_000 }`) or a cache you built. Default `{}`.
   */
  cache?: SingleFlightCacheOptions<string, unknown> | SingleFlightCache<string, unknown>
  /** A `Store` for the cache — the backend; e.g. the Redis store to share it across processes. */
  store?: Store<string, unknown>
  /** The `KeyedLock` behind `@WithLock`. Default: a new one. */
  locks?: KeyedLock<string>
}

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } = new ConfigurableModuleBuilder<YieldpointModuleOptions>({
  moduleName: 'Yieldpoint',
})
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build()
