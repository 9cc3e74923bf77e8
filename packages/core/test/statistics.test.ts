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

    expect(new BoundedSemaphore(3).statistics()).toEqual({ value: 3, waiting: 0, locked: false, closed: false, bound: 3 })
    const locks = new KeyedLock<string>()
    const a = await locks.acquire('a')
    const waiter = locks.acquire('a')
    await locks.acquire('b')
    expect(locks.statistics()).toEqual({ keys: 2, held: 2, waiting: 1 })
    a.release()
    ;(await waiter).release()
  })
})
