import { describe, expect, it } from 'vitest'
import { Event, Lock, Semaphore } from '../src'

describe('100,000 queued waiters', () => {
  it('Lock: no stack overflow, every waiter served in order', async () => {
    const lock = new Lock()
    const first = await lock.acquire()
    const order: number[] = []
    const waits = Array.from({ length: 100_000 }, (_, i) =>
      lock.acquire().then((g) => {
        order.push(i)
        g.release()
      }),
    )
    expect(lock.statistics().waiting).toBe(100_000)
    first.release()
    await Promise.all(waits)
    expect(order.length).toBe(100_000)
    expect(order.every((v, i) => v === i)).toBe(true)
    expect(lock.locked()).toBe(false)
  })

  it('Event: set() wakes 100,000 waiters; aborting 100,000 leaves nothing behind', async () => {
    const ev = new Event()
    const ac = new AbortController()
    const aborted = Array.from({ length: 100_000 }, () => ev.wait({ signal: ac.signal }).catch(() => 'x'))
    ac.abort()
    expect((await Promise.all(aborted)).every((v) => v === 'x')).toBe(true)
    expect(ev.statistics().waiting).toBe(0)
    const waits = Array.from({ length: 100_000 }, () => ev.wait())
    ev.set()
    expect((await Promise.all(waits)).length).toBe(100_000)
  })

  it('memory held by 100,000 waiters is released afterwards', async () => {
    const gc = (globalThis as { gc?: () => void }).gc
    const sem = new Semaphore(0)
    const before = heap(gc)
    const waits = Array.from({ length: 100_000 }, () => sem.acquire().then((g) => g.release()))
    const during = heap(gc)
    for (let i = 0; i < 1; i++) sem.release()
    await Promise.all(waits)
    waits.length = 0
    const after = heap(gc)
    expect(sem.value).toBe(1)
    if (gc !== undefined) {
      expect(during - before).toBeGreaterThan(5_000_000)
      expect(after - before).toBeLessThan((during - before) / 10)
    }
  })
})

function heap(gc: (() => void) | undefined): number {
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed
}
