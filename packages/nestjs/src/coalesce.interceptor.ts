import {
  applyDecorators,
  Inject,
  Injectable,
  SetMetadata,
  StreamableFile,
  UseInterceptors,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common'
import { Reflector } from '@nestjs/core'
import { InvalidArgumentError, NotSharedError, TimeoutError, type GetOrSetOptions } from '@yieldpoint/core'
import { lastValueFrom, type Observable } from 'rxjs'
import { observeCall } from './hold'
import { BYPASS_HEADERS, credentialPartition, KEYED_PRECONDITIONS, origin, type CoalescedRequest } from './request-key'
import { YieldpointService } from './yieldpoint.service'

/**
 * Options of {@link Coalesce}.
 * @example
 * ```ts
 * @Coalesce({ ttl: 1_000, credentialHeaders: ['authorization', 'cookie', 'x-api-key'] })
 * ```
 */
export interface CoalesceOptions extends Pick<GetOrSetOptions, 'ttl'> {
  // ttl: cache the handler's result this long (ms). Default 0: only concurrent requests share it.
  /**
   * The resource part of the key, unique within this handler. Default: the URL. The handler, method, scheme and host, credential partition and revalidation
   * preconditions are always added.
   */
  key?: (request: CoalescedRequest) => string
  /**
   * Requests carrying any of `credentialHeaders`: `'partition'` (default) shares only between
   * identical credentials, `'bypass'` never shares, `'ignore'` shares with anyone.
   */
  credentials?: 'partition' | 'bypass' | 'ignore'
  /** Request headers that identify a user. Default `['authorization', 'cookie']`. Any other per-user input must be in the key. */
  credentialHeaders?: string[]
  /** How long a follower waits for the leader before running the handler itself. Default 10,000. */
  followerTimeout?: number
}

/**
 * Metadata key under which `@Coalesce` stores its options.
 * @example
 * ```ts
 * const options = reflector.get(COALESCE_OPTIONS, context.getHandler())
 * ```
 */
export const COALESCE_OPTIONS = 'yieldpoint:coalesce'

const DEFAULTS: Required<Omit<CoalesceOptions, 'key'>> & Pick<CoalesceOptions, 'key'> = {
  ttl: 0,
  credentials: 'partition',
  credentialHeaders: ['authorization', 'cookie'],
  followerTimeout: 10_000,
}

/** Validates `@Coalesce` options and fills in the defaults. @internal */
function resolveOptions(options: unknown): typeof DEFAULTS {
  const fail = (message: string): never => {
    throw new InvalidArgumentError(`@Coalesce(options): ${message}`)
  }
  if (options === null || typeof options !== 'object') fail('options must be an object like { ttl: 1_000 }.')
  const o = options as CoalesceOptions
  if (o.key !== undefined && typeof o.key !== 'function') fail('key must be a function (request) => string.')
  for (const name of ['ttl', 'followerTimeout'] as const) {
    const v = o[name]
    if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v) || v < 0)) fail(`${name} must be a number of milliseconds >= 0, got ${String(v)}.`)
  }
  if (o.credentials !== undefined && !['partition', 'bypass', 'ignore'].includes(o.credentials))
    fail(`credentials must be 'partition', 'bypass' or 'ignore', got ${JSON.stringify(o.credentials)}.`)
  if (o.credentialHeaders !== undefined && (!Array.isArray(o.credentialHeaders) || o.credentialHeaders.some((h) => typeof h !== 'string' || h === ''))) {
    fail(`credentialHeaders must be an array of request header names like ['authorization', 'cookie', 'x-api-key'].`)
  }
  return { ...DEFAULTS, ...o, credentialHeaders: (o.credentialHeaders ?? DEFAULTS.credentialHeaders).map((h) => h.toLowerCase()) }
}

/**
 * Coalesces concurrent identical GET/HEAD requests to a controller handler: the handler runs
 * once and every request receives its result (then serialized per request by Nest, so status and
 * `@Header`s still apply). Guards and pipes still run for every request. Errors reach every
 * waiting request as the same Nest exception. The key holds the method, the scheme and host (as
 * the request sees them under `trust proxy`), the URL, and the credential partition; `Range` and
 * `If-Match`-style requests bypass. Do not use it on handlers that set cookies or otherwise
 * answer per request.
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
    const request = context.switchToHttp().getRequest<CoalescedRequest>()
    if (request.method !== 'GET' && request.method !== 'HEAD') return next.handle()
    for (const h of BYPASS_HEADERS) if (request.headers[h] !== undefined) return next.handle()
    const options = resolveOptions(
      this.reflector.getAllAndOverride<CoalesceOptions | undefined>(COALESCE_OPTIONS, [context.getHandler(), context.getClass()]) ?? {},
    )
    const partition = options.credentials === 'ignore' ? '' : credentialPartition(request, options.credentialHeaders)
    if (partition && options.credentials === 'bypass') return next.handle()
    // The module's cache is shared by every handler: a custom key (`r => r.params.id`) is only
    // unique within its own handler, so the handler is part of the key (by name, which is the
    // same in every process sharing a store).
    const handler = `${context.getClass().name}.${context.getHandler().name}`
    let key = `coalesce:${handler} ${request.method} ${origin(request)} ${options.key ? options.key(request) : (request.originalUrl ?? request.url)}`
    if (partition) key += ` cred:${partition}`
    for (const h of KEYED_PRECONDITIONS) if (request.headers[h] !== undefined) key += ` ${h}:${String(request.headers[h])}`
    return observeCall(async (signal) => {
      let own: Promise<unknown> | undefined
      const load = async (ctx: { share: boolean }): Promise<unknown> => {
        own = lastValueFrom(next.handle(), { defaultValue: undefined })
        const result = await own
        // A stream (StreamableFile, a Readable) can be read once: shared, the others would get
        // a drained or partial body. The followers run the handler themselves; nothing is kept.
        if (isStream(result)) ctx.share = false
        return result
      }
      try {
        return await this.yieldpoint.cache.getOrSet(key, load, { signal, ttl: options.ttl, timeout: options.followerTimeout })
      } catch (error) {
        if (own !== undefined) return own // the leader answers with its own run, however long it takes
        // Waited too long, or the leader's result is not shareable: run it here.
        if ((error instanceof TimeoutError || error instanceof NotSharedError) && !signal.aborted)
          return lastValueFrom(next.handle(), { defaultValue: undefined })
        throw error
      }
    })
  }
}

/** A result Nest pipes to the response (a `StreamableFile` or a stream): readable only once. */
function isStream(result: unknown): boolean {
  return result instanceof StreamableFile || (typeof result === 'object' && result !== null && typeof (result as { pipe?: unknown }).pipe === 'function')
}

/**
 * Applies {@link CoalesceInterceptor} to a controller or handler, with options (validated here,
 * when the decorator is created).
 *
 * @example
 * ```ts
 * @Get(':id') @Coalesce({ ttl: 1_000 })
 * findOne(@Param('id') id: string) { return this.products.find(id) }
 * ```
 * @throws {@link InvalidArgumentError} for invalid options.
 */
export function Coalesce(options: CoalesceOptions = {}): MethodDecorator & ClassDecorator {
  resolveOptions(options)
  return applyDecorators(SetMetadata(COALESCE_OPTIONS, options), UseInterceptors(CoalesceInterceptor))
}
