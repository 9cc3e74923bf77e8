import { describe, expect, it, vi, afterEach } from 'vitest'
import { InvalidArgumentError, KeyedLock, TimeoutError } from '../src'
import { abortCount, settle, track } from './helpers'

afterEach(() => {
  vi.useRealTimers()
})

describe('KeyedLock (docs/conformance/primitives.md cases 43-44)', () => {
  it('43: a held key does not block another key; an idle key leaves nothing behind', async () => {
    const locks = new KeyedLock<string>()
    const a = await locks.acquire('a')
    const b = track(locks.acquire('b'))
    await settle()
    expect(b.status).toBe('fulfilled')
    const a2 = track(locks.acquire('a'))
    await settle()
    expect(a2.status).toBe('pending')
    expect(locks.size).toBe(2)
    a.release()
    await settle()
    ;(a2.value as { release(): void }).release()
    ;(b.value as { release(): void }).release()
    expect(locks.size).toBe(0)
    expect(locks.locked('a')).toBe(false)
  })

  it('per-key FIFO and no barging', async () => {
    const locks = new KeyedLock()
    const first = await locks.acquire('k')
    const order: number[] = []
    const waits = [1, 2, 3].map((i) => locks.runExclusive('k', () => order.push(i)))
    first.release()
    expect(locks.tryAcquire('k')).toBeUndefined()
    await Promise.all(waits)
    expect(order).toEqual([1, 2, 3])
    expect(locks.size).toBe(0)
  })

  it('44: acquireMany([b,a]) and acquireMany([a,b]) concurrently both complete (canonical order)', async () => {
    const locks = new KeyedLock()
    const log: string[] = []
    const job = (keys: string[], name: string) =>
      (async () => {
        using _ = await locks.acquireMany(keys)
        log.push(`${name} in`)
        await settle()
        log.push(`${name} out`)
      })()
    await Promise.all([job(['b', 'a'], 'x'), job(['a', 'b'], 'y'), job(['a', 'b', 'a'], 'z')])
    expect(log).toEqual(['x in', 'x out', 'y in', 'y out', 'z in', 'z out'])
    expect(locks.size).toBe(0)
  })

  it('acquireMany([1, 1n]) against acquireMany([1n, 1]) does not deadlock: the order is total over key identity', async () => {
    const locks = new KeyedLock<number | bigint | string>()
    const log: string[] = []
    const job = (keys: (number | bigint | string)[], name: string) =>
      (async () => {
        using _ = await locks.acquireMany(keys)
        log.push(name)
        await settle()
      })()
    const all = track(Promise.all([job([1, 1n], 'x'), job([1n, 1], 'y'), job(['1', 1n, 1, -0, 0n], 'z'), job([0, '1', 0n], 'w')]))
    for (let i = 0; i < 20 && all.status === 'pending'; i++) await settle()
    expect(all.status).toBe('fulfilled')
    expect(log.sort()).toEqual(['w', 'x', 'y', 'z'])
    expect(locks.size).toBe(0)
  })

  it('acquireMany that times out or aborts holds none of its keys afterwards', async () => {
    vi.useFakeTimers()
    const locks = new KeyedLock()
    const holdB = await locks.acquire('b')
    const p = track(locks.acquireMany(['a', 'b', 'c'], { timeout: 50 }))
    await vi.advanceTimersByTimeAsync(10)
    expect(locks.locked('a')).toBe(true) // took 'a', waits for 'b'
    await vi.advanceTimersByTimeAsync(40)
    expect(p.status).toBe('rejected')
    expect(p.reason).toBeInstanceOf(TimeoutError)
    expect(locks.locked('a')).toBe(false)
    expect(locks.locked('c')).toBe(false)
    holdB.release()
    expect(locks.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)

    const ac = new AbortController()
    const hold = await locks.acquire('b')
    const q = track(locks.acquireMany(['a', 'b'], { signal: ac.signal }))
    await vi.advanceTimersByTimeAsync(0)
    const reason = new Error('client left')
    ac.abort(reason)
    await vi.advanceTimersByTimeAsync(0)
    expect(q.reason).toBe(reason)
    expect(locks.locked('a')).toBe(false)
    hold.release()
    expect(locks.size).toBe(0)
    expect(abortCount(ac.signal)).toBe(0)
  })

  it('the guard of acquireMany releases every key once', async () => {
    const locks = new KeyedLock<number>()
    const g = await locks.acquireMany([3, 1, 2])
    expect([1, 2, 3].every((k) => locks.locked(k))).toBe(true)
    g.release()
    g.release()
    expect(locks.size).toBe(0)
  })

  it('an aborted waiter on an otherwise idle key leaves no entry', async () => {
    const locks = new KeyedLock()
    const g = await locks.acquire('k')
    const ac = new AbortController()
    const w = locks.acquire('k', { signal: ac.signal }).catch(() => 'aborted')
    ac.abort()
    expect(await w).toBe('aborted')
    g.release()
    expect(locks.size).toBe(0)
  })

  it('size returns to 0 after a million distinct keys', async () => {
    const locks = new KeyedLock<number>()
    for (let batch = 0; batch < 100; batch++) {
      await Promise.all(Array.from({ length: 10_000 }, (_, i) => locks.runExclusive(batch * 10_000 + i, () => undefined)))
    }
    expect(locks.size).toBe(0)
  })

  it('rejects keys that cannot be compared consistently, with a message that says what to do', () => {
    const locks = new KeyedLock<unknown>()
    expect(() => locks.acquire({ id: 1 })).toThrow(InvalidArgumentError)
    expect(() => locks.acquire([1, 2])).toThrow(/JSON\.stringify/)
    expect(() => locks.acquire(undefined)).toThrow(InvalidArgumentError)
    expect(() => locks.acquire(Number.NaN)).toThrow(InvalidArgumentError)
    expect(() => locks.acquireMany('ab' as never)).toThrow(InvalidArgumentError) // a string is almost surely a mistake
    expect(() => locks.acquireMany(5 as never)).toThrow(InvalidArgumentError)
    expect(() => locks.runExclusive('k', 'nope' as never)).toThrow(InvalidArgumentError)
    class Account {}
    expect(() => locks.tryAcquire(new Account())?.release()).not.toThrow() // class instances: by identity
    expect(locks.size).toBe(0)
  })
})
