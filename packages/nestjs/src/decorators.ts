import { Inject } from '@nestjs/common'
import { InvalidArgumentError } from '@yieldpoint/core'
import { Observable } from 'rxjs'
import { copyMethodMetadata } from './copy-metadata'
import { holdWhile, observeCall, settleResult } from './hold'
import { YieldpointService } from './yieldpoint.service'

// Nest names this property when the provider is missing, so the key itself says what to do.
const SERVICE = 'YieldpointService (import YieldpointModule.forRoot() in your root module)'
const INJECTED = Symbol('yieldpoint.injected')

type Method = (...args: any[]) => unknown // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Whether a decorated method returns a Promise (default) or an Observable.
 * @example
 * ```ts
 * @SingleFlight({ returns: 'observable' }) product$(id: string) { return this.http.get(url) }
 * ```
 */
export type Returns = 'promise' | 'observable'

function injectService(target: object): void {
  // One property injection per class, however many methods are decorated. If YieldpointModule
  // is not imported, Nest fails at bootstrap naming YieldpointService as the missing provider.
  if (Object.prototype.hasOwnProperty.call(target, INJECTED)) return
  Object.defineProperty(target, INJECTED, { value: true })
  Inject(YieldpointService)(target, SERVICE)
}

function serviceOf(instance: unknown, where: string): YieldpointService {
  const service = (instance as Record<string, YieldpointService | undefined> | undefined)?.[SERVICE]
  if (service === undefined) {
    throw new InvalidArgumentError(
      `${where}: no YieldpointService on this instance. Import YieldpointModule.forRoot() in your root module, and let Nest create this class (a provider or controller), not \`new\`.`,
    )
  }
  return service
}

function returnsObservable(target: object, key: string | symbol, returns: Returns | undefined): boolean {
  if (returns !== undefined) return returns === 'observable'
  const type = Reflect.getMetadata('design:returntype', target, key) as unknown
  return type === Observable || (typeof type === 'function' && type.prototype instanceof Observable)
}

function wrap(target: object, key: string | symbol, descriptor: PropertyDescriptor, name: string, make: (original: Method, where: string) => Method): void {
  if (typeof descriptor?.value !== 'function') throw new InvalidArgumentError(`@${name}() can only decorate methods; ${String(key)} is not one.`)
  injectService(target)
  const original = descriptor.value as Method
  const wrapped = make(original, `${target.constructor.name}.${String(key)}`)
  copyMethodMetadata(original, wrapped)
  descriptor.value = wrapped
}

/**
 * Options of {@link SingleFlight}.
 * @example
 * ```ts
 * @SingleFlight({ key: (id: string) => `product:${id}`, ttl: 5_000 })
 * ```
 */
export interface SingleFlightOptions {
  /** The cache key from the method's arguments. Default: `Class.method:` + JSON of the arguments. */
  key?: (...args: any[]) => string // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Freshness (ms) of a value loaded by this method. Default: the module cache's `ttl`; `0` = coalesce only. */
  ttl?: number
  /** What the method returns. Default: read from TypeScript's `design:returntype` (needs `emitDecoratorMetadata`), else `'promise'`. */
  returns?: Returns
}

/**
 * Concurrent calls with the same key share one execution of the method, through the module's
 * `SingleFlightCache` (so results are cached with its rules, or `ttl` here). Keeps `this` and all
 * Nest metadata of the method; works on services and controllers; Promise- and
 * Observable-returning methods.
 *
 * @example
 * ```ts
 * @SingleFlight({ key: (id: string) => `product:${id}`, ttl: 5_000 })
 * getProduct(id: string) { return this.http.get(`/products/${id}`) }
 * ```
 */
export function SingleFlight(options: SingleFlightOptions = {}): MethodDecorator {
  if (options.key !== undefined && typeof options.key !== 'function') throw new InvalidArgumentError('@SingleFlight({ key }): key must be a function (...args) => string.')
  return (target, propertyKey, descriptor) => {
    const observable = returnsObservable(target, propertyKey, options.returns)
    wrap(target, propertyKey, descriptor, 'SingleFlight', (original, where) =>
      function (this: unknown, ...args: unknown[]) {
        const cache = serviceOf(this, where).cache
        const key = options.key ? options.key(...args) : `${where}:${JSON.stringify(args)}`
        const call = (signal?: AbortSignal): Promise<unknown> =>
          cache.getOrSet(key, ({ signal: loadSignal }) => settleResult(original.apply(this, args), loadSignal), { signal, ttl: options.ttl })
        return observable ? observeCall(call) : call()
      },
    )
  }
}

/**
 * Runs the method under a per-key lock of the module's `KeyedLock`: calls with the same key run
 * one at a time (FIFO), other keys in parallel. `key` is a fixed string or a function of the
 * arguments.
 *
 * @example
 * ```ts
 * @WithLock((accountId: string) => `account:${accountId}`)
 * async transfer(accountId: string, amount: number) { … }
 * ```
 */
export function WithLock(key: string | ((...args: any[]) => string), options: { returns?: Returns } = {}): MethodDecorator { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (typeof key !== 'string' && typeof key !== 'function') throw new InvalidArgumentError('@WithLock(key): key must be a string or a function (...args) => string.')
  return (target, propertyKey, descriptor) => {
    const observable = returnsObservable(target, propertyKey, options.returns)
    wrap(target, propertyKey, descriptor, 'WithLock', (original, where) =>
      function (this: unknown, ...args: unknown[]) {
        const locks = serviceOf(this, where).locks
        const k = typeof key === 'function' ? key(...args) : key
        return holdWhile(observable, (signal) => locks.acquire(k, { signal }), () => original.apply(this, args))
      },
    )
  }
}

/**
 * At most `limit` calls of this method run at once (across all instances); the rest wait in FIFO
 * order.
 *
 * @example
 * ```ts
 * @Concurrency(4)
 * callPartnerApi() { … }
 * ```
 */
export function Concurrency(limit: number, options: { returns?: Returns } = {}): MethodDecorator {
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError(`@Concurrency(limit): limit must be an integer >= 1, got ${String(limit)}.`)
  return (target, propertyKey, descriptor) => {
    const observable = returnsObservable(target, propertyKey, options.returns)
    wrap(target, propertyKey, descriptor, 'Concurrency', (original, where) =>
      function (this: unknown, ...args: unknown[]) {
        const sem = serviceOf(this, where).semaphore(where, limit)
        return holdWhile(observable, (signal) => sem.acquire({ signal }), () => original.apply(this, args))
      },
    )
  }
}
