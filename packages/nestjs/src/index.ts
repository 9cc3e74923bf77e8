export { YieldpointModule } from './yieldpoint.module'
export { YieldpointService } from './yieldpoint.service'
export type { YieldpointModuleOptions } from './yieldpoint.module-definition'
/**
 * The injection token of the options given to `YieldpointModule.forRoot()` / `forRootAsync()`.
 * @example
 * ```ts
 * constructor(@Inject(YIELDPOINT_MODULE_OPTIONS) private readonly options: YieldpointModuleOptions) {}
 * ```
 */
export { MODULE_OPTIONS_TOKEN as YIELDPOINT_MODULE_OPTIONS } from './yieldpoint.module-definition'
export {
  SingleFlight,
  WithLock,
  Concurrency,
  type SingleFlightOptions,
  type ConcurrencyOptions,
  type CallOptions,
  type TypedMethodDecorator,
  type Returns,
} from './decorators'
export { Coalesce, CoalesceInterceptor, COALESCE_OPTIONS, type CoalesceOptions } from './coalesce.interceptor'
export type { CoalescedRequest } from './request-key'
export { serializeHttpException, reviveHttpException, reviveHttpExceptionWith } from './remote-errors'
export { RateLimit, type RateLimitOptions } from './rate-limit.decorator'
