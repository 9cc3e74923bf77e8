// Issue 11, the store's side of the seam: RedisStore takes part in the cache's one load path
// through the lease hook. Two stores in one process stand for two processes (each has its own
// connections, subscriber and L1), so every race here is set up on events, not on timing.
import { NotSharedError, RemoteError, SingleFlightCache, type CacheEntry } from '@yieldpoint/core'
import { afterEach, describe, expect, it } from 'vitest'
import { RedisStore, type RedisStoreOptions } from '../src'
import { connect } from './clients'
import { matrix } from './matrix'

describe.each(matrix())('$name: RedisStore through the lease hook', ({ lib, target }) => {
  const closers: (() => void)[] = []
  const stores: RedisStore<string, unknown>[] = []
  let prefixes = 0
  const run = `${lib}-${target.topology}-${Date.now()}`

  afterEach(() => {
    for (const s of stores.splice(0)) s.close()
    for (const c of closers.splice(0)) c()
  })

  async function store(prefix: string, options: Partial<RedisStoreOptions>): Promise<RedisStore<string, unknown>> {
    const { client, close } = await connect(lib, target)
    closers.push(close)
    const s = new RedisStore<string, unknown>({ client, prefix, pollInterval: 20, ...options } as RedisStoreOptions)
    stores.push(s)
    return s
  }

  /** A fresh prefix per test: two "processes" of one test share it, tests never do. */
  async function processes(n: number, options: Partial<RedisStoreOptions> = {}): Promise<RedisStore<string, unknown>[]> {
    const prefix = `seam:${run}:${++prefixes}:`
    return Promise.all(Array.from({ length: n }, () => store(prefix, options)))
  }

  /** One more process on the last prefix, that reports when it waits on another's lease. */
  async function follower(options: Partial<RedisStoreOptions> = {}): Promise<{ store: RedisStore<string, unknown>; busy: Promise<void> }> {
    const busy = deferred()
    const s = await store(`seam:${run}:${prefixes}:`, { afterLockMiss: async () => busy.resolve(), ...options })
    return { store: s, busy: busy.promise }
  }

  function deferred<T = void>() {
    let resolve!: (v: T) => void
    const promise = new Promise<T>((r) => (resolve = r))
    return { promise, resolve }
  }

  it('item 11: a process that misses just as another commits takes that result instead of loading again', async () => {
    const [a, b] = await processes(2)
    const cacheA = new SingleFlightCache<string, unknown>({ ttl: 60_000, store: a! })
    const cacheB = new SingleFlightCache<string, unknown>({ ttl: 60_000, store: b! })
    // B reads (a miss); before B asks for the lease, A loads and commits.
    const read = b!.get.bind(b)
    b!.get = async (key) => {
      const found = await read(key)
      await cacheA.getOrSet(key, () => 'loaded by A')
      return found
    }
    let loadsInB = 0
    expect(await cacheB.getOrSet('k', () => (loadsInB++, 'loaded by B'))).toBe('loaded by A')
    expect(loadsInB).toBe(0)
  })

  it('item 3: with l1, a delete from another process during a load fences the commit out, and the L1 stays empty', async () => {
    const [a, b] = await processes(2, { l1: { max: 100 } })
    const cacheA = new SingleFlightCache<string, unknown>({ ttl: 60_000, store: a! })
    const cacheB = new SingleFlightCache<string, unknown>({ ttl: 60_000, store: b! })
    const loading = deferred()
    const release = deferred()
    const loadA = cacheA.getOrSet('k', async () => {
      loading.resolve()
      await release.promise
      return 'old'
    })
    await loading.promise
    await cacheB.delete('k') // another process deletes while A loads: A's write must not land
    release.resolve()
    expect(await loadA).toBe('old') // A's callers joined before the delete
    expect(await a!.get('k')).toBeUndefined() // neither in Redis nor in A's L1
    let loads = 0
    expect(await cacheA.getOrSet('k', () => (loads++, 'new'))).toBe('new')
    expect(loads).toBe(1)
  })

  it('item 2: a follower that misses the failure message and polls an errorTtl entry rejects with the error, never undefined', async () => {
    const [a] = await processes(1)
    const b = await follower({ ignoreMessages: true })
    const loading = deferred()
    const release = deferred()
    const cacheA = new SingleFlightCache<string, unknown>({ errorTtl: 60_000, store: a! })
    const cacheB = new SingleFlightCache<string, unknown>({ errorTtl: 60_000, store: b.store })
    const leader = cacheA
      .getOrSet('k', async () => {
        loading.resolve()
        await release.promise
        throw Object.assign(new Error('origin failed'), { name: 'OriginError', code: 'E_ORIGIN', status: 503 })
      })
      .catch((e: unknown) => e)
    await loading.promise // A holds the lease
    const followers = Array.from({ length: 3 }, () =>
      cacheB
        .getOrSet('k', () => 'loaded in B')
        .then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        ),
    )
    await b.busy // B holds no lease and polls
    release.resolve()
    await leader
    for (const r of await Promise.all(followers)) {
      expect(r).not.toHaveProperty('value')
      const e = (r as { error: RemoteError }).error
      expect(e).toBeInstanceOf(RemoteError)
      expect([e.name, e.message, e.code, e.status]).toEqual(['OriginError', 'origin failed', 'E_ORIGIN', 503])
    }
  })

  it('item 15: the errorTtl entry is in Redis before the leader’s callers reject: a process asking then fails fast, without loading', async () => {
    const [a, b] = await processes(2)
    const cacheA = new SingleFlightCache<string, unknown>({ errorTtl: 60_000, store: a! })
    const cacheB = new SingleFlightCache<string, unknown>({ errorTtl: 60_000, store: b! })
    // Hold A's write of the error entry for a macrotask, and record what happens first.
    const order: string[] = []
    const connection = (a as unknown as { connection: { eval: (...args: unknown[]) => Promise<unknown> } }).connection
    const evaluate = connection.eval.bind(connection)
    connection.eval = async (...args: unknown[]) => {
      if (!JSON.stringify(args).includes('origin down')) return evaluate(...args)
      await new Promise((r) => setImmediate(r))
      const result = await evaluate(...args)
      order.push('written')
      return result
    }
    let loadsInB = 0
    const inB = await cacheA
      .getOrSet('k', () => Promise.reject(new Error('origin down')))
      .catch(() => {
        order.push('rejected')
        return cacheB
          .getOrSet('k', () => (loadsInB++, 'loaded in B'))
          .then(
            (value) => ({ value }),
            (error: unknown) => ({ error }),
          )
      })
    expect(order).toEqual(['written', 'rejected'])
    expect(loadsInB).toBe(0)
    expect((inB as { error: Error }).error.message).toBe('origin down')
  })

  it('item 4: a value the codec cannot write (a BigInt) rejects every caller in every process and frees the key', async () => {
    const [a] = await processes(1)
    const b = await follower()
    const cacheA = new SingleFlightCache<string, unknown>({ ttl: 60_000, store: a! })
    const cacheB = new SingleFlightCache<string, unknown>({ ttl: 60_000, store: b.store })
    const release = deferred()
    const loading = deferred()
    const leader = cacheA
      .getOrSet('k', async () => {
        loading.resolve()
        await release.promise
        return 10n
      })
      .catch((e: unknown) => e)
    await loading.promise
    const waiting = cacheB.getOrSet('k', () => 'never').catch((e: unknown) => e)
    await b.busy
    release.resolve()
    expect(await leader).toBeInstanceOf(TypeError)
    expect(((await waiting) as Error).message).toMatch(/BigInt/)
    expect(cacheA.statistics().inFlight).toBe(0)
    expect(await cacheA.getOrSet('k', () => 'plain')).toBe('plain')
  })

  it('ctx.keep = false reaches the waiting processes and stores nothing; ctx.share = false rejects them with NotSharedError', async () => {
    // Also for a follower that polls before (or without) the pub/sub message: the outcome stays
    // briefly under the lease's outcome key, so it neither loads again nor hangs.
    for (const [flag, ignoreMessages] of [
      ['keep', false],
      ['share', false],
      ['keep', true],
      ['share', true],
    ] as const) {
      const [a] = await processes(1)
      const b = await follower({ ignoreMessages })
      const cacheA = new SingleFlightCache<string, unknown>({ ttl: 60_000, store: a! })
      const cacheB = new SingleFlightCache<string, unknown>({ ttl: 60_000, store: b.store })
      const loading = deferred()
      const release = deferred()
      const leader = cacheA.getOrSet('k', async (ctx) => {
        loading.resolve()
        await release.promise
        ctx[flag] = false
        return { status: 404 }
      })
      await loading.promise
      const waiting = cacheB.getOrSet('k', () => ({ status: 200 })).catch((e: unknown) => e)
      await b.busy
      release.resolve()
      expect(await leader).toEqual({ status: 404 })
      if (flag === 'keep') expect(await waiting).toEqual({ status: 404 })
      else expect(await waiting).toBeInstanceOf(NotSharedError)
      expect(await a!.get('k')).toBeUndefined()
    }
  })

  it('the store gets the cache’s clock through init: entries are in the cache’s time base', async () => {
    const [a] = await processes(1)
    const t = 1_000_000
    const cache = new SingleFlightCache<string, unknown>({ ttl: 5_000, now: () => t, store: a! })
    await cache.getOrSet('k', () => 'v')
    const entry = (await a!.get('k')) as CacheEntry<unknown>
    expect(entry.freshUntil - t).toBeGreaterThan(4_000)
    expect(entry.freshUntil - t).toBeLessThanOrEqual(5_000)
  })
})
