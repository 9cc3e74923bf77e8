import { Event, InvalidArgumentError, KeyedLock, Lock, Semaphore, SingleFlight, SingleFlightCache, TimeoutError } from '@yieldpoint/core'
import { defer, firstValueFrom, ignoreElements, from, lastValueFrom, NEVER, Observable, of, range, take, toArray } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it, vi } from 'vitest'
import {
  exhaustKeyedLockMap,
  exhaustLockMap,
  exhaustPermitMap,
  flightMap,
  fromFlight,
  keyedLockMap,
  lockMap,
  permitMap,
  whenSet,
  withKey,
  withLock,
  withPermit,
} from '../src'

const settle = () => new Promise<void>((r) => setImmediate(r))
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected))

/** A synchronous source that stops as soon as its subscriber is closed, counting what it pulled. */
function counting(limit = 10) {
  const state = { pulled: 0 }
  const source = new Observable<number>((s) => {
    for (let i = 0; !s.closed && i < limit; i++) {
      state.pulled++
      s.next(i)
    }
    if (!s.closed) s.complete()
  })
  return { state, source }
}

function* naturals() {
  for (let i = 0; ; i++) yield i
}

describe('a synchronous source sees downstream unsubscribe (subscribed with the subscriber itself)', () => {
  const cases: Array<[string, (src: Observable<number>) => Observable<number>]> = [
    ['withLock', (src) => src.pipe(withLock(new Lock()))],
    ['withPermit', (src) => src.pipe(withPermit(new Semaphore(1)))],
    ['withKey', (src) => src.pipe(withKey(new KeyedLock<string>(), 'k'))],
    ['lockMap inner', (src) => of(0).pipe(lockMap(new Lock(), () => src))],
    ['permitMap inner', (src) => of(0).pipe(permitMap(new Semaphore(1), () => src))],
    [
      'keyedLockMap inner',
      (src) =>
        of(0).pipe(
          keyedLockMap(
            new KeyedLock<number>(),
            (v) => v,
            () => src,
          ),
        ),
    ],
  ]
  for (const [name, wrap] of cases) {
    it(`${name}: take(3) pulls 3 values, like plain mergeMap`, () => {
      const { state, source } = counting()
      const seen: number[] = []
      wrap(source)
        .pipe(take(3))
        .subscribe((v) => seen.push(v))
      expect(seen).toEqual([0, 1, 2])
      expect(state.pulled).toBe(3)
    })
    it(`${name}: an infinite synchronous source returns under take(5)`, async () => {
      expect(await lastValueFrom(wrap(from(naturals())).pipe(take(5), toArray()))).toEqual([0, 1, 2, 3, 4])
    })
  }
})

describe('teardown is complete when unsubscribe() returns', () => {
  it('lockMap over NEVER: the lock is free right after unsubscribe()', () => {
    const lock = new Lock()
    range(0, 5)
      .pipe(lockMap(lock, () => NEVER))
      .subscribe()
      .unsubscribe()
    expect(lock.locked()).toBe(false)
    expect(lock.statistics().waiting).toBe(0)
  })

  it('mergeMap + withLock over NEVER, permitMap and keyedLockMap: nothing held or queued after unsubscribe()', () => {
    const lock = new Lock()
    const sem = new Semaphore(2)
    const locks = new KeyedLock<number>()
    const started: number[] = []
    const never = (i: number) => defer(() => (started.push(i), NEVER))
    range(0, 5).pipe(lockMap(lock, never)).subscribe().unsubscribe()
    range(0, 5).pipe(permitMap(sem, never)).subscribe().unsubscribe()
    range(0, 5)
      .pipe(keyedLockMap(locks, () => 1, never))
      .subscribe()
      .unsubscribe()
    expect(lock.locked()).toBe(false)
    expect(sem.value).toBe(2)
    expect(sem.statistics().waiting).toBe(0)
    expect(locks.size).toBe(0)
    // A waiter being torn down by the same unsubscribe() never starts its inner Observable.
    expect(started).toEqual([0, 0, 1, 0])
  })

  it('unsubscribing after the grant but while a release is in progress still frees the lock', async () => {
    const lock = new Lock()
    const holder = await lock.acquire()
    const sub = of(1).pipe(withLock(lock)).subscribe()
    sub.unsubscribe()
    holder.release()
    expect(lock.locked()).toBe(false)
  })
})

describe('permitMap behaves like mergeMap(project, concurrent) with the permit as the shared limit', () => {
  it('10,000 values keep at most one waiter per stream, never 9,998', async () => {
    const sem = new Semaphore(2)
    let maxWaiting = 0
    let maxInside = 0
    let inside = 0
    const job = (i: number) =>
      defer(async () => {
        inside++
        maxInside = Math.max(maxInside, inside)
        maxWaiting = Math.max(maxWaiting, sem.statistics().waiting)
        await Promise.resolve()
        inside--
        return i
      })
    const out = await lastValueFrom(range(0, 10_000).pipe(permitMap(sem, job), toArray()))
    expect(out).toHaveLength(10_000)
    expect(maxInside).toBe(2)
    expect(maxWaiting).toBeLessThanOrEqual(1)
    expect(sem.value).toBe(2)
  })

  it('concurrent bounds this stream below the permits', async () => {
    const sem = new Semaphore(10)
    let inside = 0
    let max = 0
    const job = () =>
      defer(async () => {
        inside++
        max = Math.max(max, inside)
        await settle()
        inside--
      })
    await lastValueFrom(range(0, 20).pipe(permitMap(sem, job, { concurrent: 3 })), { defaultValue: undefined })
    expect(max).toBe(3)
  })

  it('keeps emission order of a single stream with a Lock (FIFO)', async () => {
    const out = await lastValueFrom(
      range(0, 50).pipe(
        lockMap(new Lock(), (i) => defer(async () => (await Promise.resolve(), i))),
        toArray(),
      ),
    )
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })
})

describe('keyed and exhaust forms', () => {
  it('keyedLockMap: same key one at a time, other keys in parallel', async () => {
    const locks = new KeyedLock<string>()
    const log: string[] = []
    const job = (v: string) =>
      defer(async () => {
        log.push(`${v} in`)
        await settle()
        log.push(`${v} out`)
        return v
      })
    await lastValueFrom(
      from(['a1', 'b1', 'a2']).pipe(
        keyedLockMap(locks, (v) => v[0]!, job),
        toArray(),
      ),
    )
    expect(log.indexOf('b1 in')).toBeLessThan(log.indexOf('a1 out'))
    expect(log.indexOf('a2 in')).toBeGreaterThan(log.indexOf('a1 out'))
    expect(locks.size).toBe(0)
  })

  it('exhaustLockMap drops values while the lock is busy, in this stream or another', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const lock = new Lock()
      const source = hot('12-3|')
      expectObservable(source.pipe(exhaustLockMap(lock, (v) => cold('-a|', { a: v })))).toBe('-a--b|', { a: '1', b: '3' })
    })
  })

  it('exhaust forms: a busy guard means skip, never wait', async () => {
    const lock = new Lock()
    const holder = lock.tryAcquire()!
    expect(
      await lastValueFrom(
        of(1, 2).pipe(
          exhaustLockMap(lock, (v) => of(v)),
          toArray(),
        ),
      ),
    ).toEqual([])
    holder.release()
    expect(
      await lastValueFrom(
        of(1, 2).pipe(
          exhaustLockMap(lock, (v) => of(v)),
          toArray(),
        ),
      ),
    ).toEqual([1, 2])
    const sem = new Semaphore(1)
    const g = sem.tryAcquire()!
    expect(
      await lastValueFrom(
        of(1).pipe(
          exhaustPermitMap(sem, (v) => of(v)),
          toArray(),
        ),
      ),
    ).toEqual([])
    g.release()
    const locks = new KeyedLock<string>()
    const k = locks.tryAcquire('a')!
    expect(
      await lastValueFrom(
        of('a', 'b').pipe(
          exhaustKeyedLockMap(
            locks,
            (v) => v,
            (v) => of(v),
          ),
          toArray(),
        ),
      ),
    ).toEqual(['b'])
    k.release()
    expect(lock.statistics().waiting + sem.statistics().waiting).toBe(0)
  })
})

describe('arguments are checked when the operator is created', () => {
  it('bad primitives, functions and options throw InvalidArgumentError at once', () => {
    const lock = new Lock()
    const sem = new Semaphore(1)
    expect(() => lockMap({} as Lock, () => of(1))).toThrow(InvalidArgumentError)
    expect(() => lockMap(lock, 'x' as never)).toThrow(/project must be a function/)
    expect(() => permitMap(sem, () => of(1), { concurrent: 0 })).toThrow(/concurrent must be an integer >= 1/)
    expect(() => permitMap(sem, () => of(1), { max: 2 } as never)).toThrow(/unknown option "max"/)
    expect(() => withPermit(sem, { permits: 1.5 })).toThrow(InvalidArgumentError)
    expect(() => withLock(lock, { timeout: -1 })).toThrow(/timeout must be a number/)
    expect(() => withKey(new KeyedLock(), 'k', { signal: {} as AbortSignal })).toThrow(/signal must be an AbortSignal/)
    expect(() => keyedLockMap(new KeyedLock(), 1 as never, () => of(1))).toThrow(/keyOf must be a function/)
    expect(() => flightMap(new SingleFlight(), (v) => v, 1 as never)).toThrow(/project must be a function/)
    expect(() =>
      flightMap(
        {} as SingleFlight,
        (v) => v,
        () => of(1),
      ),
    ).toThrow(InvalidArgumentError)
    expect(() => whenSet(new Event(), { timeout: Number.NaN })).toThrow(InvalidArgumentError)
  })
})

describe('{ timeout, signal } on every operator', () => {
  it('withLock: signal aborts the wait with signal.reason; the lock queue is left clean', async () => {
    const lock = new Lock()
    const holder = lock.tryAcquire()!
    const ac = new AbortController()
    const p = firstValueFrom(of(1).pipe(withLock(lock, { signal: ac.signal })))
    ac.abort(new Error('stop'))
    await expect(p).rejects.toThrow('stop')
    expect(lock.statistics().waiting).toBe(0)
    holder.release()
  })

  it('permitMap and whenSet: timeout rejects with TimeoutError', async () => {
    vi.useFakeTimers()
    try {
      const sem = new Semaphore(0)
      const a = firstValueFrom(of(1).pipe(permitMap(sem, (v) => of(v), { timeout: 10 })))
      const b = firstValueFrom(whenSet(new Event(), { timeout: 10 }))
      const caught = Promise.all([a.catch((e: unknown) => e), b.catch((e: unknown) => e)])
      await vi.advanceTimersByTimeAsync(10)
      const [ea, eb] = await caught
      expect(ea).toBeInstanceOf(TimeoutError)
      expect(eb).toBeInstanceOf(TimeoutError)
    } finally {
      vi.useRealTimers()
    }
  })

  it('fromFlight: a caller signal detaches that caller only', async () => {
    const flights = new SingleFlight<string, number>()
    let release!: (v: number) => void
    const work = () => new Promise<number>((r) => (release = r))
    const ac = new AbortController()
    const a = firstValueFrom(fromFlight(flights, 'k', work, { signal: ac.signal }))
    const b = firstValueFrom(fromFlight(flights, 'k', work))
    ac.abort(new Error('gone'))
    await expect(a).rejects.toThrow('gone')
    release(7)
    expect(await b).toBe(7)
  })
})

describe('fromFlight follows share() where it can', () => {
  it('an empty factory completes every subscriber empty instead of EmptyError, and caches nothing', async () => {
    const cache = new SingleFlightCache<string, number>({ ttl: 60_000 })
    let calls = 0
    const empty = () => defer(async () => (calls++, await settle())).pipe(ignoreElements())
    const both = await Promise.all([lastValueFrom(fromFlight(cache, 'k', empty).pipe(toArray())), lastValueFrom(fromFlight(cache, 'k', empty).pipe(toArray()))])
    expect(both).toEqual([[], []])
    expect(calls).toBe(1)
    expect(await lastValueFrom(fromFlight(cache, 'k', () => of(5)))).toBe(5)
  })

  it('accepts any Coalescer (run(key, fn, opts)), not only the two core classes — no instanceof', async () => {
    const calls: string[] = []
    const custom = {
      run: <V>(key: string, fn: (signal: AbortSignal, ctx: { keep: boolean; share: boolean; signal: AbortSignal }) => V | PromiseLike<V>) => {
        calls.push(key)
        const signal = new AbortController().signal
        return Promise.resolve(fn(signal, { keep: true, share: true, signal }))
      },
    }
    expect(await lastValueFrom(fromFlight(custom as never, 'k', () => of(3)))).toBe(3)
    expect(calls).toEqual(['k'])
  })

  it('a factory that never completes still lets each subscriber unsubscribe', async () => {
    const flights = new SingleFlight<string, number>()
    const subs = [fromFlight(flights, 'k', () => NEVER).subscribe(), fromFlight(flights, 'k', () => NEVER).subscribe()]
    for (const s of subs) s.unsubscribe()
    await settle()
    expect(subs.every((s) => s.closed)).toBe(true)
    expect(flights.size).toBe(0)
  })
})

describe('README marbles, reproduced with TestScheduler', () => {
  it('two streams on one lock: b$ is subscribed in the frame a$ completes (FIFO)', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const lock = new Lock()
      const a = cold('-a-b-|')
      const b = cold('-c-d-|')
      expectObservable(a.pipe(withLock(lock))).toBe('-a-b-|')
      expectObservable(b.pipe(withLock(lock))).toBe('------c-d-|')
      expectSubscriptions(b.subscriptions).toBe('-----^----!')
    })
  })

  it('Semaphore(2), three sources: C starts in the frame A ends', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const sem = new Semaphore(2)
      expectObservable(cold('--a|').pipe(withPermit(sem))).toBe('--a|')
      expectObservable(cold('----b|').pipe(withPermit(sem))).toBe('----b|')
      expectObservable(cold('--c|').pipe(withPermit(sem))).toBe('-----c|')
    })
  })

  it('lockMap: p(2) waits for p(1) to complete', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const lock = new Lock()
      expectObservable(hot('--1--2|').pipe(lockMap(lock, () => cold('-a--|')))).toBe('---a---a--|')
    })
  })

  it('permitMap(Semaphore(2)): two inner Observables at a time', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const sem = new Semaphore(2)
      expectObservable(cold('(12345|)').pipe(permitMap(sem, () => cold('---a|')))).toBe('---(aa)(aa)a|')
    })
  })

  it('keyedLockMap: the second a waits only for the first a', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const locks = new KeyedLock<string>()
      expectObservable(
        hot('ab-a|').pipe(
          keyedLockMap(
            locks,
            (k) => k,
            (k) => cold('-x|', { x: k }),
          ),
        ),
      ).toBe('-xy-x|', { x: 'a', y: 'b' })
    })
  })
})
