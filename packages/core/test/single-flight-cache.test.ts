import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { InvalidArgumentError, KeyedLock, MemoryStore, ReentrancyError, SingleFlightCache, type CacheEntry, type CacheResult, type Store } from '../src'
import { settle, track } from './helpers'

/** An origin that counts calls and tracks max concurrency; resolves after `ms` of fake time. */
function origin<V>(ms: number, produce: (key: string, call: number) => V, fail?: (key: string, call: number) => unknown) {
  const o = {
    calls: 0,
    active: 0,
    maxActive: 0,
    signals: [] as AbortSignal[],
    load: async ({ key, signal }: { key: string; signal: AbortSignal }): Promise<V> => {
      const call = ++o.calls
      o.signals.push(signal)
      o.active++
      o.maxActive = Math.max(o.maxActive, o.active)
      try {
        await new Promise((r) => setTimeout(r, ms))
        const error = fail?.(key, call)
        if (error !== undefined) throw error
        return produce(key, call)
      } finally {
        o.active--
      }
    },
  }
  return o
}

const now = () => Date.now()

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('SingleFlightCache — concurrency (docs/conformance/single-flight.md SF-01..SF-06)', () => {
  it('SF-01 / SF-27: 1000 concurrent cold calls → 1 origin call, identical values, metrics', async () => {
    const cache = new SingleFlightCache<string, { v: number }>({ ttl: 1000, now })
    const o = origin(20, () => ({ v: 1 }))
    const ps = Array.from({ length: 1000 }, () => cache.getOrSet('k', o.load))
    await vi.advanceTimersByTimeAsync(20)
    const values = await Promise.all(ps)
    expect(o.calls).toBe(1)
    expect(o.maxActive).toBe(1)
    expect(values.every((v) => v === values[0])).toBe(true)
    expect(cache.statistics()).toEqual({ inFlight: 0, hits: 0, misses: 1, coalesced: 999, loads: 1, staleServed: 0, errors: 0 })
    await cache.getOrSet('k', o.load)
    const s = cache.statistics()
    expect(s.hits / (s.hits + s.misses + s.coalesced)).toBeCloseTo(1 / 1001)
  })

  it('SF-02: 100 cold keys × 10 callers → 100 origin calls, keys do not block each other', async () => {
    const cache = new SingleFlightCache<string, string>({ ttl: 1000, now })
    const o = origin(20, (k) => k)
    const ps = Array.from({ length: 100 }, (_, k) => Array.from({ length: 10 }, () => cache.getOrSet(`k${k}`, o.load))).flat()
    await vi.advanceTimersByTimeAsync(20) // one origin latency serves all keys
    await Promise.all(ps)
    expect(o.calls).toBe(100)
    expect(o.maxActive).toBe(100)
  })

  it('SF-03: a loader for A may call get(B); a loader re-entering A rejects with ReentrancyError', async () => {
    vi.useRealTimers()
    const cache = new SingleFlightCache<string, number>({ ttl: 1000, detectReentrancy: true })
    await expect(cache.getOrSet('A', async () => 1 + (await cache.getOrSet('B', () => 1)))).resolves.toBe(2)
    await expect(cache.getOrSet('X', async () => cache.getOrSet('X', () => 1))).rejects.toBeInstanceOf(ReentrancyError)
    // a cycle through another key
    const cycle = cache.getOrSet('P', async () => cache.getOrSet('Q', async () => cache.getOrSet('P', () => 3)))
    await expect(cycle).rejects.toBeInstanceOf(ReentrancyError)
    expect(cache.statistics().inFlight).toBe(0)
  })

  it('SF-04: a synchronously throwing loader rejects all 10; the next call calls the origin again', async () => {
    const cache = new SingleFlightCache<string, number>({ ttl: 1000, now })
    let calls = 0
    const err = new Error('sync')
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        cache.getOrSet('k', () => {
          calls++
          throw err
        }),
      ),
    )
    expect(results.every((r) => r.status === 'rejected' && r.reason === err)).toBe(true)
    expect(calls).toBe(1)
    expect(cache.statistics().inFlight).toBe(0)
    await expect(cache.getOrSet('k', () => (calls++, 5))).resolves.toBe(5)
    expect(calls).toBe(2)
  })

  it('SF-05: a get arriving while the (async) store write is pending joins the flight — no second origin call; callers settle once it is written', async () => {
    const map = new Map<string, CacheEntry<number>>()
    let releaseWrite!: () => void
    const store: Store<string, number> = {
      get: async (k) => map.get(k),
      set: (k, e) => new Promise<void>((r) => (releaseWrite = () => (map.set(k, e), r()))),
      delete: async (k) => void map.delete(k),
      clear: async () => map.clear(),
    }
    const cache = new SingleFlightCache<string, number>({ ttl: 1000, store, now })
    let calls = 0
    const first = track(cache.getOrSet('k', () => (calls++, 7)))
    await vi.advanceTimersByTimeAsync(0)
    expect(first.status).toBe('pending') // written first, then delivered: nobody sees what the store does not hold
    expect(cache.statistics().inFlight).toBe(1) // write pending: the flight stays joinable
    const second = track(cache.getOrSet('k', () => (calls++, 8)))
    releaseWrite()
    await vi.advanceTimersByTimeAsync(0)
    expect(first.value).toBe(7)
    expect(second.value).toBe(7)
    expect(cache.statistics().inFlight).toBe(0)
    expect(calls).toBe(1)
  })

  it('SF-06: two caches over one store keep separate flights and never swap results', async () => {
    const store = new MemoryStore<string, string>({ max: 100 })
    const a = new SingleFlightCache<string, string>({ ttl: 1000, store, now })
    const b = new SingleFlightCache<string, string>({ ttl: 1000, store, now })
    const pa = a.getOrSet('k', async () => 'from-a')
    const pb = b.getOrSet('k', async () => 'from-b')
    expect(await pa).toBe('from-a')
    expect(await pb).toBe('from-b')
  })
})

describe('SingleFlightCache — errors (SF-07..SF-11)', () => {
  it('SF-07: 10 callers, failing origin → 1 call, same error object; errors are not cached', async () => {
    const err = new Error('down')
    const o = origin(
      20,
      () => 1,
      () => err,
    )
    const cache = new SingleFlightCache<string, number>({ ttl: 1000, now })
    const ps = Array.from({ length: 10 }, () => cache.getOrSet('k', o.load).catch((e) => e))
    await vi.advanceTimersByTimeAsync(20)
    const errors = await Promise.all(ps)
    expect(errors.every((e) => e === err)).toBe(true)
    expect(o.calls).toBe(1)
    const next = cache.getOrSet('k', o.load).catch((e) => e)
    await vi.advanceTimersByTimeAsync(20)
    await next
    expect(o.calls).toBe(2)
    expect(cache.statistics().errors).toBe(2)
  })

  it('SF-08: no convoy — a failed burst is one load; late arrivals form one new flight; concurrency 1', async () => {
    const o = origin(
      50,
      () => 1,
      () => new Error('fail'),
    )
    const cache = new SingleFlightCache<string, number>({ ttl: 1000, now })
    const burst = Array.from({ length: 100 }, () => track(cache.getOrSet('k', o.load)))
    await vi.advanceTimersByTimeAsync(50)
    expect(burst.every((t) => t.status === 'rejected')).toBe(true)
    await vi.advanceTimersByTimeAsync(10)
    const late = Array.from({ length: 20 }, () => track(cache.getOrSet('k', o.load)))
    await vi.advanceTimersByTimeAsync(50)
    expect(late.every((t) => t.status === 'rejected')).toBe(true)
    expect(o.calls).toBe(2)
    expect(o.maxActive).toBe(1)
  })

  it('SF-09: errorTtl caches the failure: fails fast at 0.5 s, calls the origin again at 1.1 s', async () => {
    const o = origin(
      0,
      () => 1,
      () => new Error('nope'),
    )
    const cache = new SingleFlightCache<string, number>({ ttl: 10_000, errorTtl: 1000, now })
    const first = cache.getOrSet('k', o.load).catch((e) => e)
    await vi.advanceTimersByTimeAsync(0)
    const cachedError = await first
    await vi.advanceTimersByTimeAsync(500)
    await expect(cache.getOrSet('k', o.load)).rejects.toBe(cachedError)
    expect(o.calls).toBe(1)
    await vi.advanceTimersByTimeAsync(600)
    const again = cache.getOrSet('k', o.load).catch(() => undefined)
    await vi.advanceTimersByTimeAsync(0)
    await again
    expect(o.calls).toBe(2)
  })

  it('SF-10: stale value + staleIfError + errorTtl backoff: 50 callers get stale, 1 origin call, none at t=2 s', async () => {
    let fail = false
    const o = origin(
      10,
      (_k, call) => `v${call}`,
      () => (fail ? new Error('down') : undefined),
    )
    const cache = new SingleFlightCache<string, string>({ ttl: 100, staleIfError: 3_600_000, errorTtl: 5000, now })
    const warm = cache.getOrSet('k', o.load)
    await vi.advanceTimersByTimeAsync(10)
    expect(await warm).toBe('v1')
    await vi.advanceTimersByTimeAsync(200) // stale now
    fail = true
    const ps = Array.from({ length: 50 }, () => cache.getOrSet('k', o.load))
    await vi.advanceTimersByTimeAsync(10)
    expect((await Promise.all(ps)).every((v) => v === 'v1')).toBe(true)
    expect(o.calls).toBe(2)
    expect(cache.statistics().staleServed).toBe(50)
    expect(cache.statistics().errors).toBe(1)
    await vi.advanceTimersByTimeAsync(2000)
    expect(await cache.getOrSet('k', o.load)).toBe('v1')
    expect(o.calls).toBe(2) // backing off
    await vi.advanceTimersByTimeAsync(4000)
    const after = cache.getOrSet('k', o.load)
    await vi.advanceTimersByTimeAsync(10)
    expect(await after).toBe('v1')
    expect(o.calls).toBe(3) // retried after the backoff
  })

  it('SF-11: key A failing does not touch key B', async () => {
    const o = origin(
      20,
      (k) => k,
      (k) => (k === 'A' ? new Error('A down') : undefined),
    )
    const cache = new SingleFlightCache<string, string>({ ttl: 1000, now })
    const a = cache.getOrSet('A', o.load).catch((e: Error) => e.message)
    const b = cache.getOrSet('B', o.load)
    await vi.advanceTimersByTimeAsync(20)
    expect(await a).toBe('A down')
    expect(await b).toBe('B')
    expect(await cache.get('B')).toBe('B')
  })
})

describe('SingleFlightCache — cancellation and timeouts (SF-12..SF-17)', () => {
  it('SF-12 / SF-13: a waiter (even the first caller) that aborts leaves alone; the origin signal is not aborted', async () => {
    const o = origin(100, () => 'v')
    const cache = new SingleFlightCache<string, string>({ ttl: 1000, now })
    const first = new AbortController()
    const second = new AbortController()
    const w1 = track(cache.getOrSet('k', o.load, { signal: first.signal }))
    const w2 = track(cache.getOrSet('k', o.load, { signal: second.signal }))
    const w3 = track(cache.getOrSet('k', o.load))
    await vi.advanceTimersByTimeAsync(10)
    const reason = new Error('first caller gave up')
    first.abort(reason)
    await vi.advanceTimersByTimeAsync(0)
    expect(w1.status).toBe('rejected')
    expect(w1.reason).toBe(reason)
    await vi.advanceTimersByTimeAsync(90)
    expect(w2.value).toBe('v')
    expect(w3.value).toBe('v')
    expect(o.calls).toBe(1)
    expect(o.signals[0]!.aborted).toBe(false)
  })

  it('SF-14: abortLoaderWhenNoWaiters — all waiters abort → loader signal fires, nothing written, next get starts fresh', async () => {
    const o = origin(100, (_k, call) => `v${call}`)
    const cache = new SingleFlightCache<string, string>({ ttl: 1000, abortLoaderWhenNoWaiters: true, now })
    const acs = [new AbortController(), new AbortController(), new AbortController()]
    const ws = acs.map((ac) => cache.getOrSet('k', o.load, { signal: ac.signal }).catch(() => 'aborted'))
    await vi.advanceTimersByTimeAsync(10)
    for (const ac of acs) ac.abort()
    expect(await Promise.all(ws)).toEqual(['aborted', 'aborted', 'aborted'])
    expect(o.signals[0]!.aborted).toBe(true)
    expect(cache.statistics().inFlight).toBe(0)
    const next = cache.getOrSet('k', o.load)
    await vi.advanceTimersByTimeAsync(100)
    expect(await next).toBe('v2')
    expect(await cache.get('k')).toBe('v2')
  })

  it('SF-15: an already-aborted signal rejects immediately and calls nothing', async () => {
    const cache = new SingleFlightCache<string, number>({ ttl: 1000, now })
    let calls = 0
    const reason = new Error('pre')
    await expect(cache.getOrSet('k', () => calls++, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(calls).toBe(0)
    expect(cache.statistics().inFlight).toBe(0)
  })

  it('SF-16: a per-call timeout rejects at 100 ms; the origin keeps running and fills the cache', async () => {
    const o = origin(500, () => 'slow')
    const cache = new SingleFlightCache<string, string>({ ttl: 10_000, now })
    const p = track(cache.getOrSet('k', o.load, { timeout: 100 }))
    await vi.advanceTimersByTimeAsync(100)
    expect(p.status).toBe('rejected')
    expect((p.reason as Error).name).toBe('TimeoutError')
    await vi.advanceTimersByTimeAsync(500)
    expect(await cache.getOrSet('k', o.load)).toBe('slow')
    expect(o.calls).toBe(1)
  })

  it('SF-17: softTimeout serves the stale value at 50 ms; the fresh value lands at 500 ms', async () => {
    const o = origin(500, (_k, call) => `v${call}`)
    const cache = new SingleFlightCache<string, string>({ ttl: 100, staleIfError: 60_000, softTimeout: 50, now })
    await cache.set('k', 'v0')
    await vi.advanceTimersByTimeAsync(200) // stale, beyond any SWR window
    const p = track(cache.getOrSet('k', o.load))
    await vi.advanceTimersByTimeAsync(49)
    expect(p.status).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    expect(p.value).toBe('v0')
    await vi.advanceTimersByTimeAsync(450)
    expect(await cache.get('k')).toBe('v1')
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('SingleFlightCache — TTL, staleness and races (SF-18..SF-25)', () => {
  it('SF-18: gets arriving after the hard TTL join the running SWR refresh', async () => {
    const o = origin(300, (_k, call) => `v${call}`)
    const cache = new SingleFlightCache<string, string>({ ttl: 100, staleWhileRevalidate: 100, now })
    await cache.set('k', 'v0')
    await vi.advanceTimersByTimeAsync(150) // stale, in the SWR window
    expect(await cache.getOrSet('k', o.load)).toBe('v0') // starts the background refresh
    await vi.advanceTimersByTimeAsync(100) // past ttl + swr, refresh still running
    const ps = Array.from({ length: 10 }, () => cache.getOrSet('k', o.load))
    await vi.advanceTimersByTimeAsync(200)
    expect((await Promise.all(ps)).every((v) => v === 'v1')).toBe(true)
    expect(o.calls).toBe(1)
  })

  it('SF-19: 100 concurrent gets on a stale key get the stale value at once; exactly 1 background refresh', async () => {
    const o = origin(50, (_k, call) => `v${call}`)
    const cache = new SingleFlightCache<string, string>({ ttl: 100, staleWhileRevalidate: 1000, now })
    await cache.set('k', 'v0')
    await vi.advanceTimersByTimeAsync(150)
    const values = await Promise.all(Array.from({ length: 100 }, () => cache.getOrSet('k', o.load)))
    expect(values.every((v) => v === 'v0')).toBe(true)
    expect(o.calls).toBe(1)
    expect(cache.statistics().staleServed).toBe(100)
    await vi.advanceTimersByTimeAsync(50)
    expect(await cache.getOrSet('k', o.load)).toBe('v1')
  })

  it.each(['delete', 'clear'] as const)(
    'SF-20: %s() during a flight: the result is not written; earlier joiners get it; later callers start anew',
    async (op) => {
      const o = origin(100, (_k, call) => `v${call}`)
      const cache = new SingleFlightCache<string, string>({ ttl: 1000, now })
      const before = cache.getOrSet('k', o.load)
      await vi.advanceTimersByTimeAsync(10)
      await (op === 'delete' ? cache.delete('k') : cache.clear())
      const after = cache.getOrSet('k', o.load)
      await vi.advanceTimersByTimeAsync(100)
      expect(await before).toBe('v1')
      expect(await after).toBe('v2')
      expect(o.calls).toBe(2)
      expect(await cache.get('k')).toBe('v2')
    },
  )

  it('SF-21: an explicit set() during a flight wins over the flight\u2019s late result', async () => {
    const o = origin(100, () => 'loaded')
    const cache = new SingleFlightCache<string, string>({ ttl: 1000, now })
    const p = cache.getOrSet('k', o.load)
    await vi.advanceTimersByTimeAsync(10)
    await cache.set('k', 'explicit')
    await vi.advanceTimersByTimeAsync(100)
    expect(await p).toBe('loaded')
    expect(await cache.get('k')).toBe('explicit')
  })

  it('SF-22: a loader can set ctx.ttl from the value: hit at 29 s, miss at 31 s', async () => {
    const cache = new SingleFlightCache<string, string>({ ttl: 1000, now })
    let calls = 0
    const loader = (ctx: { ttl: number }) => {
      calls++
      ctx.ttl = 30_000
      return 'dns'
    }
    await cache.getOrSet('k', loader)
    await vi.advanceTimersByTimeAsync(29_000)
    await cache.getOrSet('k', loader)
    expect(calls).toBe(1)
    await vi.advanceTimersByTimeAsync(2_000)
    await cache.getOrSet('k', loader)
    expect(calls).toBe(2)
  })

  it('SF-23: XFetch — ≈ e^(1/β) duplicate early recomputes without coalescing, exactly 1 with it, ~never far from expiry', async () => {
    // A seeded RNG (mulberry32) so the statistics are reproducible.
    const rng = (seed: number) => () => {
      seed = (seed + 0x6d2b79f5) | 0
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
    const random = rng(42)
    const delta = 1000
    const beta = 1
    const trigger = (timeToExpiry: number) => -delta * beta * Math.log(1 - random()) >= timeToExpiry
    // Without coalescing: every trigger while the first recompute runs (window delta) is a duplicate.
    let total = 0
    const cycles = 2000
    for (let c = 0; c < cycles; c++) {
      let first: number | undefined
      let count = 0
      for (let t = 30_000; t > -delta; t -= 10) {
        // Poisson-ish arrivals at 100/s: one read every 10 ms
        if (first === undefined) {
          if (trigger(t)) {
            first = t
            count = 1
          }
        } else if (first - t < delta && trigger(t)) count++
        else if (first - t >= delta) break
      }
      total += count
    }
    const mean = total / cycles
    expect(mean).toBeGreaterThan(2.5)
    expect(mean).toBeLessThan(2.95) // ≈ 1 + (e − 1) = 2.72
    // Far from expiry the trigger probability is negligible: exp(-s/(β·δ)) with s = 10δ ≈ 4.5e-5
    let far = 0
    for (let i = 0; i < 20_000; i++) if (trigger(10 * delta)) far++
    expect(far / 20_000).toBeLessThan(1e-3)

    // With the cache: near expiry, many reads trigger, yet exactly one refresh runs.
    const o = origin(1000, (_k, call) => `v${call}`)
    const cache = new SingleFlightCache<string, string>({ ttl: 10_000, earlyRefresh: { beta: 1 }, now, random: rng(7) })
    const first = cache.getOrSet('k', o.load)
    await vi.advanceTimersByTimeAsync(1000)
    await first // delta measured ≈ 1000 ms
    await vi.advanceTimersByTimeAsync(8_800) // 200 ms before expiry: each read triggers with p ≈ 0.82
    const reads = await Promise.all(Array.from({ length: 200 }, () => cache.getOrSet('k', o.load)))
    expect(reads.every((v) => v === 'v1')).toBe(true) // hits never wait
    expect(o.calls).toBe(2) // exactly one early refresh
    await vi.advanceTimersByTimeAsync(1000)
    expect(await cache.getOrSet('k', o.load)).toBe('v2') // refreshed before it ever expired
    expect(cache.statistics().misses).toBe(1)
  })

  it('SF-24: wall-clock jumps do not change TTL decisions (monotonic clock)', async () => {
    let mono = 0
    const cache = new SingleFlightCache<string, string>({ ttl: 1000, now: () => mono })
    let calls = 0
    await cache.getOrSet('k', () => (calls++, 'v'))
    vi.setSystemTime(Date.now() - 3_600_000) // wall clock −1 h
    mono += 500
    await cache.getOrSet('k', () => (calls++, 'v'))
    vi.setSystemTime(Date.now() + 7_200_000) // wall clock +1 h
    mono += 400
    await cache.getOrSet('k', () => (calls++, 'v'))
    expect(calls).toBe(1)
    mono += 200
    await cache.getOrSet('k', () => (calls++, 'v'))
    expect(calls).toBe(2)

    // the default clock is performance.now(), not Date.now()
    vi.useRealTimers()
    const real = new SingleFlightCache<string, string>({ ttl: 60_000 })
    let realCalls = 0
    await real.getOrSet('k', () => (realCalls++, 'v'))
    const spy = vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000)
    await real.getOrSet('k', () => (realCalls++, 'v'))
    spy.mockRestore()
    expect(realCalls).toBe(1)
  })

  it('SF-25: a bounded LRU (max 1) never loses or aborts a flight through eviction', async () => {
    const o = origin(50, (k) => `value of ${k}`)
    const cache = new SingleFlightCache<string, string>({ ttl: 1000, max: 1, now })
    const a = cache.getOrSet('a', o.load)
    const b = cache.getOrSet('b', o.load)
    await vi.advanceTimersByTimeAsync(50)
    expect(await a).toBe('value of a')
    expect(await b).toBe('value of b')
    expect(o.signals.every((s) => !s.aborted)).toBe(true)
  })
})

describe('SingleFlightCache — memory and metrics (SF-26, SF-27)', () => {
  it('SF-26: 10,000 distinct keys including failures and aborts leave no flight and no keyed lock behind', async () => {
    vi.useRealTimers()
    const cache = new SingleFlightCache<number, number>({ ttl: 1000 })
    const locks = new KeyedLock<number>()
    const ac = new AbortController()
    const ps: Promise<unknown>[] = []
    for (let i = 0; i < 10_000; i++) {
      const mode = i % 3
      ps.push(
        locks.runExclusive(i, () =>
          cache
            .getOrSet(
              i,
              async () => {
                await null
                if (mode === 1) throw new Error('fail')
                return i
              },
              mode === 2 ? { signal: ac.signal } : undefined,
            )
            .catch(() => undefined),
        ),
      )
    }
    ac.abort()
    await Promise.all(ps)
    await settle()
    expect(cache.statistics().inFlight).toBe(0)
    expect(locks.size).toBe(0)
  })
})

describe('SingleFlightCache — bad input', () => {
  it('throws typed errors that say what to do', () => {
    expect(() => new SingleFlightCache({ ttl: -1 })).toThrow(InvalidArgumentError)
    expect(() => new SingleFlightCache({ ttl: 'soon' as never })).toThrow(/ttl must be a number of milliseconds/)
    expect(() => new SingleFlightCache({ max: 0 })).toThrow(/max must be an integer >= 1/)
    expect(() => new SingleFlightCache({ earlyRefresh: { beta: 0 } })).toThrow(/beta must be a number > 0/)
    expect(() => new SingleFlightCache({ store: {} as never })).toThrow(/get, set, delete and clear/)
    const cache = new SingleFlightCache<unknown, number>({ ttl: 10 })
    expect(() => cache.getOrSet('k', 'not a function' as never)).toThrow(/loader must be a function/)
    expect(() => cache.getOrSet({ id: 1 }, () => 1)).toThrow(InvalidArgumentError)
    expect(() => cache.getOrSet('k', () => 1, { ttl: -5 })).toThrow(InvalidArgumentError)
    expect(cache.statistics().inFlight).toBe(0)
  })

  it('a loader that sets an invalid ctx.ttl rejects with a typed error', async () => {
    vi.useRealTimers()
    const cache = new SingleFlightCache<string, number>({ ttl: 10 })
    await expect(cache.getOrSet('k', (ctx) => ((ctx.ttl = -1), 1))).rejects.toBeInstanceOf(InvalidArgumentError)
  })
})

describe('SingleFlightCache — per-call status', () => {
  it('reports miss, coalesced, hit and stale', async () => {
    const cache = new SingleFlightCache<string, string>({ ttl: 100, staleWhileRevalidate: 1000, now })
    const s1: { result?: CacheResult } = {}
    const s2: { result?: CacheResult } = {}
    const p1 = cache.getOrSet('k', async () => 'v', { status: s1 })
    const p2 = cache.getOrSet('k', async () => 'v', { status: s2 })
    await Promise.all([p1, p2])
    const s3: { result?: CacheResult } = {}
    await cache.getOrSet('k', () => 'v', { status: s3 })
    await vi.advanceTimersByTimeAsync(150)
    const s4: { result?: CacheResult } = {}
    await cache.getOrSet('k', () => 'v', { status: s4 })
    expect([s1.result, s2.result, s3.result, s4.result]).toEqual(['miss', 'coalesced', 'hit', 'stale'])
  })
})

describe('SingleFlightCache — callers joining a running load', () => {
  it('do not read the store again (one store read per flight), and still get softTimeout\u2019s stale value', async () => {
    let reads = 0
    const inner = new MemoryStore<string, string>({ max: 10 })
    const store: Store<string, string> = {
      get: async (k) => (reads++, inner.get(k)),
      set: (k, e) => inner.set(k, e),
      delete: (k) => inner.delete(k),
      clear: () => inner.clear(),
    }
    const cache = new SingleFlightCache<string, string>({ ttl: 100, staleIfError: 60_000, softTimeout: 50, store, now })
    await cache.set('k', 'old')
    await vi.advanceTimersByTimeAsync(200)
    const o = origin(500, () => 'new')
    const first = track(cache.getOrSet('k', o.load))
    await vi.advanceTimersByTimeAsync(0)
    const others = Array.from({ length: 20 }, () => track(cache.getOrSet('k', o.load)))
    await vi.advanceTimersByTimeAsync(50)
    expect(first.value).toBe('old')
    expect(others.every((t) => t.value === 'old')).toBe(true)
    expect(reads).toBe(1)
    await vi.advanceTimersByTimeAsync(500)
    expect(o.calls).toBe(1)
  })
})

describe('SingleFlightCache — async store reads', () => {
  it('concurrent callers share one store read per key (a remote store is read once per burst)', async () => {
    let reads = 0
    const inner = new MemoryStore<string, string>({ max: 10 })
    const store: Store<string, string> = {
      get: async (k) => (reads++, await null, inner.get(k)),
      set: (k, e) => inner.set(k, e),
      delete: (k) => inner.delete(k),
      clear: () => inner.clear(),
    }
    const cache = new SingleFlightCache<string, string>({ ttl: 1000, store, now })
    let loads = 0
    const values = await Promise.all(Array.from({ length: 100 }, () => cache.getOrSet('k', async () => (loads++, 'v'))))
    expect(values.every((v) => v === 'v')).toBe(true)
    expect(reads).toBe(1)
    expect(loads).toBe(1)
    expect(cache.statistics()).toMatchObject({ misses: 1, coalesced: 99 })
  })
})
