import { describe, expect, it } from 'vitest'
import { BoundedSemaphore, ClosedError, InvalidArgumentError, OverReleaseError, Semaphore } from '../src'
import { settle, track } from './helpers'

describe('Semaphore (docs/conformance/primitives.md cases 25-34)', () => {
  it('25: Semaphore(0) is locked; Semaphore(-1) and Semaphore(1.5) throw typed errors', () => {
    expect(new Semaphore(0).locked()).toBe(true)
    expect(new Semaphore().value).toBe(1)
    expect(() => new Semaphore(-1)).toThrow(InvalidArgumentError)
    expect(() => new Semaphore(1.5)).toThrow(/integer >= 0.*new Semaphore\(4\)/)
    expect(() => new Semaphore('2' as never)).toThrow(InvalidArgumentError)
  })

  it('26: a newcomer never overtakes a queued waiter even when permits are free', async () => {
    const sem = new Semaphore(1)
    const held = await sem.acquire()
    const w = track(sem.acquire({ permits: 2 })) // head wants 2
    held.release() // 1 free, head still waits
    expect(sem.value).toBe(1)
    expect(sem.locked()).toBe(true)
    expect(sem.tryAcquire()).toBeUndefined()
    const newcomer = track(sem.acquire())
    await settle()
    expect(w.status).toBe('pending')
    expect(newcomer.status).toBe('pending')
    sem.release() // 2 free → head first, then the newcomer waits for it
    await settle()
    expect(w.status).toBe('fulfilled')
    expect(newcomer.status).toBe('pending')
  })

  it('27: Semaphore(0), W1..W4 with W1 and W2 aborted: one release lets W3 in, W4 still waits', async () => {
    const sem = new Semaphore(0)
    const acs = [new AbortController(), new AbortController()]
    const w1 = track(sem.acquire({ signal: acs[0]!.signal }))
    const w2 = track(sem.acquire({ signal: acs[1]!.signal }))
    const w3 = track(sem.acquire())
    const w4 = track(sem.acquire())
    acs[0]!.abort()
    acs[1]!.abort()
    sem.release()
    await settle()
    expect([w1.status, w2.status, w3.status, w4.status]).toEqual(['rejected', 'rejected', 'fulfilled', 'pending'])
    expect(sem.value).toBe(0)
  })

  it('28: an abort after the permit was granted is ignored; permits are conserved; nothing hangs', async () => {
    const sem = new Semaphore(1)
    const held = await sem.acquire()
    const ac = new AbortController()
    const w = sem.acquire({ signal: ac.signal })
    const next = track(sem.acquire())
    held.release() // granted to w
    ac.abort() // too late
    const g = await w
    expect(sem.value).toBe(0)
    g.release()
    await settle()
    expect(next.status).toBe('fulfilled')
    expect(sem.value).toBe(0)
  })

  it('29: N synchronous releases with K waiters grant min(N, K) in FIFO and leave N − min(N, K) free', async () => {
    const sem = new Semaphore(0)
    const order: number[] = []
    const ws = [0, 1, 2].map((i) => sem.acquire().then(() => order.push(i)))
    for (let i = 0; i < 5; i++) sem.release()
    await Promise.all(ws)
    expect(order).toEqual([0, 1, 2])
    expect(sem.value).toBe(2)
  })

  it('30: acquire, release, re-acquire is round-robin (a re-acquirer goes to the back)', async () => {
    const sem = new Semaphore(1)
    const order: string[] = []
    await Promise.all(
      ['c1', 'c2', 'c3'].map(async (name) => {
        for (let i = 0; i < 2; i++) {
          const g = await sem.acquire()
          order.push(name)
          await null
          g.release()
        }
      }),
    )
    expect(order).toEqual(['c1', 'c2', 'c3', 'c1', 'c2', 'c3'])
  })

  it('31: BoundedSemaphore(1).release() at its initial value throws and the value stays 1; handed-off permits count as held', async () => {
    const sem = new BoundedSemaphore(1)
    expect(() => sem.release()).toThrow(OverReleaseError)
    expect(() => sem.release()).toThrow(/released too many times/)
    expect(sem.value).toBe(1)
    const g = await sem.acquire()
    const w = sem.acquire()
    g.release() // handed to w: value stays 0, nothing spurious
    expect(sem.value).toBe(0)
    ;(await w).release()
    expect(sem.value).toBe(1)
    expect(() => sem.release()).toThrow(OverReleaseError)
    expect(() => sem.acquire({ permits: 2 })).toThrow(/could never be granted/)
  })

  it('31b: a double guard release is a no-op, so it never over-releases', async () => {
    const sem = new BoundedSemaphore(2)
    const g = await sem.acquire()
    g.release()
    g.release()
    expect(sem.value).toBe(2)
  })

  it('32: strict head-of-line: a 2-permit head blocks a 1-permit waiter; when the head aborts the waiter proceeds at once', async () => {
    const sem2 = new Semaphore(2)
    const a = await sem2.acquire()
    const b = await sem2.acquire()
    const ac2 = new AbortController()
    const head2 = track(sem2.acquire({ permits: 2, signal: ac2.signal }))
    const small2 = track(sem2.acquire())
    a.release() // 1 free: neither proceeds
    await settle()
    expect([head2.status, small2.status]).toEqual(['pending', 'pending'])
    ac2.abort()
    await settle()
    expect([head2.status, small2.status]).toEqual(['rejected', 'fulfilled'])
    expect(sem2.value).toBe(0)
    b.release()
  })

  it('33: a weighted head that aborts while permits sit free for it: they go to the waiters behind (no partial hold is stranded)', async () => {
    const sem = new Semaphore(3)
    const hold = await sem.acquire({ permits: 3 })
    const ac = new AbortController()
    const big = track(sem.acquire({ permits: 3, signal: ac.signal }))
    const one = track(sem.acquire())
    const two = track(sem.acquire({ permits: 2 }))
    hold.release() // 3 free: the head takes all three at once
    await settle()
    expect([big.status, one.status, two.status]).toEqual(['fulfilled', 'pending', 'pending'])
    ;(big.value as { release(): void }).release()
    await settle()
    expect([one.status, two.status]).toEqual(['fulfilled', 'fulfilled'])
    expect(sem.value).toBe(0)

    const sem2 = new Semaphore(3)
    const a = await sem2.acquire()
    const ac2 = new AbortController()
    const head = track(sem2.acquire({ permits: 3, signal: ac2.signal })) // 2 free, waits for a third
    const x = track(sem2.acquire({ permits: 2 }))
    await settle()
    expect([head.status, x.status]).toEqual(['pending', 'pending'])
    expect(sem2.value).toBe(2)
    ac2.abort()
    await settle()
    expect([head.status, x.status]).toEqual(['rejected', 'fulfilled'])
    expect(sem2.value).toBe(0)
    a.release()
    expect(sem2.value).toBe(1)
  })

  it('34: close() rejects current and future acquirers with ClosedError; held permits release without throwing', async () => {
    const sem = new Semaphore(1)
    const g = await sem.acquire()
    const w = sem.acquire()
    sem.close(new Error('shutting down'))
    await expect(w).rejects.toBeInstanceOf(ClosedError)
    await expect(sem.acquire()).rejects.toBeInstanceOf(ClosedError)
    expect(() => g.release()).not.toThrow()
    expect(sem.value).toBe(1)
    expect(sem.closed).toBe(true)
  })

  it('runExclusive, tryAcquire and bad input', async () => {
    const sem = new Semaphore(2)
    expect(await sem.runExclusive(() => 'ok', { permits: 2 })).toBe('ok')
    expect(sem.value).toBe(2)
    const t = sem.tryAcquire({ permits: 2 })!
    expect(sem.tryAcquire()).toBeUndefined()
    t.release()
    expect(() => sem.runExclusive(null as never)).toThrow(InvalidArgumentError)
    expect(() => sem.acquire({ permits: 0 })).toThrow(/permits must be an integer >= 1/)
    expect(() => sem.tryAcquire({ permits: 1.5 })).toThrow(InvalidArgumentError)
    expect(() => sem.tryAcquire(2 as never)).toThrow(/options must be an object like \{ permits: 2 \}/)
    expect(sem.value).toBe(2)
    expect('then' in sem).toBe(false)
    expect(await (sem as unknown as Promise<unknown>)).toBe(sem)
    expect(sem.value).toBe(2)
  })

  it('unbounded Semaphore accepts extra release() (asyncio parity)', () => {
    const sem = new Semaphore(1)
    sem.release()
    expect(sem.value).toBe(2)
  })
})
