import { describe, expect, it, vi } from 'vitest'
import { Barrier, BrokenBarrierError, InvalidArgumentError } from '../src'
import { abortCount, settle, track } from './helpers'

describe('Barrier (docs/conformance/primitives.md cases 35-42)', () => {
  it('35: three tasks get the distinct indices {0,1,2}; nWaiting returns to 0; a second round works', async () => {
    const b = new Barrier(3)
    for (let round = 0; round < 2; round++) {
      const ps = [b.wait(), b.wait()]
      expect(b.nWaiting).toBe(2)
      ps.push(b.wait())
      expect((await Promise.all(ps)).sort()).toEqual([0, 1, 2])
      expect(b.nWaiting).toBe(0)
      expect(b.state).toBe('filling')
    }
  })

  it('35b: indices follow arrival order, the last arrival gets parties - 1', async () => {
    const b = new Barrier(3)
    expect(await Promise.all([b.wait(), b.wait(), b.wait()])).toEqual([0, 1, 2])
  })

  it('36: a waiter that aborts leaves: nWaiting drops, the barrier is not broken, indices stay unique (cpython#155233)', async () => {
    const b = new Barrier(3)
    const ac = new AbortController()
    const a = track(b.wait({ signal: ac.signal }))
    const bb = b.wait()
    ac.abort()
    await settle()
    expect(a.status).toBe('rejected')
    expect(b.nWaiting).toBe(1)
    expect(b.broken).toBe(false)
    const c = b.wait()
    const d = b.wait()
    const indices = await Promise.all([bb, c, d])
    expect(new Set(indices).size).toBe(3)
    expect(indices.sort()).toEqual([0, 1, 2])
  })

  it('37: a task that calls wait() again while its round drains blocks and counts toward the next round', async () => {
    const b = new Barrier(2)
    const first = b.wait()
    const releaser = b.wait() // round complete: draining until its tasks are released
    expect(b.state).toBe('draining')
    const again = track(b.wait())
    expect(b.nWaiting).toBe(0)
    expect(await Promise.all([first, releaser])).toEqual([0, 1])
    await settle()
    expect(again.status).toBe('pending')
    expect(b.nWaiting).toBe(1)
    const other = await b.wait()
    expect(other).toBe(1)
    await settle()
    expect(again.value).toBe(0)
  })

  it('38: reset() with N−1 waiting rejects each with BrokenBarrierError; then filling and not broken', async () => {
    const b = new Barrier(3)
    const ws = [track(b.wait()), track(b.wait())]
    b.reset()
    await settle()
    for (const w of ws) {
      expect(w.status).toBe('rejected')
      expect(w.reason).toBeInstanceOf(BrokenBarrierError)
    }
    expect(b.state).toBe('filling')
    expect(b.broken).toBe(false)
    expect(b.nWaiting).toBe(0)
  })

  it('39: reset() with nobody inside is a no-op; tasks blocked behind draining are unaffected', async () => {
    const idle = new Barrier(2)
    idle.reset()
    expect(idle.state).toBe('filling')

    const b = new Barrier(2)
    const round = [b.wait(), b.wait()]
    await Promise.all(round) // drained
    const next = track(b.wait())
    b.reset() // the new round's waiter is inside: it is reset
    await settle()
    expect(next.status).toBe('rejected')
    // once a blocked task has been admitted to the next round it is inside, so a reset rejects it
    const c = new Barrier(2)
    const r1 = [c.wait(), c.wait()]
    const blocked = track(c.wait())
    await Promise.all(r1)
    c.reset()
    await settle()
    expect(blocked.status).toBe('rejected')
  })

  it('39b: reset() during draining rejects the draining round but lets blocked next-round tasks go on', async () => {
    const b = new Barrier(2)
    const r = [track(b.wait()), track(b.wait())]
    const blocked = track(b.wait())
    b.reset()
    await settle()
    expect(r[0]!.status).toBe('rejected') // still inside, like asyncio's draining tasks
    expect(r[1]!.status).toBe('fulfilled') // the releaser had already left
    expect(blocked.status).toBe('pending')
    expect(b.nWaiting).toBe(1)
    const last = await b.wait()
    await settle()
    expect([blocked.value, last]).toEqual([0, 1])
  })

  it('40: after abort(), wait() rejects at once until reset(); then it works again', async () => {
    const b = new Barrier(2)
    const w = track(b.wait())
    b.abort()
    await settle()
    expect(w.reason).toBeInstanceOf(BrokenBarrierError)
    expect(b.broken).toBe(true)
    await expect(b.wait()).rejects.toBeInstanceOf(BrokenBarrierError)
    b.reset()
    expect(b.broken).toBe(false)
    expect(await Promise.all([b.wait(), b.wait()])).toEqual([0, 1])
  })

  it('41: Barrier(0) and negative counts throw; Barrier(1) resolves with 0 each time', async () => {
    expect(() => new Barrier(0)).toThrow(InvalidArgumentError)
    expect(() => new Barrier(-2)).toThrow(/integer >= 1/)
    expect(() => new Barrier(2.5)).toThrow(InvalidArgumentError)
    const one = new Barrier(1)
    expect(await one.wait()).toBe(0)
    expect(await one.wait()).toBe(0)
  })

  it('42: abort() while some tasks drain and others are blocked for the next round rejects all of them', async () => {
    const b = new Barrier(3)
    const draining = [track(b.wait()), track(b.wait())]
    const releaser = track(b.wait())
    const blocked = [track(b.wait()), track(b.wait())]
    b.abort()
    await settle()
    for (const t of [...draining, ...blocked]) expect(t.reason).toBeInstanceOf(BrokenBarrierError)
    expect(releaser.status).toBe('fulfilled')
  })

  it('a waiter times out and simply leaves', async () => {
    const b = new Barrier(2)
    await expect(b.wait({ timeout: 1 })).rejects.toMatchObject({ name: 'TimeoutError' })
    expect(b.nWaiting).toBe(0)
    expect(b.broken).toBe(false)
  })

  it('an abort after the round completed is ignored: the waiter resolves with its index (grant first wins)', async () => {
    const b = new Barrier(2)
    const ac = new AbortController()
    const x = track(b.wait({ signal: ac.signal }))
    const last = b.wait() // completes the round synchronously
    ac.abort(new Error('too late'))
    expect(abortCount(ac.signal)).toBe(0)
    await settle()
    expect(x).toEqual({ status: 'fulfilled', value: 0 })
    expect(await last).toBe(1)
    expect(b.state).toBe('filling')
  })

  it('a timeout that fires after the round completed is ignored', async () => {
    vi.useFakeTimers()
    try {
      const b = new Barrier(2)
      const x = track(b.wait({ timeout: 5 }))
      void b.wait()
      vi.advanceTimersByTime(10)
      await vi.runAllTimersAsync()
      expect(x).toEqual({ status: 'fulfilled', value: 0 })
    } finally {
      vi.useRealTimers()
    }
  })

  it('reset() during draining still breaks a draining waiter that had a signal', async () => {
    const b = new Barrier(2)
    const ac = new AbortController()
    const x = track(b.wait({ signal: ac.signal }))
    void b.wait()
    b.reset()
    ac.abort()
    await settle()
    expect(x.reason).toBeInstanceOf(BrokenBarrierError)
  })
})
