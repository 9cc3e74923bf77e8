import { InvalidArgumentError, limit, RateLimiter, TimeoutError } from '@yieldpoint/core'
import { defer, firstValueFrom, from, lastValueFrom, of, toArray } from 'rxjs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { rateLimitMap, withRateLimit } from '../src'

afterEach(() => {
  vi.useRealTimers()
})

describe('rateLimitMap / withRateLimit', () => {
  it('validates when the operator is created', () => {
    const limiter = new RateLimiter({ tokensPerInterval: 1 })
    expect(() => rateLimitMap({} as never, () => of(1))).toThrow(InvalidArgumentError)
    expect(() => rateLimitMap(limiter, 'x' as never)).toThrow(InvalidArgumentError)
    expect(() => withRateLimit(limiter, { timeout: -1 })).toThrow(InvalidArgumentError)
    expect(() => rateLimitMap(limiter, () => of(1), { tokens: 2 } as never)).toThrow(/unknown option/)
  })

  it('starts at most tokensPerInterval inner Observables per interval, in order', async () => {
    vi.useFakeTimers()
    const limiter = new RateLimiter({ tokensPerInterval: 2, interval: 100 })
    const started: [number, number][] = []
    const out = lastValueFrom(
      from([1, 2, 3, 4, 5]).pipe(
        rateLimitMap(limiter, (v) => defer(() => (started.push([v, Date.now()]), of(v)))),
        toArray(),
      ),
    )
    const t0 = Date.now()
    await vi.advanceTimersByTimeAsync(250)
    expect(await out).toEqual([1, 2, 3, 4, 5])
    expect(started.map(([v, t]) => [v, t - t0])).toEqual([
      [1, 0],
      [2, 0],
      [3, 100],
      [4, 100],
      [5, 200],
    ])
  })

  it('a limit({ permits, rate }) also bounds how many run at once; unsubscribing while waiting takes nothing', async () => {
    const partner = limit({ permits: 1, rate: { tokensPerInterval: 10, interval: 60_000 } })
    let release!: () => void
    const first = firstValueFrom(defer(() => new Promise<string>((r) => (release = () => r('a')))).pipe(withRateLimit(partner)))
    const second = defer(() => of('b'))
      .pipe(withRateLimit(partner))
      .subscribe()
    expect(partner.statistics()).toMatchObject({ inFlight: 1, waiting: 1 })
    second.unsubscribe()
    await new Promise((r) => setImmediate(r))
    expect(partner.statistics()).toMatchObject({ inFlight: 1, waiting: 0 })
    release()
    expect(await first).toBe('a')
    expect(partner.statistics().rate).toMatchObject({ granted: 1 }) // the unsubscribed one took no token
  })

  it('{ timeout } errors a waiting subscription with TimeoutError', async () => {
    const limiter = new RateLimiter({ tokensPerInterval: 1, interval: 60_000 })
    expect(await firstValueFrom(of(1).pipe(withRateLimit(limiter)))).toBe(1)
    await expect(firstValueFrom(of(2).pipe(withRateLimit(limiter, { timeout: 10 })))).rejects.toBeInstanceOf(TimeoutError)
  })
})
