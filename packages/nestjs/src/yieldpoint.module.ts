import { Module } from '@nestjs/common'
import { CoalesceInterceptor } from './coalesce.interceptor'
import { ConfigurableModuleClass } from './yieldpoint.module-definition'
import { YieldpointService } from './yieldpoint.service'

/**
 * Configures yieldpoint once for the app: `forRoot(options)` or `forRootAsync({ useFactory,
 * inject, imports })`, with `isGlobal` to make it available everywhere. Provides and exports
 * {@link YieldpointService} and {@link CoalesceInterceptor}.
 *
 * @example
 * ```ts
 * @Module({ imports: [YieldpointModule.forRoot({ cache: { ttl: 5_000 }, isGlobal: true })] })
 * export class AppModule {}
 * ```
 */
@Module({ providers: [YieldpointService, CoalesceInterceptor], exports: [YieldpointService, CoalesceInterceptor] })
export class YieldpointModule extends ConfigurableModuleClass {}
