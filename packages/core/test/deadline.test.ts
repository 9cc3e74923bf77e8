import { afterEach, describe, expect, it, vi } from 'vitest'
import { deadlineSignal, InvalidArgumentError, TimeoutError } from '../src'
import { abortCount } from './helpers'

afterEach(() => {
  vi.useRealTimers()
})

describe('deadlineSignal', () => {
  it('aborts with a TimeoutError naming the call, and dispose leaves no timer or listener', async () => {
    vi.useFakeTimers()
    const ac = new AbortController()
    const d = deadlineSignal({ signal: ac.signal, timeout: 50 }, 'Inventory.reserveAll()')
    expect(abortCount(ac.signal)).toBe(1)
    await vi.advanceTimersByTimeAsync(50)
    expect(d.signal!.reason).toBeInstanceOf(TimeoutError)
    expect((d.signal!.reason as Error).message).toMatch(/Inventory\.reserveAll\(\) timed out after 50 ms/)
    d.dispose()
    expect(abortCount(ac.signal)).toBe(0)
    const e = deadlineSignal({ timeout: 1_000 }, 'x')
    e.dispose()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('forwards the caller\u2019s abort reason, the same object — also when it was already aborted', () => {
    const reason = new Error('gone')
    const ac = new AbortController()
    const d = deadlineSignal({ signal: ac.signal, timeout: 10_000 }, 'x')
    ac.abort(reason)
    expect(d.signal!.reason).toBe(reason)
    d.dispose()
    const pre = deadlineSignal({ signal: AbortSignal.abort(reason), timeout: 10_000 }, 'x')
    expect(pre.signal!.aborted).toBe(true)
    expect(pre.signal!.reason).toBe(reason)
  })

  it('without a finite timeout it is the caller\u2019s own signal; bad options throw a typed error', () => {
    const ac = new AbortController()
    expect(deadlineSignal({ signal: ac.signal }, 'x').signal).toBe(ac.signal)
    expect(deadlineSignal(undefined, 'x').signal).toBeUndefined()
    expect(() => deadlineSignal({ timeout: -1 }, 'Inventory.reserveAll()')).toThrow(InvalidArgumentError)
    expect(() => deadlineSignal({ signal: {} as AbortSignal, timeout: 5 }, 'x')).toThrow(/AbortSignal/)
  })
})
