import { describe, expect, it } from 'vitest'
import { Event } from '../src'
import { abortCount, settle, track } from './helpers'

describe('Event (docs/conformance/primitives.md cases 12-15)', () => {
  it('12: set() wakes W1 and W2 in FIFO order; later waits resolve at once', async () => {
    const ev = new Event()
    const order: number[] = []
    const w1 = ev.wait().then((v) => (order.push(1), v))
    const w2 = ev.wait().then((v) => (order.push(2), v))
    await settle()
    expect(order).toEqual([])
    ev.set()
    expect(await Promise.all([w1, w2])).toEqual([true, true])
    expect(order).toEqual([1, 2])
    expect(await ev.wait()).toBe(true)
  })

  it('13: set() then clear() synchronously: pending waiters still resolve, new waiters block', async () => {
    const ev = new Event()
    const w = track(ev.wait())
    ev.set()
    ev.clear()
    expect(ev.isSet()).toBe(false)
    const late = track(ev.wait())
    await settle()
    expect(w.status).toBe('fulfilled')
    expect(w.value).toBe(true)
    expect(late.status).toBe('pending')
  })

  it('14: set() on a set event changes nothing and wakes nobody twice', async () => {
    const ev = new Event()
    let wakes = 0
    const w = ev.wait().then(() => wakes++)
    ev.set()
    ev.set()
    await w
    await settle()
    expect(wakes).toBe(1)
    expect(ev.isSet()).toBe(true)
  })

  it('15: an aborted waiter stays rejected after set(), and the waiter count is 0', async () => {
    const ev = new Event()
    const ac = new AbortController()
    const reason = new Error('gone')
    const w = track(ev.wait({ signal: ac.signal }))
    ac.abort(reason)
    await settle()
    expect(ev.statistics().waiting).toBe(0)
    ev.set()
    await settle()
    expect(w.status).toBe('rejected')
    expect(w.reason).toBe(reason)
    expect(abortCount(ac.signal)).toBe(0)
  })

  it('an already-aborted signal rejects even when the event is set', async () => {
    const ev = new Event()
    ev.set()
    const reason = new Error('pre-aborted')
    await expect(ev.wait({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
  })

  it('a timeout rejects with TimeoutError and leaves nothing behind', async () => {
    const ev = new Event()
    await expect(ev.wait({ timeout: 1 })).rejects.toMatchObject({ name: 'TimeoutError' })
    expect(ev.statistics().waiting).toBe(0)
  })
})
