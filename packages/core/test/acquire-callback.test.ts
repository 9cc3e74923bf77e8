import { describe, expect, it, vi } from 'vitest'
import { type Guard, KeyedLock, Lock, Semaphore, TimeoutError } from '../src'

describe('acquireCallback: the grant is seen in the same tick it is made', () => {
  it('Lock: granted at once when free, and inside the release() that hands it over', async () => {
    const lock = new Lock()
    const got: Guard[] = []
    lock.acquireCallback(
      (g) => got.push(g),
      () => {},
    )
    expect(got).toHaveLength(1)
    lock.acquireCallback(
      (g) => got.push(g),
      () => {},
    )
    expect(got).toHaveLength(1)
    got[0]!.release()
    expect(got).toHaveLength(2) // synchronously, no microtask needed
    got[1]!.release()
    expect(lock.locked()).toBe(false)
  })

  it('withdrawing leaves no waiter and calls neither callback; withdrawing after the grant does nothing', () => {
    const lock = new Lock()
    const holder = lock.tryAcquire()!
    const onGrant = vi.fn()
    const onError = vi.fn()
    const withdraw = lock.acquireCallback(onGrant, onError)
    expect(lock.statistics().waiting).toBe(1)
    withdraw()
    expect(lock.statistics().waiting).toBe(0)
    holder.release()
    expect(lock.locked()).toBe(false)
    expect(onGrant).not.toHaveBeenCalled()
    expect(onError).not.toHaveBeenCalled()
    let g: Guard | undefined
    const after = lock.acquireCallback((x) => (g = x), onError)
    after()
    expect(lock.locked()).toBe(true)
    g!.release()
  })

  it('signal and timeout reach onError like acquire() rejects', () => {
    vi.useFakeTimers()
    try {
      const sem = new Semaphore(0)
      const errors: unknown[] = []
      const ac = new AbortController()
      sem.acquireCallback(
        () => {},
        (e) => errors.push(e),
        { signal: ac.signal },
      )
      sem.acquireCallback(
        () => {},
        (e) => errors.push(e),
        { timeout: 5 },
      )
      ac.abort('bye')
      vi.advanceTimersByTime(5)
      expect(errors[0]).toBe('bye')
      expect(errors[1]).toBeInstanceOf(TimeoutError)
      expect(sem.statistics().waiting).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('Semaphore takes { permits }; KeyedLock forgets a key whose only waiter withdrew', () => {
    const sem = new Semaphore(3)
    let g: Guard | undefined
    sem.acquireCallback(
      (x) => (g = x),
      () => {},
      { permits: 3 },
    )
    expect(sem.value).toBe(0)
    g!.release()
    expect(sem.value).toBe(3)

    const locks = new KeyedLock<string>()
    const holder = locks.tryAcquire('k')!
    const withdraw = locks.acquireCallback(
      'k',
      () => {},
      () => {},
    )
    withdraw()
    holder.release()
    expect(locks.size).toBe(0)
  })
})
