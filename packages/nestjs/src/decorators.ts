import { Inject } from '@nestjs/common'
import { InvalidArgumentError, type GetOrSetOptions, type WaitOptions } from '@yieldpoint/core'
import { Observable, throwError } from 'rxjs'
import { copyMethodMetadata } from './copy-metadata'
import { defaultKey } from './default-key'
import { bothSignals, holdWhile, observeCall, settleResult } from './hold'
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

/**
 * What every method decorator accepts, typed over the method's parameters `A`: `timeout` (this
 * call stops waiting after N ms and rejects with `TimeoutError`) and `signal` (an AbortSignal, or
 * a function of the call's arguments returning one), plus `returns`.
 * @example
 * ```ts
 * @WithLock((id: string) => `account:${id}`, { timeout: 2_000, signal: (_id: string, signal?: AbortSignal) => signal })
 * ```
 */
export interface CallOptions<A extends unknown[] = unknown[]> extends Pick<WaitOptions, 'timeout'> {
  /** Cancels this call's wait: an AbortSignal, or a function of the call's arguments returning one. */
  signal?: AbortSignal | ((...args: A) => AbortSignal | undefined)
  /** What the method returns. Default: read from TypeScript's `design:returntype` (needs `emitDecoratorMetadata`), else `'promise'`. */
  returns?: Returns
}

/**
 * A method decorator that only applies to methods whose parameters the `key`/`signal` functions
 * accept: a key function for other arguments is a compile error.
 * @example
 * ```ts
 * const lockAccount: TypedMethodDecorator<[id: string]> = WithLock((id: string) => id)
 * ```
 */
export type TypedMethodDecorator<A extends unknown[]> = <T extends (...args: any[]) => unknown>(
  // eslint-disable-line @typescript-eslint/no-explicit-any
  target: object,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<T> &
    (T extends (...args: infer P) => unknown ? (((...args: A) => unknown) extends (...args: P) => unknown ? unknown : never) : never),
) => void

function injectService(target: object): void {
  // One property injection per class, however many methods are decorated. If YieldpointModule
  // is not imported, Nest fails at bootstrap naming YieldpointService as the missing provider.
  if (Object.hasOwn(target, INJECTED)) return
  Object.defineProperty(target, INJECTED, { value: true })
  Inject(YieldpointService)(target, SERVICE)
}

function serviceOf(instance: unknown, where: string): YieldpointService {
  const service = (instance as Record<string, YieldpointService | undefined> | undefined)?.[SERVICE]
  if (service === undefined) {
    throw new InvalidArgumentError(
      `${where}: no YieldpointService on this instance. Import YieldpointModule.forRoot() in your root module, ` +
        'and let Nest create this class (a provider or controller), not `new`.',
    )
  }
  return service
}

function returnsObservable(target: object, key: string | symbol, returns: Returns | undefined): boolean {
  if (returns !== undefined) return returns === 'observable'
  const type = Reflect.getMetadata('design:returntype', target, key) as unknown
  return type === Observable || (typeof type === 'function' && type.prototype instanceof Observable)
}

/**
 * The one method decorator behind `@SingleFlight`, `@WithLock` and `@Concurrency`: decides whether
 * the method returns an Observable, refuses a non-method, injects the service, and swaps in
 * `make`'s wrapper with the original's metadata copied over.
 */
function methodDecorator<A extends unknown[]>(
  name: string,
  returns: Returns | undefined,
  make: (original: Method, where: string, observable: boolean) => Method,
): TypedMethodDecorator<A> {
  return ((target: object, key: string | symbol, descriptor: PropertyDescriptor) => {
    const observable = returnsObservable(target, key, returns)
    if (typeof descriptor?.value !== 'function') throw new InvalidArgumentError(`@${name}() can only decorate methods; ${String(key)} is not one.`)
    injectService(target)
    const original = descriptor.value as Method
    const wrapped = make(original, `${target.constructor.name}.${String(key)}`, observable)
    copyMethodMetadata(original, wrapped)
    descriptor.value = wrapped
  }) as TypedMethodDecorator<A>
}

/** Checks `{ timeout, signal, returns }` when the decorator is created. */
function checkCallOptions(options: unknown, name: string): CallOptions<unknown[]> {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError(`@${name}(): options must be an object like { timeout: 2_000 }, got ${String(options)}.`)
  const { timeout, signal, returns } = options as CallOptions<unknown[]>
  if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) {
    throw new InvalidArgumentError(`@${name}({ timeout }): timeout must be a number of milliseconds >= 0 (Infinity for none), got ${String(timeout)}.`)
  }
  if (signal !== undefined && typeof signal !== 'function' && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`@${name}({ signal }): signal must be an AbortSignal or a function (...args) => AbortSignal | undefined.`)
  }
  if (returns !== undefined && returns !== 'promise' && returns !== 'observable') {
    throw new InvalidArgumentError(`@${name}({ returns }): returns must be 'promise' or 'observable', got ${String(returns)}.`)
  }
  return options as CallOptions<unknown[]>
}

function signalOf(options: CallOptions<unknown[]>, args: unknown[]): AbortSignal | undefined {
  return typeof options.signal === 'function' ? options.signal(...args) : options.signal
}

/** A call that failed before it started: rejected for a Promise method, an error for an Observable one. */
function failedCall(observable: boolean, error: unknown): unknown {
  return observable ? throwError(() => error) : Promise.reject(error)
}

/**
 * Options of {@link SingleFlight}, typed over the method's parameters `A`.
 * @example
 * ```ts
 * @SingleFlight({ key: (id: string) => `product:${id}`, ttl: 5_000, timeout: 2_000 })
 * ```
 */
export interface SingleFlightOptions<A extends unknown[] = unknown[]> extends CallOptions<A>, Pick<GetOrSetOptions, 'ttl'> {
  /**
   * The cache key from the method's arguments. Default: `Class.method:` + a faithful encoding of
   * the arguments — primitives, and arrays and plain objects of them; any other argument (`Set`,
   * `Map`, `Date`, a class instance, …) makes the call fail with `InvalidArgumentError` asking for
   * a `key`.
   */
  key?: (...args: A) => string
}

/**
 * Concurrent calls with the same key share one execution of the method, through the module's
 * `SingleFlightCache` (so results are cached with its rules, or `ttl` here). Keeps `this` and all
 * Nest metadata of the method; works on services and controllers; Promise- and
 * Observable-returning methods. `timeout`/`signal` end this call's wait only.
 *
 * @example
 * ```ts
 * @SingleFlight({ key: (id: string) => `product:${id}`, ttl: 5_000 })
 * getProduct(id: string) { return this.http.get(`/products/${id}`) }
 * ```
 * @throws {@link InvalidArgumentError} for invalid options, when the decorator is created.
 */
export function SingleFlight<A extends unknown[] = unknown[]>(options: SingleFlightOptions<A> = {}): TypedMethodDecorator<A> {
  const checked = checkCallOptions(options, 'SingleFlight') as SingleFlightOptions<unknown[]>
  if (checked.key !== undefined && typeof checked.key !== 'function')
    throw new InvalidArgumentError('@SingleFlight({ key }): key must be a function (...args) => string.')
  if (checked.ttl !== undefined && (typeof checked.ttl !== 'number' || Number.isNaN(checked.ttl) || checked.ttl < 0)) {
    throw new InvalidArgumentError(`@SingleFlight({ ttl }): ttl must be a number of milliseconds >= 0, got ${String(checked.ttl)}.`)
  }
  return methodDecorator<A>(
    'SingleFlight',
    checked.returns,
    (original, where, observable) =>
      function (this: unknown, ...args: unknown[]) {
        let key: string
        try {
          key = checked.key ? checked.key(...args) : defaultKey(where, args)
        } catch (error) {
          return failedCall(observable, error)
        }
        const cache = serviceOf(this, where).cache
        const own = signalOf(checked, args)
        const call = (signal?: AbortSignal): Promise<unknown> =>
          cache.getOrSet(key, ({ signal: loadSignal }) => settleResult(original.apply(this, args), loadSignal), {
            signal: bothSignals(own, signal),
            timeout: checked.timeout,
            ttl: checked.ttl,
          })
        return observable ? observeCall(call) : call()
      },
  )
}

/**
 * Runs the method under a per-key lock of the module's `KeyedLock`: calls with the same key run
 * one at a time (FIFO), other keys in parallel. `key` is a fixed string or a function of the
 * arguments. Whatever the method does — returns a Promise, an Observable, a value, throws — the
 * caller gets its result or error and the lock is released.
 *
 * @example
 * ```ts
 * @WithLock((accountId: string) => `account:${accountId}`, { timeout: 5_000 })
 * async transfer(accountId: string, amount: number) { … }
 * ```
 * @throws {@link InvalidArgumentError} for an invalid key or options, when the decorator is created.
 */
export function WithLock<A extends unknown[] = unknown[]>(key: string | ((...args: A) => string), options: CallOptions<A> = {}): TypedMethodDecorator<A> {
  if (typeof key !== 'string' && typeof key !== 'function')
    throw new InvalidArgumentError('@WithLock(key): key must be a string or a function (...args) => string.')
  const checked = checkCallOptions(options, 'WithLock')
  return methodDecorator<A>(
    'WithLock',
    checked.returns,
    (original, where, observable) =>
      function (this: unknown, ...args: unknown[]) {
        let k: string
        try {
          k = typeof key === 'function' ? (key as (...a: unknown[]) => string)(...args) : key
        } catch (error) {
          return failedCall(observable, error)
        }
        const locks = serviceOf(this, where).locks
        const own = signalOf(checked, args)
        return holdWhile(
          observable,
          (signal) => locks.acquire(k, { signal: bothSignals(own, signal), timeout: checked.timeout }),
          () => original.apply(this, args),
        )
      },
  )
}

/**
 * Options of {@link Concurrency}.
 * @example
 * ```ts
 * @Concurrency({ permits: 4, timeout: 2_000 })
 * ```
 */
export interface ConcurrencyOptions<A extends unknown[] = unknown[]> extends CallOptions<A> {
  /** Calls of this method that run at once (the semaphore's permits). */
  permits: number
}

/**
 * At most `permits` calls of this method run at once (across all instances); the rest wait in
 * FIFO order. Whatever the method does, the caller gets its result or error and the permit is
 * given back.
 *
 * @example
 * ```ts
 * @Concurrency({ permits: 4 })
 * callPartnerApi() { … }
 * ```
 * @throws {@link InvalidArgumentError} for invalid options, when the decorator is created.
 */
export function Concurrency<A extends unknown[] = unknown[]>(options: ConcurrencyOptions<A>): TypedMethodDecorator<A> {
  const checked = checkCallOptions(options, 'Concurrency') as ConcurrencyOptions<unknown[]>
  if (!Number.isSafeInteger(checked.permits) || checked.permits < 1) {
    throw new InvalidArgumentError(`@Concurrency({ permits }): permits must be an integer >= 1 (calls at once), got ${String(checked.permits)}.`)
  }
  return methodDecorator<A>(
    'Concurrency',
    checked.returns,
    (original, where, observable) =>
      function (this: unknown, ...args: unknown[]) {
        const sem = serviceOf(this, where).semaphore(where, checked.permits)
        const own = signalOf(checked, args)
        return holdWhile(
          observable,
          (signal) => sem.acquire({ signal: bothSignals(own, signal), timeout: checked.timeout }),
          () => original.apply(this, args),
        )
      },
  )
}
