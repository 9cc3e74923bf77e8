import { applyDecorators, Inject, Injectable, SetMetadata, UseInterceptors, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common'
import { Reflector } from '@nestjs/core'
import { createHash } from 'node:crypto'
import { lastValueFrom, type Observable } from 'rxjs'
import { observeCall } from './hold'
import { YieldpointService } from './yieldpoint.service'

/**
 * Options of {@link Coalesce}.
 * @example
 * ```ts
 * @Coalesce({ ttl: 1_000, credentials: 'bypass' })
 * ```
 */
export interface CoalesceOptions {
  /** Cache the handler's result this long (ms). Default 0: only concurrent requests share it. */
  ttl?: number
  /** The key. Default: method + URL. The credential partition is added to it. */
  key?: (request: { method: string; url: string; originalUrl?: string; headers: Record<string, string | string[] | undefined> }) => string
  /** Requests with `Authorization`/`Cookie`: `'partition'` (default) shares only between identical credentials, `'bypass'` never shares, `'ignore'` shares with anyone. */
  credentials?: 'partition' | 'bypass' | 'ignore'
}

/**
 * Metadata key under which `@Coalesce` stores its options.
 * @example
 * ```ts
 * const options = reflector.get(COALESCE_OPTIONS, context.getHandler())
 * ```
 */
export const COALESCE_OPTIONS = 'yieldpoint:coalesce'

/**
 * Coalesces concurrent identical GET/HEAD requests to a controller handler: the handler runs
 * once and every request receives its result (then serialized per request by Nest, so status and
 * `@Header`s still apply). Guards and pipes still run for every request. Errors reach every
 * waiting request as the same Nest exception. Per-user safety as in `@yieldpoint/express`:
 * requests with `Authorization` or `Cookie` are only coalesced with requests carrying the same
 * credentials. Do not use it on handlers that set cookies or otherwise answer per request.
 *
 * @example
 * ```ts
 * @UseInterceptors(CoalesceInterceptor) @Get(':id') findOne(@Param('id') id: string) { … }
 * ```
 */
@Injectable()
export class CoalesceInterceptor implements NestInterceptor {
  constructor(
    @Inject(YieldpointService) private readonly yieldpoint: YieldpointService,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle()
    const request = context.switchToHttp().getRequest<{ method: string; url: string; originalUrl?: string; headers: Record<string, string | string[] | undefined> }>()
    if (request.method !== 'GET' && request.method !== 'HEAD') return next.handle()
    const options = this.reflector.getAllAndOverride<CoalesceOptions | undefined>(COALESCE_OPTIONS, [context.getHandler(), context.getClass()]) ?? {}
    const credential = ['authorization', 'cookie'].map((h) => request.headers[h] ?? '').join('\n')
    const credentials = options.credentials ?? 'partition'
    if (credential !== '\n' && credentials === 'bypass') return next.handle()
    let key = `coalesce:${request.method} ${options.key ? options.key(request) : (request.originalUrl ?? request.url)}`
    if (credential !== '\n' && credentials === 'partition') key += ` cred:${createHash('sha256').update(credential).digest('base64url')}`
    return observeCall((signal) => this.yieldpoint.cache.getOrSet(key, () => lastValueFrom(next.handle(), { defaultValue: undefined }), { signal, ttl: options.ttl ?? 0 }))
  }
}

/**
 * Applies {@link CoalesceInterceptor} to a controller or handler, with options.
 *
 * @example
 * ```ts
 * @Get(':id') @Coalesce({ ttl: 1_000 })
 * findOne(@Param('id') id: string) { return this.products.find(id) }
 * ```
 */
export function Coalesce(options: CoalesceOptions = {}): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(COALESCE_OPTIONS, options), UseInterceptors(CoalesceInterceptor))
}
