import { InvalidArgumentError, startTimer } from '@yieldpoint/core'
import { toRedisClient, type RedisClient } from './client'
import { RedisReplyError, RedisUnavailableError } from './errors'

/**
 * Options shared by RedisStore and RedisKeyedLock for talking to Redis.
 * @example
 * ```ts
 * new RedisStore({ client, commandTimeout: 250, breakerMs: 5_000 })
 * ```
 */
export interface ConnectionOptions {
  /** Every Redis command gives up after this many ms (`Infinity`: no limit). Default 1,000. */
  commandTimeout?: number
  /** After Redis failed to answer, skip it for this long (ms) before trying again (circuit breaker); 0 turns the breaker off. Default 2,000. */
  breakerMs?: number
}

/** What a command does if its caller has already given up when the answer arrives. */
export interface RunOptions<T> {
  /** The caller's signal: on abort the call rejects with `signal.reason` at once (Redis is not blamed). */
  signal?: AbortSignal | undefined
  /** Called with the result of a command that succeeded after its caller stopped waiting (to undo it). */
  late?: (result: T) => void
}

/**
 * Runs Redis commands bounded by a timeout each and by the caller's signal, with a circuit breaker:
 * after Redis failed to answer, calls fail fast for `breakerMs`, then Redis is tried again — so
 * callers never wait on a dead Redis. An error *reply* is not an outage: it is rethrown as
 * {@link RedisReplyError} and leaves the breaker closed.
 * @internal
 */
export class Connection {
  private downUntil = 0
  readonly client: RedisClient
  readonly timeoutMs: number
  private readonly breakerMs: number

  constructor(client: unknown, options: ConnectionOptions & { subscriber?: unknown }, api: string) {
    this.timeoutMs = checkDuration(options.commandTimeout, 1_000, `${api}: commandTimeout`, { infinite: true })
    this.breakerMs = checkDuration(options.breakerMs, 2_000, `${api}: breakerMs`, { zero: true })
    this.client = toRedisClient(client, { subscriber: options.subscriber, api })
  }

  get healthy(): boolean {
    return performance.now() >= this.downUntil
  }

  /** Marks Redis as down (opens the breaker). */
  markDown(): void {
    this.downUntil = performance.now() + this.breakerMs
  }

  run<T>(what: string, command: (client: RedisClient) => Promise<T>, opts: RunOptions<T> = {}): Promise<T> {
    const { signal, late } = opts
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (!this.healthy)
      return Promise.reject(new RedisUnavailableError(`${what}: Redis was unreachable moments ago; not retrying for up to ${this.breakerMs} ms.`))
    return new Promise<T>((resolve, reject) => {
      let settled = false
      // Whichever of answer, timeout and abort comes first decides; the others are ignored.
      const finish = (): boolean => {
        if (settled) return false
        settled = true
        timer?.clear()
        signal?.removeEventListener('abort', onAbort)
        return true
      }
      const fail = (reason: unknown, down: boolean): void => {
        if (!finish()) return
        if (down) this.markDown()
        reject(reason)
      }
      const onAbort = (): void => fail(signal!.reason, false)
      const timer =
        this.timeoutMs === Infinity
          ? undefined
          : startTimer(this.timeoutMs, () => fail(new RedisUnavailableError(`${what}: no answer from Redis within ${this.timeoutMs} ms.`), true))
      signal?.addEventListener('abort', onAbort, { once: true })
      let pending: Promise<T>
      try {
        pending = command(this.client)
      } catch (error) {
        pending = Promise.reject(error)
      }
      pending.then(
        (value) => {
          if (finish()) resolve(value)
          else late?.(value) // the caller is gone: undo what the command did
        },
        (error: unknown) => {
          if (error instanceof RedisReplyError) return fail(error, false) // a wrong request, not an outage
          fail(
            error instanceof RedisUnavailableError
              ? error
              : new RedisUnavailableError(`${what}: ${(error as Error | undefined)?.message ?? String(error)}`, { cause: error }),
            true,
          )
        },
      )
    })
  }

  /** Runs a Lua script (see {@link RedisClient.evalScript}). */
  eval(what: string, script: string, keys: string[], args: (string | number)[], opts?: RunOptions<unknown>): Promise<unknown> {
    return this.run(what, (c) => c.evalScript(script, keys, args), opts)
  }
}

/**
 * Validates a duration option (ms): a finite number ≥ 1 (or ≥ 0 with `zero`), or `Infinity` with
 * `infinite`; `integer` when Redis takes it as PX milliseconds. Returns the default when undefined.
 * @internal
 */
export function checkDuration(value: unknown, fallback: number, name: string, allow: { infinite?: boolean; zero?: boolean; integer?: boolean } = {}): number {
  if (value === undefined) return fallback
  const ok =
    typeof value === 'number' &&
    (value === Infinity
      ? allow.infinite === true
      : Number.isFinite(value) && (allow.zero ? value >= 0 : value > 0) && (!allow.integer || Number.isInteger(value)) && value <= Number.MAX_SAFE_INTEGER)
  if (!ok) {
    const shape =
      `${allow.integer ? 'an integer' : 'a number'} of milliseconds ` + `${allow.zero ? '>= 0' : '> 0'}${allow.infinite ? ' (or Infinity for no limit)' : ''}`
    throw new InvalidArgumentError(`${name} must be ${shape}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}.`)
  }
  return value as number
}
