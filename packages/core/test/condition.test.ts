import { afterEach, describe, expect, it, vi } from 'vitest'
import { Condition, InvalidArgumentError, Lock, LockNotAcquiredError, TimeoutError } from '../src'
import { abortCount, settle, track } from './helpers'

afterEach(() => {
  vi.useRealTimers()
})

/** Starts a task that acquires the condition, waits once, records, releases. */
function waiter(cond: Condition, log: string[], name: string, opts?: { signal?: AbortSignal; timeout?: number }) {
  return (async () => {
    await cond.acquire()
    try {
      await cond.wait(opts)
      log.push(`${name} woke holding=${cond.locked()}`)
    } finally {
      cond.release()
    }
  })()
}

describe('Condition (docs/conformance/primitives.md cases 16-24)', () => {
  it('16: wait(), notify() and notifyAll() on a free lock throw a typed error', () => {
    const cond = new Condition()
    expect(() => cond.wait()).toThrow(LockNotAcquiredError)
    expect(() => cond.notify()).toThrow(LockNotAcquiredError)
    expect(() => cond.notifyAll()).toThrow(/un-acquired lock.*await cond\.acquire\(\)/)
    expect(cond.locked()).toBe(false)
  })

  it('17: waitFor with an already-true predicate returns its value without the lock', async () => {
    const cond = new Condition()
    expect(await cond.waitFor(() => [1, 2, 3])).toEqual([1, 2, 3])
    expect(() => cond.waitFor(() => 0)).toThrow(LockNotAcquiredError)
  })

  it('18: notify(1) with three waiters: nobody resumes until release, then exactly one, holding the lock', async () => {
    const cond = new Condition()
    const log: string[] = []
    const tasks = ['a', 'b', 'c'].map((n) => waiter(cond, log, n))
    await settle()
    await cond.acquire()
    cond.notify(1)
    await settle()
    expect(log).toEqual([])
    cond.release()
    await settle()
    expect(log).toEqual(['a woke holding=true'])
    await cond.acquire()
    cond.notifyAll()
    cond.release()
    await Promise.all(tasks)
    expect(log).toHaveLength(3)
  })

  it('19: two notify(1) before either resumes wake two different waiters', async () => {
    const cond = new Condition()
    const log: string[] = []
    const tasks = ['a', 'b', 'c'].map((n) => waiter(cond, log, n))
    await settle()
    await cond.acquire()
    cond.notify(1)
    cond.notify(1)
    cond.release()
    await settle()
    expect(log.sort()).toEqual(['a woke holding=true', 'b woke holding=true'])
    await cond.acquire()
    cond.notify()
    cond.release()
    await Promise.all(tasks)
  })

  it('20: notify(n) with n above the number of waiters wakes all, no error', async () => {
    const cond = new Condition()
    const log: string[] = []
    const tasks = ['a', 'b'].map((n) => waiter(cond, log, n))
    await settle()
    await cond.acquire()
    cond.notify(2048)
    cond.release()
    await Promise.all(tasks)
    expect(log).toHaveLength(2)
  })

  it('21: a notified waiter aborted before it re-acquires passes the wake-up on and rejects only once it holds the lock', async () => {
    const cond = new Condition()
    const log: string[] = []
    const ac = new AbortController()
    const reason = new Error('a aborted')
    let aHeldWhenRejected: boolean | undefined
    const a = (async () => {
      await cond.acquire()
      try {
        await cond.wait({ signal: ac.signal })
      } catch (e) {
        aHeldWhenRejected = cond.locked()
        log.push('a rejected')
        throw e
      } finally {
        cond.release()
      }
    })()
    const b = waiter(cond, log, 'b')
    await settle()
    await cond.acquire()
    cond.notify(1) // wakes a
    ac.abort(reason) // a has not re-acquired: it must reject, and pass the notification to b
    await settle()
    expect(log).toEqual([])
    cond.release()
    await expect(a).rejects.toBe(reason)
    await b
    expect(aHeldWhenRejected).toBe(true)
    expect(log).toEqual(['a rejected', 'b woke holding=true'])
    expect(abortCount(ac.signal)).toBe(0)
  })

  it('21b: without the pass-on, the aborted notified waiter would lose b its wake-up (wait rejects; b still wakes from one notify)', async () => {
    const cond = new Condition()
    const log: string[] = []
    const ac = new AbortController()
    const a = waiter(cond, log, 'a', { signal: ac.signal }).catch(() => log.push('a rejected'))
    const b = waiter(cond, log, 'b')
    await settle()
    await cond.acquire()
    cond.notify(1)
    ac.abort()
    cond.release()
    await Promise.all([a, b])
    expect(log).toContain('b woke holding=true')
  })

  it('22: a waiter aborted while merely waiting rejects holding the lock', async () => {
    const cond = new Condition()
    await cond.acquire()
    const ac = new AbortController()
    const p = cond.wait({ signal: ac.signal })
    expect(cond.locked()).toBe(false)
    const other = await cond.acquire() // someone else holds it when the abort lands
    ac.abort(new Error('stop'))
    const t = track(p)
    await settle()
    expect(t.status).toBe('pending') // must re-acquire first
    other.release()
    await settle()
    expect(t.status).toBe('rejected')
    expect(cond.locked()).toBe(true)
    cond.release()
    expect(cond.locked()).toBe(false)
  })

  it('23: several aborts/timeouts in one wait reject with the most recent reason, same object', async () => {
    vi.useFakeTimers()
    const cond = new Condition()
    await cond.acquire()
    const ac = new AbortController()
    const p = track(cond.wait({ signal: ac.signal, timeout: 10 }))
    const blocker = await cond.acquire()
    await vi.advanceTimersByTimeAsync(10) // timeout while waiting
    const last = new Error('abort while re-acquiring')
    ac.abort(last)
    blocker.release()
    await vi.advanceTimersByTimeAsync(0)
    expect(p.status).toBe('rejected')
    expect(p.reason).toBe(last)
    expect(vi.getTimerCount()).toBe(0)
    cond.release()
  })

  it('23b: a timeout alone rejects with TimeoutError after re-acquiring', async () => {
    vi.useFakeTimers()
    const cond = new Condition()
    await cond.acquire()
    const p = track(cond.wait({ timeout: 5 }))
    await vi.advanceTimersByTimeAsync(5)
    expect(p.status).toBe('rejected')
    expect(p.reason).toBeInstanceOf(TimeoutError)
    expect(cond.locked()).toBe(true)
    cond.release()
  })

  it('an abort after the lock is held again is ignored', async () => {
    const cond = new Condition()
    await cond.acquire()
    const ac = new AbortController()
    const p = cond.wait({ signal: ac.signal })
    await cond.acquire().then((g) => {
      cond.notify()
      g.release() // hands the lock back to the waiter synchronously
    })
    ac.abort()
    await expect(p).resolves.toBe(true)
    cond.release()
  })

  it('24: a shared lock reports locked() from both sides', async () => {
    const lock = new Lock()
    const cond = new Condition(lock)
    const g = await lock.acquire()
    expect(cond.locked()).toBe(true)
    g.release()
    await cond.acquire()
    expect(lock.locked()).toBe(true)
    cond.release()
    expect(() => new Condition({} as Lock)).toThrow(InvalidArgumentError)
  })

  it('the caller\u2019s guard still releases the lock after wait() re-acquired it', async () => {
    const cond = new Condition()
    const g = await cond.acquire()
    const p = cond.wait()
    await cond.acquire().then((h) => {
      cond.notify()
      h.release()
    })
    await p
    g.release()
    expect(cond.locked()).toBe(false)
  })

  it('waitFor: producer/consumer, with a deadline over the whole call', async () => {
    const cond = new Condition()
    const items: number[] = []
    const consumer = (async () => {
      await cond.acquire()
      try {
        return await cond.waitFor(() => items.shift())
      } finally {
        cond.release()
      }
    })()
    for (const x of [0, 7]) {
      await settle()
      await cond.acquire()
      if (x) items.push(x)
      cond.notifyAll()
      cond.release()
    }
    expect(await consumer).toBe(7)

    await cond.acquire()
    await expect(cond.waitFor(() => false, { timeout: 5 })).rejects.toBeInstanceOf(TimeoutError)
    expect(cond.locked()).toBe(true)
    cond.release()
  })

  it('notify(n) rejects a negative n', async () => {
    const cond = new Condition()
    await cond.acquire()
    expect(() => cond.notify(-1)).toThrow(InvalidArgumentError)
    cond.release()
  })
})
