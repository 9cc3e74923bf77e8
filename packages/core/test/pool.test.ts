import { afterEach, describe, expect, it, vi } from 'vitest'
import { ClosedError, InvalidArgumentError, Pool, PoolLease, TimeoutError } from '../src'
import { abortCount, flushMicrotasks, track } from './helpers'

afterEach(() => {
  vi.useRealTimers()
})

/** A fake connection factory that records what it made and destroyed. */
function factory() {
  let n = 0
  const alive = new Set<number>()
  const destroyed: number[] = []
  let mostAlive = 0
  return {
    alive,
    destroyed,
    get mostAlive() {
      return mostAlive
    },
    create: async () => {
      const id = ++n
      alive.add(id)
      mostAlive = Math.max(mostAlive, alive.size)
      return id
    },
    destroy: (id: number) => {
      alive.delete(id)
      destroyed.push(id)
    },
  }
}

describe('Pool', () => {
  it('validates its options when created', () => {
    const create = () => 1
    expect(() => new Pool({ create, max: 0 })).toThrow(InvalidArgumentError)
    expect(() => new Pool({ create, max: 2, min: 3 })).toThrow(/min must be an integer from 0 to max/)
    expect(() => new Pool({ max: 2 } as never)).toThrow(/create must be a function/)
    expect(() => new Pool({ create, max: 2, idleTimeout: -1 })).toThrow(InvalidArgumentError)
    expect(() => new Pool({ create, max: 2, destroy: 'x' as never })).toThrow(InvalidArgumentError)
    expect(() => new Pool({ create, max: 1 }).acquire({ timeout: NaN })).toThrow(InvalidArgumentError)
  })

  it('lends, gets the resource back on dispose, and reuses it', async () => {
    const f = factory()
    const pool = new Pool({ create: f.create, destroy: f.destroy, max: 2 })
    {
      using conn = await pool.acquire()
      expect(conn).toBeInstanceOf(PoolLease)
      expect(conn.resource).toBe(1)
      expect(pool.statistics()).toMatchObject({ size: 1, idle: 0, borrowed: 1, waiting: 0 })
    }
    expect(pool.statistics()).toMatchObject({ size: 1, idle: 1, borrowed: 0 })
    const again = await pool.acquire()
    expect(again.resource).toBe(1)
    again.release()
    again.release() // idempotent
    expect(pool.statistics()).toMatchObject({ size: 1, idle: 1, borrowed: 0 })
  })

  it('never more than max alive; waiters are served FIFO as resources come back', async () => {
    const f = factory()
    const pool = new Pool({ create: f.create, destroy: f.destroy, max: 2 })
    const a = await pool.acquire()
    const b = await pool.acquire()
    const order: string[] = []
    const waits = ['w1', 'w2', 'w3'].map((w) => pool.acquire().then((lease) => (order.push(w), lease)))
    expect(pool.statistics()).toMatchObject({ size: 2, waiting: 3 })
    a.release()
    b.release()
    const [l1, l2] = await Promise.all(waits.slice(0, 2))
    expect(order).toEqual(['w1', 'w2'])
    l1!.release()
    const l3 = await waits[2]!
    expect(order).toEqual(['w1', 'w2', 'w3'])
    l2!.release()
    l3.release()
    expect(f.mostAlive).toBe(2)
  })

  it('a lease marked broken is destroyed, and the next caller gets a new resource', async () => {
    const f = factory()
    const pool = new Pool({ create: f.create, destroy: f.destroy, max: 1 })
    const first = await pool.acquire()
    const waiting = track(pool.acquire())
    await flushMicrotasks()
    first.markBroken()
    first.release()
    expect(f.destroyed).toEqual([1])
    await flushMicrotasks()
    expect((waiting.value as PoolLease<number>).resource).toBe(2)
    // use(): a throwing user's resource is destroyed
    ;(waiting.value as PoolLease<number>).release()
    await expect(pool.use(() => Promise.reject(new Error('query failed')))).rejects.toThrow('query failed')
    expect(f.destroyed).toEqual([1, 2])
    expect(await pool.use((id) => id * 10)).toBe(30)
  })

  it('a create() failure rejects the caller it was made for; the next caller keeps its place and gets one', async () => {
    let fail = true
    let made = 0
    const pool = new Pool({
      create: async () => {
        if (fail) {
          fail = false
          throw new Error('db down')
        }
        return ++made
      },
      max: 1,
    })
    const first = track(pool.acquire())
    const second = track(pool.acquire())
    await flushMicrotasks()
    expect((first.reason as Error).message).toBe('db down')
    expect(second.status).toBe('fulfilled')
    expect((second.value as PoolLease<number>).resource).toBe(1)
    expect(pool.statistics()).toMatchObject({ size: 1, borrowed: 1, waiting: 0 })
  })

  it('an aborted waiter takes nothing; the resource made for it goes to the next caller or the pool', async () => {
    let release!: (id: number) => void
    const pool = new Pool({ create: () => new Promise<number>((r) => (release = r)), max: 1 })
    const ac = new AbortController()
    const aborted = track(pool.acquire({ signal: ac.signal }))
    const next = track(pool.acquire())
    ac.abort(new Error('client left'))
    await flushMicrotasks()
    expect((aborted.reason as Error).message).toBe('client left')
    expect(abortCount(ac.signal)).toBe(0)
    release(7)
    await flushMicrotasks()
    expect((next.value as PoolLease<number>).resource).toBe(7)
    ;(next.value as PoolLease<number>).release()
    expect(pool.statistics()).toMatchObject({ size: 1, idle: 1, borrowed: 0, waiting: 0 })
  })

  it('timeout rejects with TimeoutError and leaves no timer', async () => {
    vi.useFakeTimers()
    const pool = new Pool({ create: () => 1, max: 1 })
    const held = await pool.acquire()
    const late = track(pool.acquire({ timeout: 100 }))
    vi.advanceTimersByTime(100)
    await flushMicrotasks()
    expect(late.reason).toBeInstanceOf(TimeoutError)
    expect(vi.getTimerCount()).toBe(0)
    held.release()
    expect(pool.statistics()).toMatchObject({ idle: 1, waiting: 0 })
  })

  it('validate() is checked before an idle resource is lent again; false destroys it', async () => {
    const f = factory()
    const bad = new Set<number>()
    const pool = new Pool({ create: f.create, destroy: f.destroy, validate: async (id) => !bad.has(id), max: 1 })
    ;(await pool.acquire()).release()
    bad.add(1)
    const lease = await pool.acquire()
    expect(lease.resource).toBe(2)
    expect(f.destroyed).toEqual([1])
  })

  it('idleTimeout evicts above min, maxLifetime retires old resources, min is created up front', async () => {
    vi.useFakeTimers()
    const f = factory()
    const pool = new Pool({ create: f.create, destroy: f.destroy, max: 3, min: 1, idleTimeout: 1_000, maxLifetime: 10_000 })
    await flushMicrotasks()
    expect(pool.statistics()).toMatchObject({ size: 1, idle: 1 })
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()])
    for (const l of leases) l.release()
    expect(pool.statistics()).toMatchObject({ size: 3, idle: 3 })
    await vi.advanceTimersByTimeAsync(1_000)
    expect(pool.statistics()).toMatchObject({ size: 1, idle: 1 }) // back to min
    await vi.advanceTimersByTimeAsync(9_000)
    // the last one reached maxLifetime: destroyed and replaced to keep min
    expect(f.destroyed.length).toBe(3)
    expect(pool.statistics()).toMatchObject({ size: 1, idle: 1 })
    pool.close()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('holds no timer while nothing is idle or the pool is at min', async () => {
    vi.useFakeTimers()
    const pool = new Pool({ create: () => ({}), max: 2, min: 1, idleTimeout: 1_000 })
    await flushMicrotasks()
    expect(pool.statistics()).toMatchObject({ size: 1, idle: 1 })
    expect(vi.getTimerCount()).toBe(0)
    const lease = await pool.acquire()
    lease.release()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('close() rejects waiters with ClosedError and destroys idle resources; drain() waits for lent ones', async () => {
    const f = factory()
    const pool = new Pool({ create: f.create, destroy: f.destroy, max: 2, name: 'db' })
    const a = await pool.acquire()
    ;(await pool.acquire()).release()
    await pool.acquire().then((l) => void l) // borrow b… and keep it
    const waiter = track(pool.acquire())
    const drained = track(pool.drain())
    await flushMicrotasks()
    expect(waiter.reason).toBeInstanceOf(ClosedError)
    expect((waiter.reason as Error).message).toMatch(/Pool\("db"\) is closed/)
    expect(drained.status).toBe('pending')
    await expect(pool.acquire()).rejects.toBeInstanceOf(ClosedError)
    a.release()
    await flushMicrotasks()
    expect(drained.status).toBe('pending') // one still lent
    expect(pool.statistics()).toMatchObject({ borrowed: 1, closed: true })
  })

  it('drain() waits for destroy() promises still running', async () => {
    let finishClose!: () => void
    const pool = new Pool({ create: () => ({}), destroy: () => new Promise<void>((resolve) => (finishClose = resolve)), max: 1 })
    ;(await pool.acquire()).release()
    const drained = track(pool.drain())
    await flushMicrotasks()
    expect(drained.status).toBe('pending')
    finishClose()
    await flushMicrotasks()
    expect(drained.status).toBe('fulfilled')
  })

  it('drain() resolves once everything is back and destroyed', async () => {
    const f = factory()
    const pool = new Pool({ create: f.create, destroy: f.destroy, max: 2 })
    const a = await pool.acquire()
    const idle = await pool.acquire()
    idle.release()
    const drained = track(pool.drain())
    await flushMicrotasks()
    expect(f.destroyed).toEqual([2])
    expect(drained.status).toBe('pending')
    a.release()
    await flushMicrotasks()
    expect(drained.status).toBe('fulfilled')
    expect(f.alive.size).toBe(0)
  })
})
