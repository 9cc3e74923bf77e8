import { Event, KeyedLock, Lock, Semaphore, SingleFlight, SingleFlightCache } from '@yieldpoint/core'
import { defer, from, mergeMap, Observable, range, Subject, firstValueFrom, lastValueFrom, retry, throwError, timer, of, takeUntil } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { describe, expect, it } from 'vitest'
import { flightMap, fromFlight, lockMap, permitMap, whenSet, withKey, withLock, withPermit } from '../src'

const settle = () => new Promise<void>((r) => setImmediate(r))
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected))

describe('marbles: ordering and teardown (TestScheduler)', () => {
  it('an uncontended source passes through unchanged, synchronously, and releases on complete', () => {
    const lock = new Lock()
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-|')
      expectObservable(source.pipe(withLock(lock))).toBe('-a-b-c-|')
      expectSubscriptions(source.subscriptions).toBe('^------!')
    })
    expect(lock.locked()).toBe(false)
  })

  it('an error releases before it propagates', () => {
    const sem = new Semaphore(1)
    let heldWhenErrored: boolean | undefined
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('-a-#', undefined, new Error('boom'))
      const observed = new Observable<string>((sub) =>
        source
          .pipe(withPermit(sem))
          .subscribe({ next: (v) => sub.next(v), error: (e) => ((heldWhenErrored = sem.locked()), sub.error(e)), complete: () => sub.complete() }),
      )
      expectObservable(observed).toBe('-a-#', undefined, new Error('boom'))
    })
    expect(heldWhenErrored).toBe(false)
    expect(sem.value).toBe(1)
  })

  it('unsubscribing while holding releases exactly once', () => {
    const sem = new Semaphore(2)
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-d-|')
      expectObservable(source.pipe(withPermit(sem)), '^--!').toBe('-a-')
      expectSubscriptions(source.subscriptions).toBe('^--!')
    })
    expect(sem.value).toBe(2)
  })

  it('sequential sources take turns on the lock; retry re-acquires after an error', () => {
    const lock = new Lock()
    scheduler().run(({ cold, expectObservable }) => {
      let attempt = 0
      const flaky = defer(() => (attempt++ === 0 ? cold('-x-#') : cold('-y-|'))).pipe(withLock(lock), retry(1))
      expectObservable(flaky).toBe('-x--y-|')
    })
    expect(lock.locked()).toBe(false)
  })

  it('lockMap keeps the projected order and never overlaps inner Observables (uncontended path)', () => {
    const lock = new Lock()
    scheduler().run(({ cold, hot, expectObservable }) => {
      const source = hot('--1-----2-----|')
      const result = source.pipe(lockMap(lock, (v) => cold('-a|', { a: `done ${v}` })))
      expectObservable(result).toBe('---a-----b----|', { a: 'done 1', b: 'done 2' })
    })
  })
})

describe('async: contention, teardown, single-flight', () => {
  it('permitMap: concurrency never exceeds the permits, across two streams', async () => {
    const sem = new Semaphore(3)
    let inside = 0
    let max = 0
    const job = (i: number) =>
      defer(async () => {
        inside++
        max = Math.max(max, inside)
        await settle()
        inside--
        return i
      })
    const a = lastValueFrom(range(0, 20).pipe(permitMap(sem, job)))
    const b = lastValueFrom(range(0, 20).pipe(mergeMap((i) => job(i).pipe(withPermit(sem)))))
    await Promise.all([a, b])
    expect(max).toBe(3)
    expect(sem.value).toBe(3)
  })

  it('withLock serialises sources from different subscriptions in FIFO order', async () => {
    const lock = new Lock()
    const log: string[] = []
    const task = (name: string) =>
      defer(async () => {
        log.push(`${name} in`)
        await settle()
        log.push(`${name} out`)
        return name
      }).pipe(withLock(lock))
    await Promise.all(['a', 'b', 'c'].map((n) => lastValueFrom(task(n))))
    expect(log).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out'])
  })

  it('unsubscribing while waiting leaves no waiter, and the next waiter proceeds', async () => {
    const lock = new Lock()
    const holder = await lock.acquire()
    const stop = new Subject<void>()
    let ran = false
    const waiting = of(1)
      .pipe(withLock(lock), takeUntil(stop))
      .subscribe(() => (ran = true))
    expect(lock.statistics().waiting).toBe(1)
    stop.next()
    expect(lock.statistics().waiting).toBe(0)
    expect(waiting.closed).toBe(true)
    const next = lastValueFrom(of('next').pipe(withLock(lock)))
    holder.release()
    expect(await next).toBe('next')
    expect(ran).toBe(false)
    expect(lock.locked()).toBe(false)
  })

  it('a grant subscribes the source inside the release() that made it (no microtask)', async () => {
    const lock = new Lock()
    const holder = await lock.acquire()
    let subscribed = false
    defer(() => ((subscribed = true), of(1)))
      .pipe(withLock(lock))
      .subscribe()
    holder.release()
    expect(subscribed).toBe(true)
    expect(lock.locked()).toBe(false)
  })

  it('withKey: same key waits, other keys run in parallel', async () => {
    const locks = new KeyedLock<string>()
    const log: string[] = []
    const job = (key: string, name: string) =>
      lastValueFrom(
        defer(async () => {
          log.push(`${name} in`)
          await settle()
          log.push(`${name} out`)
        }).pipe(withKey(locks, key)),
      )
    await Promise.all([job('a', 'a1'), job('a', 'a2'), job('b', 'b1')])
    expect(log.indexOf('b1 in')).toBeLessThan(log.indexOf('a1 out'))
    expect(log.indexOf('a2 in')).toBeGreaterThan(log.indexOf('a1 out'))
    expect(locks.size).toBe(0)
  })

  it('1,000 concurrent same-key subscriptions → 1 upstream call', async () => {
    const flights = new SingleFlight<string, number>()
    let calls = 0
    const upstream = () => defer(async () => (calls++, await settle(), 42))
    const values = await Promise.all(Array.from({ length: 1000 }, () => firstValueFrom(fromFlight(flights, 'k', upstream))))
    expect(calls).toBe(1)
    expect(values.every((v) => v === 42)).toBe(true)
    expect(flights.size).toBe(0)
  })

  it('flightMap with a SingleFlightCache caches with its TTL; errors reach every caller and are not kept', async () => {
    const cache = new SingleFlightCache<string, string>({ ttl: 60_000 })
    let calls = 0
    const fetch$ = (id: string) => defer(async () => (calls++, await settle(), `product ${id}`))
    const out = await lastValueFrom(
      from(['a', 'a', 'b', 'a']).pipe(
        flightMap(cache, (id) => id, fetch$),
        (s) =>
          new Observable<string[]>((sub) => {
            const all: string[] = []
            return s.subscribe({ next: (v) => all.push(v), error: (e) => sub.error(e), complete: () => (sub.next(all.sort()), sub.complete()) })
          }),
      ),
    )
    expect(out).toEqual(['product a', 'product a', 'product a', 'product b'])
    expect(calls).toBe(2)
    await firstValueFrom(fromFlight(cache, 'a', () => fetch$('a')))
    expect(calls).toBe(2) // cached

    const flights = new SingleFlight<string, string>()
    let failing = 0
    const boom = () => defer(async () => (failing++, await settle(), Promise.reject(new Error('down'))))
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => firstValueFrom(fromFlight(flights, 'x', boom))))
    expect(results.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'down')).toBe(true)
    expect(failing).toBe(1)
    await firstValueFrom(fromFlight(flights, 'x', boom)).catch(() => undefined)
    expect(failing).toBe(2)
  })

  it('when every subscriber leaves, the shared execution is unsubscribed (its signal aborts)', async () => {
    const flights = new SingleFlight<string, number>()
    let torn = false
    const never = () => new Observable<number>(() => () => (torn = true))
    const a = fromFlight(flights, 'k', never).subscribe()
    const b = fromFlight(flights, 'k', never).subscribe()
    a.unsubscribe()
    await settle()
    expect(torn).toBe(false)
    b.unsubscribe()
    await settle()
    expect(torn).toBe(true)
    expect(flights.size).toBe(0)
  })

  it('whenSet emits once the Event is set; unsubscribing removes the waiter', async () => {
    const ev = new Event()
    const stop = new Subject<void>()
    whenSet(ev).pipe(takeUntil(stop)).subscribe()
    expect(ev.statistics().waiting).toBe(1)
    stop.next()
    expect(ev.statistics().waiting).toBe(0)
    const p = firstValueFrom(whenSet(ev))
    await lastValueFrom(timer(1))
    ev.set()
    expect(await p).toBe(true)
    expect(await firstValueFrom(whenSet(ev))).toBe(true)
  })

  it('bad arguments throw typed errors', () => {
    expect(() => withLock({} as Lock)).toThrow(/must be a Lock/)
    expect(() => withPermit(new Semaphore(1), { permits: 0 })).toThrow(/permits must be an integer/)
    expect(() => fromFlight({} as SingleFlight<string, number>, 'k', () => of(1))).toThrow(/SingleFlight or a SingleFlightCache/)
    expect(() => whenSet({} as Event)).toThrow(/must be an Event/)
    void throwError
  })
})
