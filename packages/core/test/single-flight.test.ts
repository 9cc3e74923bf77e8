import { describe, expect, it, vi, afterEach } from 'vitest'
import { InvalidArgumentError, ReentrancyError, SingleFlight } from '../src'
import { frameBacked } from '../src/reentrancy'
import { abortCount, settle, track } from './helpers'

afterEach(() => {
  vi.useRealTimers()
})

function deferred<T>() {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('SingleFlight (docs/conformance/primitives.md case 45, Go singleflight)', () => {
  it('concurrent callers share one call and get the identical value; nothing is kept after', async () => {
    const sf = new SingleFlight<string, { n: number }>()
    let calls = 0
    const d = deferred<{ n: number }>()
    const ps = Array.from({ length: 100 }, () => sf.run('k', () => (calls++, d.promise)))
    expect(sf.has('k')).toBe(true)
    d.resolve({ n: 1 })
    const values = await Promise.all(ps)
    expect(calls).toBe(1)
    expect(new Set(values).size).toBe(1)
    expect(sf.size).toBe(0)
    await sf.run('k', () => (calls++, { n: 2 }))
    expect(calls).toBe(2)
  })

  it('shares the same error; the next call runs again', async () => {
    const sf = new SingleFlight()
    const boom = new Error('boom')
    let calls = 0
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => sf.run('k', async () => (calls++, Promise.reject(boom)))))
    expect(calls).toBe(1)
    expect(results.every((r) => r.status === 'rejected' && r.reason === boom)).toBe(true)
    await expect(sf.run('k', () => 'ok')).resolves.toBe('ok')
  })

  it('a synchronous throw rejects every caller', async () => {
    const sf = new SingleFlight()
    const err = new Error('sync')
    await expect(
      sf.run('k', () => {
        throw err
      }),
    ).rejects.toBe(err)
    expect(sf.size).toBe(0)
  })

  it('one caller aborting detaches only itself; the shared signal aborts when every caller left', async () => {
    const sf = new SingleFlight()
    const d = deferred<string>()
    let workSignal!: AbortSignal
    const a = new AbortController()
    const b = new AbortController()
    const pa = track(sf.run('k', (signal) => ((workSignal = signal), d.promise), { signal: a.signal }))
    const pb = track(sf.run('k', () => d.promise, { signal: b.signal }))
    const pc = sf.run('k', () => d.promise)
    a.abort(new Error('a left'))
    await settle()
    expect(pa.status).toBe('rejected')
    expect(workSignal.aborted).toBe(false)
    d.resolve('v')
    expect(await pc).toBe('v')
    await settle()
    expect(pb.value).toBe('v')

    const d2 = deferred<string>()
    let s2!: AbortSignal
    const x = new AbortController()
    const px = sf.run('j', (signal) => ((s2 = signal), d2.promise), { signal: x.signal }).catch((e) => e)
    const py = sf.run('j', () => d2.promise, { timeout: 5 }).catch((e) => e)
    x.abort()
    expect(s2.aborted).toBe(false)
    expect(((await py) as Error).name).toBe('TimeoutError')
    expect(s2.aborted).toBe(true)
    expect(sf.has('j')).toBe(false)
    await px
    expect(abortCount(x.signal)).toBe(0)
  })

  it('an already-aborted signal rejects at once and neither starts nor joins', async () => {
    const sf = new SingleFlight()
    let calls = 0
    const reason = new Error('pre')
    await expect(sf.run('k', () => calls++, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(calls).toBe(0)
    expect(sf.size).toBe(0)
  })

  it('forget(key) lets the next caller start anew, and the old completion never removes its successor (golang/go#31420)', async () => {
    const sf = new SingleFlight()
    const first = deferred<string>()
    const second = deferred<string>()
    const p1 = sf.run('k', () => first.promise)
    sf.forget('k')
    const p2 = sf.run('k', () => second.promise)
    first.resolve('old')
    expect(await p1).toBe('old')
    expect(sf.has('k')).toBe(true) // still the successor
    let calls = 0
    const p3 = sf.run('k', () => (calls++, 'third'))
    second.resolve('new')
    expect(await p2).toBe('new')
    expect(await p3).toBe('new')
    expect(calls).toBe(0)
  })

  it('a function that runs its own key rejects with ReentrancyError instead of deadlocking', async () => {
    const sf = new SingleFlight({ detectReentrancy: true })
    const direct = sf.run('a', () => sf.run('a', () => 1))
    await expect(direct).rejects.toBeInstanceOf(ReentrancyError)
    const later = sf.run('b', async () => {
      await settle()
      return sf.run('b', () => 1)
    })
    await expect(later).rejects.toThrow(/would wait for itself/)
    await expect(sf.run('c', () => sf.run('d', () => 'nested'))).resolves.toBe('nested')
  })

  it('bad input throws typed errors', () => {
    const sf = new SingleFlight<unknown>()
    expect(() => sf.run('k', 42 as never)).toThrow(InvalidArgumentError)
    expect(() => sf.run({}, () => 1)).toThrow(InvalidArgumentError)
    expect(sf.size).toBe(0)
  })
})

describe('SingleFlight options', () => {
  it('detectReentrancy defaults to on exactly where AsyncLocalStorage runs on AsyncContextFrame (Node >= 24)', async () => {
    // npm test runs the core tests on Node 20, 22 and 24, so both branches run.
    const sf = new SingleFlight()
    let inner: Promise<unknown> | undefined
    const outer = sf.run('a', () => {
      inner = sf.run('a', () => 1)
      return 'outer'
    })
    expect(await outer).toBe('outer')
    if (frameBacked) await expect(inner).rejects.toBeInstanceOf(ReentrancyError)
    else expect(await inner).toBe('outer')
  })

  it('detectReentrancy: false skips the check (and its AsyncLocalStorage cost)', async () => {
    const sf = new SingleFlight({ detectReentrancy: false })
    let inner: Promise<unknown> | undefined
    const outer = sf.run('a', () => {
      inner = sf.run('a', () => 1) // joins itself: the caller opted out of detection
      return 'outer'
    })
    expect(await outer).toBe('outer')
    expect(await inner).toBe('outer')
  })
})

describe('SingleFlight — callers without a signal', () => {
  it('share one promise, and keep the work alive when every caller with a signal has left', async () => {
    const sf = new SingleFlight<string, string>()
    const d = deferred<string>()
    let workSignal!: AbortSignal
    const plain1 = sf.run('k', (signal) => ((workSignal = signal), d.promise))
    const plain2 = sf.run('k', () => d.promise)
    const plain3 = sf.run('k', () => d.promise)
    // No per-caller allocation for joined callers that cannot leave (the starter is tracked on its
    // own, so `context.share = false` can single it out).
    expect(plain2).toBe(plain3)
    const ac = new AbortController()
    const leaving = sf.run('k', () => d.promise, { signal: ac.signal }).catch((e) => e)
    ac.abort(new Error('bye'))
    await leaving
    expect(workSignal.aborted).toBe(false)
    d.resolve('v')
    expect(await plain1).toBe('v')
  })
})
