import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { RedisUnavailableError } from './errors'

const shas = new Map<string, string>()
const sha1 = (script: string): string => {
  let sha = shas.get(script)
  if (sha === undefined) shas.set(script, (sha = createHash('sha1').update(script).digest('hex')))
  return sha
}

/**
 * Options shared by RedisStore and RedisKeyedLock for talking to Redis.
 * @example
 * ```ts
 * new RedisStore({ client, commandTimeout: 250, breakerMs: 5_000 })
 * ```
 */
export interface ConnectionOptions {
  /** Every Redis command gives up after this many ms. Default 1,000. */
  commandTimeout?: number
  /** After a failure, skip Redis for this long (ms) before trying again (circuit breaker). Default 2,000. */
  breakerMs?: number
}

/**
 * Runs Redis commands with a timeout each, and a circuit breaker: after a failure, calls fail
 * fast for `breakerMs`, then Redis is tried again — so callers never wait on a dead Redis.
 * @internal
 */
export class Connection {
  private downUntil = 0
  readonly timeoutMs: number
  private readonly breakerMs: number

  constructor(readonly client: Redis, options: ConnectionOptions) {
    this.timeoutMs = options.commandTimeout ?? 1_000
    this.breakerMs = options.breakerMs ?? 2_000
  }

  get healthy(): boolean {
    return performance.now() >= this.downUntil
  }

  async run<T>(what: string, command: (client: Redis) => Promise<T>): Promise<T> {
    if (!this.healthy) throw new RedisUnavailableError(`${what}: Redis was unreachable moments ago; not retrying for up to ${this.breakerMs} ms.`)
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      return await Promise.race([
        command(this.client),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RedisUnavailableError(`${what}: no answer from Redis within ${this.timeoutMs} ms.`)), this.timeoutMs)
        }),
      ])
    } catch (error) {
      this.downUntil = performance.now() + this.breakerMs
      throw error instanceof RedisUnavailableError ? error : new RedisUnavailableError(`${what}: ${(error as Error)?.message ?? error}`, { cause: error })
    } finally {
      clearTimeout(timer)
    }
  }

  /** Runs a Lua script by its SHA (EVALSHA), sending the body only when Redis does not have it yet. */
  eval(what: string, script: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.run(what, async (c) => {
      try {
        return (await c.evalsha(sha1(script), keys.length, ...keys, ...args)) as unknown
      } catch (error) {
        if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error
        return (await c.eval(script, keys.length, ...keys, ...args)) as unknown
      }
    })
  }
}
