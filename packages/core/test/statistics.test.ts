import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  Barrier,
  type BarrierStatistics,
  BoundedSemaphore,
  type BoundedSemaphoreStatistics,
  Condition,
  type ConditionStatistics,
  Event,
  type EventStatistics,
  KeyedLock,
  type KeyedLockStatistics,
  Lock,
  type LockStatistics,
  Semaphore,
  type SemaphoreStatistics,
  SingleFlight,
  SingleFlightCache,
  type SingleFlightCacheStatistics,
  type SingleFlightStatistics,
} from '../src'

describe('one introspection call: statistics() returns an exported, named type', () => {
  it('every primitive and KeyedLock', async () => {
    expectTypeOf(new Lock().statistics()).toEqualTypeOf<LockStatistics>()
    expectTypeOf(new Event().statistics()).toEqualTypeOf<EventStatistics>()
    expectTypeOf(new Condition().statistics()).toEqualTypeOf<ConditionStatistics>()
    expectTypeOf(new Semaphore().statistics()).toEqualTypeOf<SemaphoreStatistics>()
    expectTypeOf(new BoundedSemaphore().statistics()).toEqualTypeOf<BoundedSemaphoreStatistics>()
    expectTypeOf(new Barrier(2).statistics()).toEqualTypeOf<BarrierStatistics>()
    expectTypeOf(new KeyedLock().statistics()).toEqualTypeOf<KeyedLockStatistics>()
    expectTypeOf(new SingleFlight().statistics()).toEqualTypeOf<SingleFlightStatistics>()
    expectTypeOf(new SingleFlightCache().statistics()).toEqualTypeOf<SingleFlightCacheStatistics>()

    expect(new BoundedSemaphore(3).statistics()).toEqual({ value: 3, waiting: 0, locked: false, closed: false, bound: 3 })
    const locks = new KeyedLock<string>()
    const a = await locks.acquire('a')
    const waiter = locks.acquire('a')
    await locks.acquire('b')
    expect(locks.statistics()).toEqual({ keys: 2, held: 2, waiting: 1 })
    a.release()
    ;(await waiter).release()
  })

  it('inFlight lives only inside statistics(), on SingleFlight and SingleFlightCache alike', async () => {
    const flights = new SingleFlight<string, number>()
    const cache = new SingleFlightCache<string, number>()
    let finish!: () => void
    const gate = new Promise<void>((r) => (finish = r))
    const a = flights.run('k', async () => (await gate, 1))
    const b = cache.getOrSet('k', async () => (await gate, 2))
    expect(flights.statistics()).toEqual({ inFlight: 1 })
    expect(cache.statistics().inFlight).toBe(1)
    expect('inFlight' in flights).toBe(false)
    expect('inFlight' in cache).toBe(false)
    expect('stats' in cache).toBe(false)
    finish()
    await Promise.all([a, b])
    expect(flights.statistics().inFlight).toBe(0)
    expect(cache.statistics()).toMatchObject({ inFlight: 0, misses: 1, loads: 1 })
  })
})
