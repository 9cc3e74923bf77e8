import { InvalidArgumentError, TimeoutError } from '@yieldpoint/core'
import { Redis as IORedis, type Cluster, type Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KeyEncodingError, LockLostError, RedisKeyedLock, RedisReplyError, RedisUnavailableError } from '../src'
import { admin, allKeys, connect, type Lib } from './clients'
import { matrix } from './matrix'
import { startRedis, type RedisServer } from './redis-server'

const settle = (): Promise<void> => new Promise((r) => setImmediate(r))

describe.each(matrix())('$name: RedisKeyedLock (one process)', ({ lib, target }) => {
  let client: unknown
  let close: () => void
  let redis: Redis | Cluster
  beforeAll(async () => {
    ;({ client, close } = await connect(lib, target))
    redis = admin(target)
  })
  afterAll(() => {
    close()
    redis.disconnect()
  })

  it('grants increasing fences, serialises a key, and releases for the next waiter', async () => {
    const locks = new RedisKeyedLock({ client, prefix: 'u1:', pollInterval: 20 })
    const a = await locks.acquire('k')
    const b = locks.acquire('k')
    expect(await locks.locked('k')).toBe(true)
    await a.releaseAsync()
    const gb = await b
    expect(gb.fence).toBeGreaterThan(a.fence)
    await gb.releaseAsync()
    expect(await locks.locked('k')).toBe(false)
    locks.close()
  })

  it('timeout rejects with TimeoutError; abort with signal.reason; neither leaves the key held', async () => {
    const locks = new RedisKeyedLock({ client, prefix: 'u2:', pollInterval: 20 })
    const held = await locks.acquire('k')
    await expect(locks.acquire('k', { timeout: 100 })).rejects.toBeInstanceOf(TimeoutError)
    const ac = new AbortController()
    const reason = new Error('gone')
    const p = locks.acquire('k', { signal: ac.signal })
    ac.abort(reason)
    await expect(p).rejects.toBe(reason)
    await held.releaseAsync()
    const again = await locks.acquire('k', { timeout: 10_000 })
    await again.releaseAsync()
    locks.close()
  })

  it('a lost lease aborts guard.signal with LockLostError', async () => {
    const locks = new RedisKeyedLock({ client, prefix: 'u3:', lockTtl: 1_500 })
    const g = await locks.acquire('k')
    await redis.del('u3:{k}:l') // someone broke the lease
    if (!g.signal.aborted) await new Promise((r) => g.signal.addEventListener('abort', r, { once: true })) // (a busy machine may lose it sooner)
    expect(g.signal.reason).toBeInstanceOf(LockLostError)
    g.release()
    locks.close()
  })

  it('keys with }, %, { and the empty string keep their own lock and their keys one hash slot', async () => {
    const locks = new RedisKeyedLock<string>({ client, prefix: 'u4:' })
    const keys = ['}', '%', '%7D', '%25', '{a}', 'a}b', 'a}c', '', 'é', '😀']
    const guards = await Promise.all(keys.map((k) => locks.acquire(k, { timeout: 10_000 }))) // all distinct: none waits for another
    expect(new Set(guards.map((g) => g.fence)).size).toBe(keys.length)
    await Promise.all(guards.map((g) => g.releaseAsync()))
    locks.close()
  })

  it('keys that cannot cross the wire faithfully throw KeyEncodingError synchronously', async () => {
    const locks = new RedisKeyedLock<unknown>({ client, prefix: 'u5:' })
    class Ref {
      constructor(readonly id: number) {}
    }
    expect(() => locks.acquire(new Ref(1))).toThrow(KeyEncodingError)
    expect(() => locks.acquire(Symbol('k'))).toThrow(KeyEncodingError)
    expect(() => locks.acquire(1)).toThrow(KeyEncodingError) // 1 and '1' would be one Redis key
    expect(() => locks.acquire('\uD800x')).toThrow(KeyEncodingError) // a lone surrogate arrives as U+FFFD
    expect(() => locks.runExclusive(new Ref(2), () => 1)).toThrow(KeyEncodingError)
    const withEncoder = new RedisKeyedLock<Ref>({ client, prefix: 'u5:', key: (r) => `ref:${r.id}` })
    let pending: Promise<{ releaseAsync(): Promise<void> }> | undefined
    expect(() => (pending = withEncoder.acquire({ id: 1 } as Ref))).not.toThrow()
    await (await pending!).releaseAsync() // settled before the client closes
    const bad = new RedisKeyedLock<Ref>({ client, prefix: 'u5:', key: () => 42 as unknown as string })
    expect(() => bad.acquire(new Ref(1))).toThrow(KeyEncodingError)
    for (const l of [locks, withEncoder, bad]) l.close()
  })

  it('bad arguments throw synchronously, as core does', () => {
    const locks = new RedisKeyedLock({ client, prefix: 'u6:' })
    expect(() => locks.acquire(undefined as never)).toThrow(InvalidArgumentError)
    expect(() => locks.acquire('k', { timeout: -1 })).toThrow(InvalidArgumentError)
    expect(() => locks.acquire('k', { signal: 'nope' as never })).toThrow(InvalidArgumentError)
    expect(() => locks.runExclusive('k', 5 as never)).toThrow(InvalidArgumentError)
    locks.close()
  })

  it('runExclusive resolves with fn’s result and rejects with fn’s error', async () => {
    const locks = new RedisKeyedLock({ client, prefix: 'u7:' })
    expect(await locks.runExclusive('k', (g) => g.fence > 0 && 'done')).toBe('done')
    const boom = new Error('boom')
    await expect(
      locks.runExclusive('k', () => {
        throw boom
      }),
    ).rejects.toBe(boom)
    expect(await locks.locked('k')).toBe(false)
    locks.close()
  })

  it('no per-key state lives forever: every key a lock wrote has a TTL', async () => {
    const locks = new RedisKeyedLock({ client, prefix: 'u8:', pollInterval: 20 })
    const a = await locks.acquire('k')
    const b = locks.acquire('k') // a waiter: the waiters counter exists too
    await settle()
    await a.releaseAsync()
    await (await b).releaseAsync()
    const keys = await allKeys(redis, 'u8:*')
    expect(keys.length).toBeGreaterThan(0) // the fence key outlives the grant (until its lease would have ended)
    for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(0)
    locks.close()
  })

  it('commandTimeout: Infinity, 2 ** 31 or 30 days is honoured, not fired at once', async () => {
    for (const commandTimeout of [Infinity, 2 ** 31, 30 * 24 * 3_600_000]) {
      const locks = new RedisKeyedLock({ client, prefix: 'u9:', commandTimeout, pollInterval: 2 ** 31 })
      const g = await locks.acquire('k')
      expect(g.fence).toBeGreaterThan(0)
      await g.releaseAsync()
      locks.close()
    }
  })

  it('a Redis error reply is a RedisReplyError, not an outage: the breaker stays closed', async () => {
    const locks = new RedisKeyedLock({ client, prefix: 'u10:' })
    await redis.set('u10:{broken}:seq', 'not a number') // the fence script fails on it
    await expect(locks.acquire('broken', { timeout: 10_000 })).rejects.toBeInstanceOf(RedisReplyError)
    const g = await locks.acquire('fine', { timeout: 10_000 }) // no "Redis was unreachable moments ago"
    await g.releaseAsync()
    locks.close()
  })
})

describe.each(['ioredis', 'node-redis'] as Lib[])('%s: RedisKeyedLock when Redis hangs, dies or restarts', (lib) => {
  let server: RedisServer
  let client: unknown
  let close: () => void
  beforeAll(async () => {
    server = await startRedis()
    ;({ client, close } = await connect(lib, { topology: 'single', port: server.port }))
  })
  afterAll(async () => {
    close()
    await server.stop()
  })

  it('fences keep increasing across a restart of a Redis without persistence', async () => {
    const locks = new RedisKeyedLock({ client, prefix: 'r1:', breakerMs: 0 })
    const before = await locks.acquire('k')
    await before.releaseAsync()
    await server.stop()
    await server.start()
    let after: Awaited<ReturnType<typeof locks.acquire>> | undefined
    while (after === undefined) {
      // until the client has reconnected (a macrotask between tries lets it)
      after = await locks.acquire('k').catch((e: unknown) => (e instanceof RedisUnavailableError ? undefined : Promise.reject(e)))
      if (after === undefined) await new Promise((r) => setTimeout(r, 20))
    }
    expect(after.fence).toBeGreaterThan(before.fence)
    await after.releaseAsync()
    locks.close()
  })

  it('timeout and abort bound the wait even while Redis does not answer (commandTimeout: Infinity)', async () => {
    const locks = new RedisKeyedLock({ client, prefix: 'r2:', commandTimeout: Infinity })
    await (await locks.acquire('warm')).releaseAsync()
    server.pause()
    try {
      await expect(locks.acquire('k', { timeout: 200 })).rejects.toBeInstanceOf(TimeoutError)
      const ac = new AbortController()
      const p = locks.acquire('k2', { signal: ac.signal })
      await settle()
      const reason = new Error('caller left')
      ac.abort(reason)
      await expect(p).rejects.toBe(reason)
    } finally {
      server.resume()
    }
    locks.close()
  })

  it('an acquire that was given up on leaves no orphan lease once Redis answers again', async () => {
    const locks = new RedisKeyedLock({ client, prefix: 'r3:', commandTimeout: Infinity, lockTtl: 600_000 })
    await (await locks.acquire('warm')).releaseAsync()
    server.pause()
    try {
      await expect(locks.acquire('k', { timeout: 100 })).rejects.toBeInstanceOf(TimeoutError)
    } finally {
      server.resume()
    }
    // The abandoned ACQUIRE runs now and takes a 10-minute lease; it must be given back at once.
    const g = await locks.acquire('k', { timeout: 30_000 })
    await g.releaseAsync()
    locks.close()
  })

  it('a lease past 2^31 ms is extended every third of it, not every millisecond (the watchdog re-arms)', async () => {
    const admin = new IORedis(server.port, '127.0.0.1')
    const scripts = async (): Promise<number> => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0)
    const locks = new RedisKeyedLock({ client, prefix: 'r5:', lockTtl: 2 ** 33 })
    const g = await locks.acquire('k')
    const before = await scripts()
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)) // a setInterval clamped to 1 ms would have fired
    await new Promise((r) => setTimeout(r, 20))
    expect(await scripts()).toBe(before + 0) // no EXTEND (INFO itself is not a script)
    await g.releaseAsync()
    locks.close()
    admin.disconnect()
  })

  it('runExclusive returns fn’s result though Redis died while fn ran; the failed release is reported apart', async () => {
    const reported: unknown[] = []
    const locks = new RedisKeyedLock({ client, prefix: 'r4:', commandTimeout: 500, breakerMs: 0, onReleaseError: (error, key) => reported.push([key, error]) })
    const result = await locks.runExclusive('k', async () => {
      await server.stop()
      return 'side effect done'
    })
    expect(result).toBe('side effect done')
    expect(reported).toHaveLength(1)
    expect((reported[0] as [string, unknown])[0]).toBe('k')
    expect((reported[0] as [string, unknown])[1]).toBeInstanceOf(RedisUnavailableError)
    await server.start()
    locks.close()
  })
})

describe('RedisKeyedLock options are validated at construction', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedis()
  })
  afterAll(async () => {
    await server.stop()
  })

  it('rejects bad options with InvalidArgumentError', async () => {
    const { client, close } = await connect('ioredis', { topology: 'single', port: server.port })
    expect(() => new RedisKeyedLock({} as never)).toThrow(InvalidArgumentError)
    expect(() => new RedisKeyedLock({ client: {} })).toThrow(/ioredis|node-redis/)
    for (const lockTtl of [0, -1, 1000.5, NaN, Infinity, '1000'])
      expect(() => new RedisKeyedLock({ client, lockTtl: lockTtl as number })).toThrow(InvalidArgumentError)
    for (const commandTimeout of [0, -5, NaN, '1'])
      expect(() => new RedisKeyedLock({ client, commandTimeout: commandTimeout as number })).toThrow(InvalidArgumentError)
    for (const pollInterval of [0, Infinity]) expect(() => new RedisKeyedLock({ client, pollInterval })).toThrow(InvalidArgumentError)
    expect(() => new RedisKeyedLock({ client, breakerMs: -1 })).toThrow(InvalidArgumentError)
    expect(() => new RedisKeyedLock({ client, prefix: 'a{b}:' })).toThrow(InvalidArgumentError)
    expect(() => new RedisKeyedLock({ client, key: 'x' as never })).toThrow(InvalidArgumentError)
    close()
  })
})
