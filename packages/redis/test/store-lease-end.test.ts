// Attack: a lease must end (lock freed, waiting processes told) whatever the loader produced —
// values the codec cannot write on the inline path (ctx.keep = false, ttl < 1 s), and thrown
// values serializeError cannot handle (a null-prototype object, a throwing getter, a BigInt
// code). A synchronous throw before the lease's script ran used to leave the watchdog extending
// the lock forever: every other process waited on a key nobody would ever load.
import { SingleFlightCache } from '@yieldpoint/core'
import { afterEach, describe, expect, it } from 'vitest'
import { RedisStore, type RedisStoreOptions } from '../src'
import { admin, connect } from './clients'
import { matrix } from './matrix'

describe.each(matrix())('$name: a lease ends whatever the outcome', ({ lib, target }) => {
  const closers: (() => void)[] = []
  const run = `${lib}-${target.topology}-${Date.now()}`
  let prefixes = 0

  afterEach(() => {
    for (const c of closers.splice(0)) c()
  })

  function deferred<T = void>() {
    let resolve!: (v: T) => void
    const promise = new Promise<T>((r) => (resolve = r))
    return { promise, resolve }
  }

  async function store(prefix: string, options: Partial<RedisStoreOptions> = {}): Promise<RedisStore<string, unknown>> {
    const { client, close } = await connect(lib, target)
    const s = new RedisStore<string, unknown>({ client, prefix, pollInterval: 20, ...options } as RedisStoreOptions)
    closers.push(() => s.close(), close)
    return s
  }

  /** Leader A loads `produce()` while B (another "process") waits on A's lease; both outcomes, then whether the lock is gone. */
  async function race(produce: () => unknown, cacheOptions: { ttl: number; errorTtl?: number; keep?: boolean }) {
    const prefix = `lease-end:${run}:${++prefixes}:`
    const a = await store(prefix)
    const busy = deferred()
    const b = await store(prefix, { afterLockMiss: async () => busy.resolve() })
    const cacheA = new SingleFlightCache<string, unknown>({ ttl: cacheOptions.ttl, errorTtl: cacheOptions.errorTtl ?? 0, store: a })
    const cacheB = new SingleFlightCache<string, unknown>({ ttl: cacheOptions.ttl, store: b })
    const loading = deferred()
    const release = deferred()
    const leader = cacheA
      .getOrSet('k', async (ctx) => {
        if (cacheOptions.keep === false) ctx.keep = false
        loading.resolve()
        await release.promise
        return produce()
      })
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      )
    await loading.promise
    const waiting = cacheB
      .getOrSet('k', () => 'never')
      .then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      )
    await busy.promise
    release.resolve()
    const inA = await leader
    const inB = await waiting
    const redis = admin(target)
    closers.push(() => redis.disconnect())
    const lockLeft = await redis.exists(`${prefix}{k}:l`)
    return { inA, inB, lockLeft, cacheA }
  }

  it('ctx.keep = false with a value the codec cannot write: the lease is freed and the other process rejects', async () => {
    const { inA, inB, lockLeft, cacheA } = await race(() => 10n, { ttl: 60_000, keep: false })
    expect((inA as { error: unknown }).error).toBeInstanceOf(TypeError)
    expect(((inB as { error: Error }).error as Error).message).toMatch(/BigInt/)
    expect(lockLeft).toBe(0)
    expect(await cacheA.getOrSet('k', () => 'plain')).toBe('plain')
  })

  it('a short ttl (value inline in the message) that the codec cannot write: the lease is freed', async () => {
    const { inA, inB, lockLeft } = await race(() => 10n, { ttl: 500 })
    expect((inA as { error: unknown }).error).toBeInstanceOf(TypeError)
    expect(((inB as { error: Error }).error as Error).message).toMatch(/BigInt/)
    expect(lockLeft).toBe(0)
  })

  for (const [what, thrown] of [
    ['a null-prototype object', () => Object.create(null)],
    [
      'an Error whose code getter throws',
      () =>
        Object.defineProperty(new Error('boom'), 'code', {
          get: () => {
            throw new Error('getter')
          },
        }),
    ],
    ['an Error with a BigInt code', () => Object.assign(new Error('boom'), { code: 7n })],
    [
      'an Error with a cyclic status',
      () => {
        const s: Record<string, unknown> = {}
        s.self = s
        return Object.assign(new Error('boom'), { status: s })
      },
    ],
  ] as const) {
    for (const errorTtl of [0, 60_000]) {
      it(`a loader that throws ${what} (errorTtl ${errorTtl}): its own callers get it, the other process gets an error, the lease is freed`, async () => {
        let error: unknown
        const { inA, inB, lockLeft } = await race(
          () => {
            error = thrown()
            throw error
          },
          { ttl: 60_000, errorTtl },
        )
        expect((inA as { error: unknown }).error).toBe(error)
        expect((inB as { error: unknown }).error).toBeInstanceOf(Error)
        expect(lockLeft).toBe(0)
      })
    }
  }
})
