import { afterEach, describe, expect, it, vi } from 'vitest'
import { ClosedError, Guard, InvalidArgumentError, limit, RateLimiter, Semaphore, TimeoutError, YieldpointError } from '../src'
import { abortCount, flushMicrotasks, track } from './helpers'

afterEach(() => {
  vi.useRealTimers()
})

/** A hand-driven clock: time moves only when the test says so. */
function manualClock() {
  let t = 0
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

describe('RateLimiter', () => {
  it('validates its options when created, with typed errors that say what to do', () => {
    expect(() => new RateLimiter({ tokensPerInterval: 0 })).toThrow(InvalidArgumentError)
    expect(() => new RateLimiter({ tokensPerInterval: 1.5 })).toThrow(/integer >= 1/)
    expect(() => new RateLimiter({ tokensPerInterval: 10, interval: 0 })).toThrow(/interval/)
    expect(() => new RateLimiter({ tokensPerInterval: 10, interval: Infinity })).toThrow(/interval/)
    expect(() => new RateLimiter({ tokensPerInterval: 10, burst: 11 })).toThrow(/burst must be an integer from 1 to tokensPerInterval/)
    expect(() => new RateLimiter(undefined as never)).toThrow(YieldpointError)
    const limiter = new RateLimiter({ tokensPerInterval: 10, burst: 4 })
    expect(() => limiter.acquire({ tokens: 5 })).toThrow(/tokens must be an integer from 1 to 4/)
    expect(() => limiter.acquire({ tokens: 0 })).toThrow(InvalidArgumentError)
    expect(() => limiter.tryAcquire(2.5)).toThrow(InvalidArgumentError)
    expect(() => limiter.acquire({ timeout: -1 })).toThrow(InvalidArgumentError)
    expect(() => limiter.schedule('x' as never)).toThrow(InvalidArgumentError)
  })

  it('grants tokensPerInterval at once, then one more only when the first comes back an interval later', async () => {
    const clock = manualClock()
    vi.useFakeTimers()
    const limiter = new RateLimiter({ tokensPerInterval: 3, interval: 1_000, now: clock.now })
    for (let i = 0; i < 3; i++) expect(limiter.tryAcquire()).toBe(true)
    expect(limiter.tryAcquire()).toBe(false)
    const fourth = track(limiter.acquire())
    expect(vi.getTimerCount()).toBe(1)
    clock.advance(999)
    vi.advanceTimersByTime(999)
    await flushMicrotasks()
    expect(fourth.status).toBe('pending')
    clock.advance(1)
    vi.advanceTimersByTime(1)
    await flushMicrotasks()
    expect(fourth.status).toBe('fulfilled')
    expect(vi.getTimerCount()).toBe(0) // idle ⇒ no timer
    expect(limiter.statistics()).toMatchObject({ tokens: 2, waiting: 0, granted: 4, tokensPerInterval: 3, interval: 1_000, burst: 3, closed: false })
  })

  it('works with plain fake timers and the default clock', async () => {
    vi.useFakeTimers()
    const limiter = new RateLimiter({ tokensPerInterval: 2, interval: 100 })
    const order: number[] = []
    const all = Array.from({ length: 6 }, (_, i) => limiter.acquire().then(() => order.push(i)))
    await vi.advanceTimersByTimeAsync(250)
    await Promise.all(all)
    expect(order).toEqual([0, 1, 2, 3, 4, 5])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('FIFO: a big request at the head is not overtaken by small ones; tryAcquire does not jump the queue', async () => {
    const clock = manualClock()
    vi.useFakeTimers()
    const limiter = new RateLimiter({ tokensPerInterval: 4, interval: 1_000, now: clock.now })
    await limiter.acquire({ tokens: 3 })
    const big = track(limiter.acquire({ tokens: 4 }))
    const small = track(limiter.acquire())
    await flushMicrotasks()
    expect(limiter.tryAcquire()).toBe(false) // one token is free, but two callers queue before us
    expect([big.status, small.status]).toEqual(['pending', 'pending'])
    clock.advance(1_000)
    vi.advanceTimersByTime(1_000)
    await flushMicrotasks()
    expect([big.status, small.status]).toEqual(['fulfilled', 'pending'])
  })

  it('an aborted or timed-out waiter takes nothing, leaves no listener or timer, and unblocks those behind it', async () => {
    const clock = manualClock()
    vi.useFakeTimers()
    const limiter = new RateLimiter({ tokensPerInterval: 4, interval: 1_000, now: clock.now })
    await limiter.acquire({ tokens: 3 })
    const ac = new AbortController()
    const big = track(limiter.acquire({ tokens: 4, signal: ac.signal }))
    const small = track(limiter.acquire())
    ac.abort(new Error('stop'))
    await flushMicrotasks()
    expect(big.status).toBe('rejected')
    expect((big.reason as Error).message).toBe('stop')
    expect(small.status).toBe('fulfilled') // the free token goes to the next in line at once
    expect(abortCount(ac.signal)).toBe(0)
    expect(limiter.statistics().tokens).toBe(0)
    const late = track(limiter.acquire({ timeout: 10 }))
    vi.advanceTimersByTime(10)
    await flushMicrotasks()
    expect(late.reason).toBeInstanceOf(TimeoutError)
    expect(vi.getTimerCount()).toBe(0)
    clock.advance(1_000)
    expect(limiter.statistics().tokens).toBe(4) // nothing lost, nothing extra
  })

  it('an already-aborted signal rejects at once even with tokens free, and takes none', async () => {
    const limiter = new RateLimiter({ tokensPerInterval: 1 })
    const reason = new Error('gone')
    await expect(limiter.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(limiter.tryAcquire()).toBe(true)
  })

  it('burst spreads tokens evenly: burst 1 at 4 per second is one every 250 ms', async () => {
    const clock = manualClock()
    vi.useFakeTimers()
    const limiter = new RateLimiter({ tokensPerInterval: 4, interval: 1_000, burst: 1, now: clock.now })
    const at: number[] = []
    const all = Array.from({ length: 4 }, () => limiter.acquire().then(() => at.push(clock.now())))
    await flushMicrotasks()
    for (let i = 0; i < 8; i++) {
      clock.advance(125)
      vi.advanceTimersByTime(125)
      await flushMicrotasks()
    }
    await Promise.all(all)
    expect(at).toEqual([0, 250, 500, 750])
  })

  it('schedule(fn) runs fn when allowed and returns its result; close() rejects waiters with ClosedError', async () => {
    const clock = manualClock()
    vi.useFakeTimers()
    const limiter = new RateLimiter({ tokensPerInterval: 1, now: clock.now, name: 'partner' })
    expect(await limiter.schedule(() => 42)).toBe(42)
    const queued = track(limiter.schedule(() => 'never'))
    limiter.close()
    await flushMicrotasks()
    expect(queued.reason).toBeInstanceOf(ClosedError)
    expect((queued.reason as Error).message).toMatch(/RateLimiter\("partner"\) is closed/)
    expect(vi.getTimerCount()).toBe(0)
    await expect(limiter.acquire()).rejects.toBeInstanceOf(ClosedError)
    expect(() => limiter.tryAcquire()).toThrow(ClosedError)
    expect(limiter.statistics().name).toBe('partner')
  })

  it('100,000 queued callers are granted in FIFO order with one timer', async () => {
    const clock = manualClock()
    vi.useFakeTimers()
    const limiter = new RateLimiter({ tokensPerInterval: 1_000, interval: 1_000, now: clock.now })
    const order: number[] = []
    const all: Promise<unknown>[] = []
    for (let i = 0; i < 100_000; i++) all.push(limiter.acquire().then(() => order.push(i)))
    expect(vi.getTimerCount()).toBe(1)
    expect(limiter.statistics().waiting).toBe(99_000)
    for (let s = 0; s < 99; s++) {
      clock.advance(1_000)
      vi.advanceTimersByTime(1_000)
    }
    await Promise.all(all)
    expect(order.length).toBe(100_000)
    expect(order.every((v, i) => v === i)).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('limit({ permits, rate })', () => {
  it('validates when created', () => {
    expect(() => limit({})).toThrow(/give permits/)
    expect(() => limit({ permits: 0 })).toThrow(InvalidArgumentError)
    expect(() => limit({ rate: { tokensPerInterval: -1 } })).toThrow(InvalidArgumentError)
    expect(() => limit({ permits: 1 }).run(undefined as never)).toThrow(InvalidArgumentError)
  })

  it('≤ permits in flight and ≤ tokensPerInterval started per interval', async () => {
    const clock = manualClock()
    vi.useFakeTimers()
    const partner = limit({ permits: 2, rate: { tokensPerInterval: 3, interval: 1_000, now: clock.now }, name: 'partner' })
    let inFlight = 0
    let most = 0
    const started: number[] = []
    const finish: (() => void)[] = []
    const calls = Array.from({ length: 6 }, () =>
      partner.run(async () => {
        started.push(clock.now())
        most = Math.max(most, ++inFlight)
        await new Promise<void>((resolve) => finish.push(resolve))
        inFlight--
      }),
    )
    await flushMicrotasks()
    expect(started).toEqual([0, 0]) // two permits
    expect(partner.statistics()).toMatchObject({ inFlight: 2, waiting: 4 })
    finish.shift()!()
    finish.shift()!()
    await flushMicrotasks()
    expect(started).toEqual([0, 0, 0]) // two permits free, but only one token left this second
    clock.advance(1_000)
    vi.advanceTimersByTime(1_000)
    await flushMicrotasks()
    expect(started).toEqual([0, 0, 0, 1_000])
    while (finish.length) {
      finish.shift()!()
      await flushMicrotasks()
      clock.advance(1_000)
      vi.advanceTimersByTime(1_000)
      await flushMicrotasks()
    }
    await Promise.all(calls)
    expect(most).toBe(2)
    expect(partner.statistics()).toMatchObject({ inFlight: 0, waiting: 0 })
  })

  it('returns a Guard for using; a timeout while waiting for a token gives the permit back', async () => {
    const clock = manualClock()
    vi.useFakeTimers()
    const sem = new Semaphore(1)
    const rate = new RateLimiter({ tokensPerInterval: 1, interval: 1_000, now: clock.now })
    const partner = limit({ permits: sem, rate })
    {
      using guard = await partner.acquire()
      expect(guard).toBeInstanceOf(Guard)
      expect(sem.value).toBe(0)
    }
    expect(sem.value).toBe(1)
    const late = track(partner.acquire({ timeout: 50 }))
    await flushMicrotasks()
    expect(sem.value).toBe(0) // holds the permit while it waits for a token
    vi.advanceTimersByTime(50)
    await flushMicrotasks()
    expect(late.reason).toBeInstanceOf(TimeoutError)
    expect(sem.value).toBe(1)
    expect(partner.tryAcquire()).toBeUndefined() // no token this second
    expect(sem.value).toBe(1) // and the permit it tried was given back
    expect(vi.getTimerCount()).toBe(0)
  })
})
