import { describe, expect, it, vi, afterEach } from 'vitest'
import { ClosedError, InvalidArgumentError, Lock, LockNotAcquiredError, TimeoutError } from '../src'
import { abortCount, settle, track } from './helpers'

afterEach(() => {
  vi.useRealTimers()
})

describe('Lock (docs/conformance/primitives.md cases 1-11, 34, 46)', () => {
  it('1: acquires a free lock without queueing', async () => {
    const lock = new Lock()
    const p = track(lock.acquire())
    expect(lock.locked()).toBe(true)
    await settle()
    expect(p.status).toBe('fulfilled')
    expect(lock.statistics().waiting).toBe(0)
  })

  it('2: FIFO: B acquires before C', async () => {
    const lock = new Lock()
    const a = await lock.acquire()
    const order: string[] = []
    const b = lock.acquire().then((g) => (order.push('B'), g))
    const c = lock.acquire().then((g) => (order.push('C'), g))
    a.release()
    ;(await b).release()
    ;(await c).release()
    expect(order).toEqual(['B', 'C'])
    expect(lock.locked()).toBe(false)
  })

  it('3: no barging: release then re-acquire in one synchronous block queues behind B', async () => {
    const lock = new Lock()
    const a = await lock.acquire()
    const order: string[] = []
    const b = lock.acquire().then((g) => {
      order.push('B')
      g.release()
    })
    a.release()
    const again = lock.acquire().then((g) => {
      order.push('A again')
      g.release()
    })
    expect(lock.tryAcquire()).toBeUndefined()
    await Promise.all([b, again])
    expect(order).toEqual(['B', 'A again'])
  })

  it.each(['abort-then-release', 'release-then-abort'])('4: B aborted and A releases in the same tick (%s): C acquires, one holder', async (order) => {
    const lock = new Lock()
    const a = await lock.acquire()
    const ac = new AbortController()
    const b = track(lock.acquire({ signal: ac.signal }))
    const c = track(lock.acquire())
    const reason = new Error('B gave up')
    if (order === 'abort-then-release') {
      ac.abort(reason)
      a.release()
    } else {
      a.release() // hands the lock to B synchronously: B wins, the abort below is ignored
      ac.abort(reason)
    }
    await settle()
    if (order === 'abort-then-release') {
      expect(b.status).toBe('rejected')
      expect(b.reason).toBe(reason)
      expect(c.status).toBe('fulfilled')
    } else {
      expect(b.status).toBe('fulfilled')
      expect(c.status).toBe('pending')
      ;(b.value as { release(): void }).release()
      await settle()
      expect(c.status).toBe('fulfilled')
    }
    expect(lock.locked()).toBe(true)
    expect(lock.statistics().waiting).toBe(0)
  })

  it('5: an abort after the grant is ignored; the lock is never lost nor granted twice', async () => {
    const lock = new Lock()
    const a = await lock.acquire()
    const ac = new AbortController()
    const b = lock.acquire({ signal: ac.signal })
    const c = track(lock.acquire())
    a.release()
    ac.abort(new Error('too late'))
    const gb = await b
    expect(lock.locked()).toBe(true)
    await settle()
    expect(c.status).toBe('pending')
    gb.release()
    await settle()
    expect(c.status).toBe('fulfilled')
    expect(abortCount(ac.signal)).toBe(0)
  })

  it('6: when every queued waiter aborted, a newcomer acquires the free lock at once', async () => {
    const lock = new Lock()
    const a = await lock.acquire()
    const controllers = [new AbortController(), new AbortController()]
    const waits = controllers.map((ac) => lock.acquire({ signal: ac.signal }).catch(() => 'aborted'))
    for (const ac of controllers) ac.abort()
    expect(await Promise.all(waits)).toEqual(['aborted', 'aborted'])
    a.release()
    expect(lock.locked()).toBe(false)
    const g = lock.tryAcquire()
    expect(g).toBeDefined()
    expect(lock.statistics().waiting).toBe(0)
  })

  it('7: releasing an unlocked lock throws a typed error and changes nothing', () => {
    const lock = new Lock()
    expect(() => lock.release()).toThrow(LockNotAcquiredError)
    expect(() => lock.release()).toThrow(/not locked.*guard\.release\(\)/s)
    expect(lock.locked()).toBe(false)
    expect(lock.tryAcquire()).toBeDefined()
  })

  it('8: the lock is not thenable: awaiting it acquires nothing', async () => {
    const lock = new Lock()
    expect('then' in lock).toBe(false)
    const value = await (lock as unknown as Promise<unknown>)
    expect(value).toBe(lock)
    expect(lock.locked()).toBe(false)
  })

  it('9: `using` releases exactly once when the block throws; release() again is a no-op', async () => {
    const lock = new Lock()
    let guard: { release(): void } | undefined
    await expect(
      (async () => {
        using g = await lock.acquire()
        guard = g
        expect(lock.locked()).toBe(true)
        throw new Error('boom')
      })(),
    ).rejects.toThrow('boom')
    expect(lock.locked()).toBe(false)
    const other = lock.tryAcquire()!
    guard!.release() // must not release `other`'s hold
    expect(lock.locked()).toBe(true)
    other.release()
    expect(lock.locked()).toBe(false)
  })

  it('9b: `await using` works too', async () => {
    const lock = new Lock()
    await (async () => {
      await using _g = await lock.acquire()
      expect(lock.locked()).toBe(true)
    })()
    expect(lock.locked()).toBe(false)
  })

  it('9c: a guard whose hold was ended by lock.release() never releases a later holder', async () => {
    const lock = new Lock()
    const stale = await lock.acquire()
    lock.release()
    const current = await lock.acquire()
    stale.release()
    expect(lock.locked()).toBe(true)
    current.release()
    expect(lock.locked()).toBe(false)
  })

  it('10: an already-aborted signal rejects with its reason and does not acquire a free lock', async () => {
    const lock = new Lock()
    const reason = new Error('already')
    await expect(lock.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(lock.locked()).toBe(false)
  })

  it('11: 10,000 acquisitions sharing one signal leave no abort listener (and never more than one)', async () => {
    const lock = new Lock()
    const ac = new AbortController()
    let maxListeners = 0
    await Promise.all(
      Array.from({ length: 10_000 }, async () => {
        const g = await lock.acquire({ signal: ac.signal })
        maxListeners = Math.max(maxListeners, abortCount(ac.signal))
        await null
        g.release()
      }),
    )
    expect(maxListeners).toBe(1)
    expect(abortCount(ac.signal)).toBe(0)
    expect(lock.locked()).toBe(false)
  })

  it('timeout rejects with a TimeoutError (name "TimeoutError") and leaves no waiter', async () => {
    vi.useFakeTimers()
    const lock = new Lock()
    const held = await lock.acquire()
    const p = track(lock.acquire({ timeout: 50 }))
    await vi.advanceTimersByTimeAsync(49)
    expect(p.status).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    expect(p.status).toBe('rejected')
    expect(p.reason).toBeInstanceOf(TimeoutError)
    expect((p.reason as Error).name).toBe('TimeoutError')
    expect(lock.statistics().waiting).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    held.release()
    expect(lock.locked()).toBe(false)
  })

  it('46: grant and timeout in the same tick: exactly one outcome, no entry or timer left', async () => {
    vi.useFakeTimers()
    const lock = new Lock()
    const held = await lock.acquire()
    const p = track(lock.acquire({ timeout: 10 }))
    vi.advanceTimersByTime(9)
    held.release() // the grant comes first in this tick
    vi.advanceTimersByTime(5) // the timer would have fired here
    await vi.advanceTimersByTimeAsync(0)
    expect(p.status).toBe('fulfilled')
    expect(vi.getTimerCount()).toBe(0)
    expect(lock.locked()).toBe(true)

    const lock2 = new Lock()
    const held2 = await lock2.acquire()
    const q = track(lock2.acquire({ timeout: 10 }))
    vi.advanceTimersByTime(10) // timeout first…
    held2.release() // …then the release finds nobody
    await vi.advanceTimersByTimeAsync(0)
    expect(q.status).toBe('rejected')
    expect(lock2.locked()).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a timeout longer than setTimeout allows does not fire early', async () => {
    vi.useFakeTimers()
    const lock = new Lock()
    await lock.acquire()
    const p = track(lock.acquire({ timeout: 3_000_000_000 }))
    await vi.advanceTimersByTimeAsync(2_999_999_999)
    expect(p.status).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    expect(p.status).toBe('rejected')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('34: close() rejects current and future acquirers; the holder can still release', async () => {
    const lock = new Lock()
    const g = await lock.acquire()
    const waiting = lock.acquire()
    lock.close()
    await expect(waiting).rejects.toBeInstanceOf(ClosedError)
    await expect(lock.acquire()).rejects.toBeInstanceOf(ClosedError)
    expect(() => lock.tryAcquire()).toThrow(ClosedError)
    expect(() => g.release()).not.toThrow()
    expect(lock.locked()).toBe(false)
  })

  it('runExclusive releases on success and on failure, and rejects bad input synchronously', async () => {
    const lock = new Lock()
    expect(await lock.runExclusive(() => 42)).toBe(42)
    await expect(lock.runExclusive(async () => Promise.reject(new Error('x')))).rejects.toThrow('x')
    expect(lock.locked()).toBe(false)
    expect(() => lock.runExclusive(42 as never)).toThrow(InvalidArgumentError)
    expect(() => lock.runExclusive(42 as never)).toThrow(/must be a function/)
    expect(lock.locked()).toBe(false)
  })

  it('rejects malformed wait options with a typed error', () => {
    const lock = new Lock()
    expect(() => lock.acquire({ timeout: -1 })).toThrow(InvalidArgumentError)
    expect(() => lock.acquire({ timeout: Number.NaN })).toThrow(/timeout must be a number/)
    expect(() => lock.acquire({ signal: {} as AbortSignal })).toThrow(/AbortSignal/)
    expect(lock.locked()).toBe(false)
  })

  it('the lost-update race: 1,000 read-await-write tasks end at 1,000 under the lock', async () => {
    let unprotected = 0
    let protectedCount = 0
    const lock = new Lock()
    await Promise.all(
      Array.from({ length: 1000 }, async () => {
        const v = unprotected
        await null
        unprotected = v + 1
      }),
    )
    await Promise.all(
      Array.from({ length: 1000 }, () =>
        lock.runExclusive(async () => {
          const v = protectedCount
          await null
          protectedCount = v + 1
        }),
      ),
    )
    expect(unprotected).toBe(1)
    expect(protectedCount).toBe(1000)
  })
})
