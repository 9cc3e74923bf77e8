// Issue 11: one load path in the cache, whatever the store; loads bounded by loadTimeout;
// outcomes (ctx.keep / ctx.share) instead of control-flow exceptions; store failures contained.
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  InvalidArgumentError,
  NotSharedError,
  RemoteError,
  SingleFlight,
  SingleFlightCache,
  TimeoutError,
  YieldpointError,
  defaultReviveError,
  defaultSerializeError,
  type Acquired,
  type CacheEntry,
  type Coalescer,
  type LeaseWaitResult,
  type Store,
  type StoreInitOptions,
} from '../src'
import { track } from './helpers'

function deferred<T>() {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)))
  return { promise, resolve, reject }
}

const tick = async (n = 10) => {
  for (let i = 0; i < n; i++) await Promise.resolve()
}

afterEach(() => {
  vi.useRealTimers()
})

describe('loadTimeout (issue 11 item 1): a load has a bound', () => {
  it('a loader that never settles is aborted at loadTimeout, its callers reject with TimeoutError, and the key is free', async () => {
    vi.useFakeTimers()
    const cache = new SingleFlightCache<string, string>({ loadTimeout: 1_000 })
    let loaderSignal!: AbortSignal
    let calls = 0
    const hang = ({ signal }: { signal: AbortSignal }) => (calls++, (loaderSignal = signal), new Promise<string>(() => {}))
    const first = track(cache.getOrSet('k', hang, { timeout: 100 }))
    await vi.advanceTimersByTimeAsync(100)
    expect(first.reason).toBeInstanceOf(TimeoutError) // the caller's own timeout
    // SF-16: a caller arriving while the abandoned load still runs joins it (no second load yet).
    const second = track(cache.getOrSet('k', hang))
    await vi.advanceTimersByTimeAsync(0)
    expect(calls).toBe(1)
    await vi.advanceTimersByTimeAsync(900)
    expect(loaderSignal.aborted).toBe(true)
    expect(loaderSignal.reason).toBeInstanceOf(TimeoutError)
    expect(second.reason).toBeInstanceOf(TimeoutError)
    expect((second.reason as TimeoutError).message).toMatch(/loadTimeout \(1000 ms\)/)
    expect(cache.statistics().inFlight).toBe(0)
    await expect(cache.getOrSet('k', () => 'fresh')).resolves.toBe('fresh')
  })

  it('defaults to 60 s; Infinity means no deadline; 0 and negatives are refused at construction', async () => {
    vi.useFakeTimers()
    const cache = new SingleFlightCache<string, string>()
    const p = track(cache.getOrSet('k', () => new Promise<string>(() => {})))
    await vi.advanceTimersByTimeAsync(59_999)
    expect(p.status).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    expect(p.reason).toBeInstanceOf(TimeoutError)
    const unbounded = new SingleFlightCache<string, string>({ loadTimeout: Infinity })
    const q = track(unbounded.getOrSet('k', () => new Promise<string>(() => {})))
    await vi.advanceTimersByTimeAsync(10 * 60_000)
    expect(q.status).toBe('pending')
    expect(() => new SingleFlightCache({ loadTimeout: 0 })).toThrow(InvalidArgumentError)
    expect(() => new SingleFlightCache({ loadTimeout: -1 })).toThrow(InvalidArgumentError)
  })

  it('the late result of an expired load is not stored; staleIfError serves the stale value on the deadline', async () => {
    vi.useFakeTimers()
    let t = 0
    const cache = new SingleFlightCache<string, string>({ ttl: 10, staleIfError: 10_000, loadTimeout: 1_000, now: () => t })
    await cache.set('k', 'old')
    t = 20 // stale, inside staleIfError
    const late = deferred<string>()
    const p = track(cache.getOrSet('k', () => late.promise))
    await vi.advanceTimersByTimeAsync(1_000)
    expect(p.value).toBe('old')
    late.resolve('late')
    await tick()
    let calls = 0
    await expect(cache.getOrSet('k', () => (calls++, 'new'))).resolves.toBe('new')
    expect(calls).toBe(1) // 'late' never became the entry
  })
})

describe('loader outcomes: ctx.keep and ctx.share', () => {
  it('ctx.keep = false shares the value with the callers waiting now and stores nothing', async () => {
    const cache = new SingleFlightCache<string, number>({ ttl: 60_000 })
    const gate = deferred<void>()
    let calls = 0
    const load = async (ctx: { keep: boolean }) => {
      calls++
      await gate.promise
      ctx.keep = false
      return 404
    }
    const all = [cache.getOrSet('k', load), cache.getOrSet('k', load), cache.getOrSet('k', load)]
    gate.resolve()
    expect(await Promise.all(all)).toEqual([404, 404, 404])
    expect(calls).toBe(1)
    expect(await cache.get('k')).toBeUndefined()
    await cache.getOrSet('k', load)
    expect(calls).toBe(2)
  })

  it('ctx.share = false: only the caller that started the load gets it; joined callers reject with NotSharedError', async () => {
    const cache = new SingleFlightCache<string, string>({ ttl: 60_000 })
    const gate = deferred<void>()
    const load = async (ctx: { share: boolean }) => {
      await gate.promise
      ctx.share = false
      return 'set-cookie: mine'
    }
    const leader = cache.getOrSet('k', load)
    const plain = cache.getOrSet('k', load).catch((e: unknown) => e)
    const withSignal = cache.getOrSet('k', load, { signal: new AbortController().signal, timeout: 60_000 }).catch((e: unknown) => e)
    gate.resolve()
    expect(await leader).toBe('set-cookie: mine')
    for (const e of [await plain, await withSignal]) {
      expect(e).toBeInstanceOf(NotSharedError)
      expect(e).toBeInstanceOf(YieldpointError)
      expect((e as NotSharedError).code).toBe('ERR_YP_NOT_SHARED')
    }
    expect(await cache.get('k')).toBeUndefined()
  })

  it('ctx.share = false on a failure: the starter gets the error, the others NotSharedError; errorTtl stores nothing', async () => {
    const cache = new SingleFlightCache<string, string>({ errorTtl: 60_000 })
    const boom = new Error('private failure')
    const gate = deferred<void>()
    const load = async (ctx: { share: boolean }) => {
      await gate.promise
      ctx.share = false
      throw boom
    }
    const leader = cache.getOrSet('k', load).catch((e: unknown) => e)
    const joined = cache.getOrSet('k', load).catch((e: unknown) => e)
    gate.resolve()
    expect(await leader).toBe(boom)
    expect(await joined).toBeInstanceOf(NotSharedError)
    await expect(cache.getOrSet('k', () => 'ok')).resolves.toBe('ok')
  })

  it('SingleFlight honours context.share = false too, and both classes are Coalescers', async () => {
    const sf = new SingleFlight<string, string>()
    const gate = deferred<void>()
    const fn = async (_signal: AbortSignal, ctx: { share: boolean }) => {
      await gate.promise
      ctx.share = false
      return 'mine'
    }
    const coalescers: Coalescer<string, string>[] = [sf, new SingleFlightCache<string, string>()]
    for (const c of coalescers) {
      const leader = c.run('k', fn)
      const joined = c.run('k', fn).catch((e: unknown) => e)
      gate.resolve()
      expect(await leader).toBe('mine')
      expect(await joined).toBeInstanceOf(NotSharedError)
    }
  })
})

describe('store failures (issue 11 item 4) never crash the process and free the key', () => {
  const base = <V>(over: Partial<Store<string, V>>): Store<string, V> => ({ get: () => undefined, set: () => {}, delete: () => {}, clear: () => {}, ...over })

  it('a store.get() that throws synchronously rejects the call instead of throwing', async () => {
    const cache = new SingleFlightCache<string, string>({
      store: base({
        get: () => {
          throw new Error('get broke')
        },
      }),
    })
    let result: Promise<string> | undefined
    expect(() => (result = cache.getOrSet('k', () => 'v'))).not.toThrow()
    await expect(result).rejects.toThrow('get broke')
  })

  it('a store.set() that throws synchronously (an unserialisable BigInt) rejects the callers and frees the key', async () => {
    let writes = 0
    const store = base<unknown>({
      set: (_k, entry) => {
        writes++
        JSON.stringify(entry) // TypeError: Do not know how to serialize a BigInt
      },
    })
    const cache = new SingleFlightCache<string, unknown>({ store })
    const a = cache.getOrSet('k', async () => 1n).catch((e: unknown) => e)
    const b = cache.getOrSet('k', async () => 2n).catch((e: unknown) => e)
    expect(await a).toBeInstanceOf(TypeError)
    expect(await b).toBe(await a)
    expect(cache.statistics().inFlight).toBe(0)
    await expect(cache.getOrSet('k', async () => 'plain')).resolves.toBe('plain')
    expect(writes).toBe(2)
  })

  it('an async store.set() that rejects rejects the callers, frees the key, and leaves no unhandled rejection', async () => {
    const cache = new SingleFlightCache<string, string>({ store: base({ set: async () => Promise.reject(new Error('write refused')) }) })
    await expect(cache.getOrSet('k', () => 'v')).rejects.toThrow('write refused')
    expect(cache.statistics().inFlight).toBe(0)
  })

  it('an errorTtl entry is written before any caller rejects (issue 11 item 15)', async () => {
    const written = deferred<void>()
    const map = new Map<string, CacheEntry<string>>()
    const store = base<string>({
      get: (k) => map.get(k),
      set: (k, e) => written.promise.then(() => void map.set(k, e)),
    })
    const cache = new SingleFlightCache<string, string>({ errorTtl: 60_000, store })
    const p = track(cache.getOrSet('k', () => Promise.reject(new Error('origin down'))))
    await tick(20)
    expect(p.status).toBe('pending') // the entry is not in the store yet
    written.resolve()
    await tick(20)
    expect(p.status).toBe('rejected')
    expect(map.get('k')?.kind).toBe('error')
  })
})

describe('entries are a tagged union; the store gets the cache’s clock through init', () => {
  it('init receives the cache’s own now, and the default error (de)serializers', () => {
    let got: StoreInitOptions | undefined
    const now = () => 42
    new SingleFlightCache({ now, store: { init: (o) => void (got = o), get: () => undefined, set: () => {}, delete: () => {}, clear: () => {} } })
    expect(got?.now).toBe(now)
    expect(got?.serializeError).toBe(defaultSerializeError)
    expect(got?.reviveError).toBe(defaultReviveError)
    const serializeError = () => ({ name: 'X', message: 'y' })
    new SingleFlightCache({ serializeError, store: { init: (o) => void (got = o), get: () => undefined, set: () => {}, delete: () => {}, clear: () => {} } })
    expect(got?.serializeError).toBe(serializeError)
  })

  it('a cached error entry rejects; it is never read as a value', async () => {
    const error = new Error('cached failure')
    const entry: CacheEntry<string> = { kind: 'error', error, freshUntil: Infinity, staleUntil: Infinity }
    const cache = new SingleFlightCache<string, string>({ store: { get: () => entry, set: () => {}, delete: () => {}, clear: () => {} } })
    await expect(cache.getOrSet('k', () => 'loaded')).rejects.toBe(error)
    expect(await cache.get('k')).toBeUndefined()
  })

  it('the default serializer keeps name, message, code, status and statusCode; the reviver makes a RemoteError', () => {
    const e = Object.assign(new Error('no product 7'), { name: 'NotFoundError', code: 'E404', status: 404, statusCode: 404, secret: 'x' })
    const wire = defaultSerializeError(e)
    expect(wire).toEqual({ name: 'NotFoundError', message: 'no product 7', code: 'E404', status: 404, statusCode: 404 })
    const back = defaultReviveError(JSON.parse(JSON.stringify(wire))) as RemoteError
    expect(back).toBeInstanceOf(RemoteError)
    expect(back).toBeInstanceOf(YieldpointError)
    expect([back.name, back.message, back.code, back.status, back.statusCode]).toEqual(['NotFoundError', 'no product 7', 'E404', 404, 404])
    expect((defaultReviveError({ name: 'Error', message: 'plain' }) as RemoteError).code).toBe('ERR_YP_REMOTE')
  })
})

/**
 * Two "processes" (two caches) over one shared backend, with the lease hook: what a remote store
 * does, minus the network. Errors cross as JSON through the caches' serializeError/reviveError.
 */
function sharedBackend() {
  const entries = new Map<string, CacheEntry<unknown>>()
  const leases = new Set<string>()
  const waiting = new Map<string, ((r: LeaseWaitResult<unknown>) => void)[]>()
  const counts = { gets: 0, acquires: 0 }
  const publish = (key: string, r: LeaseWaitResult<unknown>) => {
    leases.delete(key)
    for (const w of waiting.get(key) ?? []) w(r)
    waiting.delete(key)
  }
  const store = (opts: { dropMessages?: boolean } = {}): Store<string, unknown> => {
    let io!: StoreInitOptions
    return {
      init: (o) => void (io = o),
      get: async (k) => (counts.gets++, entries.get(k)),
      set: (k, e) => void entries.set(k, e),
      delete: (k) => void entries.delete(k),
      clear: () => entries.clear(),
      acquire: async (key, found): Promise<Acquired<unknown>> => {
        counts.acquires++
        const current = entries.get(key)
        if (current !== undefined && current !== found) return { kind: 'entry', entry: current }
        if (!leases.has(key)) {
          leases.add(key)
          return {
            kind: 'lease',
            lease: {
              commit: (value, entry) => {
                if (entry) entries.set(key, entry)
                publish(key, { kind: 'value', value })
              },
              fail: (outcome, entry) => {
                if (entry) entries.set(key, entry)
                const wire = outcome.kind === 'error' ? JSON.stringify(io.serializeError(outcome.error)) : undefined
                publish(
                  key,
                  outcome.kind === 'not-shared' ? { kind: 'not-shared' } : outcome.kind === 'error' ? { kind: 'error', error: wire } : { kind: 'retry' },
                )
              },
            },
          }
        }
        return {
          kind: 'busy',
          wait: () =>
            new Promise<LeaseWaitResult<unknown>>((resolve) => {
              const list = waiting.get(key) ?? []
              list.push((r) => {
                if (opts.dropMessages) {
                  // This process missed the message: it polls the stored entry instead.
                  const polled = entries.get(key)
                  return resolve(polled ? { kind: 'entry', entry: polled } : { kind: 'retry' })
                }
                resolve(r.kind === 'error' ? { kind: 'error', error: io.reviveError(JSON.parse(r.error as string)) } : r)
              })
              waiting.set(key, list)
            }),
        }
      },
    }
  }
  return { entries, counts, store }
}

describe('a remote store takes part through the lease hook (one load path)', () => {
  it('a follower in another process gets the leader’s error as the same kind with the same status', async () => {
    const backend = sharedBackend()
    const leaderCache = new SingleFlightCache<string, unknown>({ store: backend.store() })
    const followerCache = new SingleFlightCache<string, unknown>({ store: backend.store() })
    const gate = deferred<void>()
    const leader = leaderCache
      .getOrSet('k', async () => {
        await gate.promise
        throw Object.assign(new Error('no product 7'), { status: 404 })
      })
      .catch((e: unknown) => e)
    await tick()
    let followerLoads = 0
    const follower = followerCache.getOrSet('k', () => (followerLoads++, 'x')).catch((e: unknown) => e)
    await tick()
    gate.resolve()
    expect(((await leader) as Error).message).toBe('no product 7')
    const e = (await follower) as RemoteError
    expect(e).toBeInstanceOf(RemoteError)
    expect([e.message, e.status]).toEqual(['no product 7', 404])
    expect(followerLoads).toBe(0)
  })

  it('ctx.keep = false reaches followers elsewhere, ctx.share = false rejects them with NotSharedError', async () => {
    for (const flag of ['keep', 'share'] as const) {
      const backend = sharedBackend()
      const a = new SingleFlightCache<string, unknown>({ ttl: 60_000, store: backend.store() })
      const b = new SingleFlightCache<string, unknown>({ ttl: 60_000, store: backend.store() })
      const gate = deferred<void>()
      const leader = a.getOrSet('k', async (ctx) => {
        await gate.promise
        ctx[flag] = false
        return 'leader value'
      })
      await tick()
      const follower = b.getOrSet('k', () => 'follower loaded').catch((e: unknown) => e)
      await tick()
      gate.resolve()
      expect(await leader).toBe('leader value')
      if (flag === 'keep') expect(await follower).toBe('leader value')
      else expect(await follower).toBeInstanceOf(NotSharedError)
      expect(backend.entries.has('k')).toBe(false)
    }
  })

  it('a follower that misses the message and polls an errorTtl entry rejects with the error — never resolves undefined (item 2)', async () => {
    const backend = sharedBackend()
    const a = new SingleFlightCache<string, unknown>({ errorTtl: 60_000, store: backend.store() })
    const b = new SingleFlightCache<string, unknown>({ errorTtl: 60_000, store: backend.store({ dropMessages: true }) })
    const gate = deferred<void>()
    const leader = a
      .getOrSet('k', async () => {
        await gate.promise
        throw new Error('origin down')
      })
      .catch((e: unknown) => e)
    await tick()
    const followers = Array.from({ length: 3 }, () =>
      b
        .getOrSet('k', () => 'loaded here')
        .then(
          (v) => ({ v }),
          (e: unknown) => ({ e }),
        ),
    )
    await tick()
    gate.resolve()
    await leader
    for (const r of await Promise.all(followers)) {
      expect(r).not.toHaveProperty('v')
      expect((r as { e: Error }).e.message).toBe('origin down')
    }
  })

  it('a miss reads the store once, hands the entry down, and takes a result committed between read and lease (item 11)', async () => {
    const backend = sharedBackend()
    const store = backend.store()
    const originalGet = store.get.bind(store)
    // Another process commits right after our read.
    store.get = async (k) => {
      const e = await originalGet(k)
      backend.entries.set(k, { kind: 'value', value: 'committed elsewhere', freshUntil: Infinity, staleUntil: Infinity, delta: 0 })
      return e
    }
    const cache = new SingleFlightCache<string, unknown>({ store })
    let loads = 0
    expect(await cache.getOrSet('k', () => (loads++, 'mine'))).toBe('committed elsewhere')
    expect(loads).toBe(0)
    expect(backend.counts).toEqual({ gets: 1, acquires: 1 })
  })

  it('a lease whose holder gives up is retried: the follower takes over and loads', async () => {
    const backend = sharedBackend()
    const a = new SingleFlightCache<string, unknown>({ store: backend.store(), abortLoaderWhenNoWaiters: true })
    const b = new SingleFlightCache<string, unknown>({ store: backend.store() })
    const ac = new AbortController()
    const leader = a
      .getOrSet('k', ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))), { signal: ac.signal })
      .catch(() => 'left')
    await tick()
    const follower = b.getOrSet('k', () => 'taken over')
    await tick()
    ac.abort()
    expect(await leader).toBe('left')
    expect(await follower).toBe('taken over')
  })
})
