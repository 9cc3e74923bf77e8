import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  Barrier,
  BoundedSemaphore,
  channelNames,
  ClosedError,
  Condition,
  Event,
  Guard,
  InvalidArgumentError,
  KeyedLock,
  Lock,
  Semaphore,
  SingleFlight,
  SingleFlightCache,
  TimeoutError,
  type CacheMessage,
  type ReleaseMessage,
  type TraceContext,
  type WaitMessage,
} from '../src'
import { settle } from './helpers'

type Message = WaitMessage | ReleaseMessage

const cleanups: Array<() => void> = []
afterEach(() => {
  while (cleanups.length) cleanups.pop()!()
  vi.useRealTimers()
})

/** Records every message published on `name` until the test ends. */
function listen(name: string): Message[] {
  const seen: Message[] = []
  const fn = (m: unknown): void => void seen.push(m as Message)
  subscribe(name, fn)
  cleanups.push(() => unsubscribe(name, fn))
  return seen
}

/** Records the TracingChannel events of `name` as [event, snapshot of the context]. */
function trace(name: string): Array<[string, TraceContext]> {
  const seen: Array<[string, TraceContext]> = []
  const tc = tracingChannel(name)
  const at = (event: string) => (ctx: unknown) => void seen.push([event, { ...(ctx as TraceContext) }])
  const handlers = { start: at('start'), end: at('end'), asyncStart: at('asyncStart'), asyncEnd: at('asyncEnd'), error: at('error') }
  tc.subscribe(handlers)
  cleanups.push(() => tc.unsubscribe(handlers))
  return seen
}

const events = (seen: Message[]) => seen.map((m) => m.event)

describe('diagnostics channels: locks and permits', () => {
  it('lists every channel', () => {
    expect(channelNames).toEqual([
      'yieldpoint:lock',
      'yieldpoint:semaphore',
      'yieldpoint:keyed-lock',
      'yieldpoint:condition',
      'yieldpoint:event',
      'yieldpoint:barrier',
      'yieldpoint:single-flight',
      'yieldpoint:cache',
    ])
  })

  it('Lock: acquire → granted with the wait time, release with the hold time and the name', async () => {
    const seen = listen('yieldpoint:lock')
    const lock = new Lock({ name: 'ledger' })
    const a = await lock.acquire()
    const b = lock.acquire()
    await settle()
    a.release()
    ;(await b).release()
    expect(events(seen)).toEqual(['acquire', 'granted', 'acquire', 'release', 'granted', 'release'])
    for (const m of seen) expect(m).toMatchObject({ primitive: 'Lock', name: 'ledger' })
    expect(seen[0]).toMatchObject({ event: 'acquire', waiting: 0 })
    expect(seen[2]).toMatchObject({ event: 'acquire', waiting: 0 })
    const granted = seen.filter((m): m is WaitMessage => m.event === 'granted')
    for (const m of granted) expect(m.waitTime).toBeGreaterThanOrEqual(0)
    const released = seen.filter((m): m is ReleaseMessage => m.event === 'release')
    for (const m of released) expect(m.holdTime).toBeGreaterThanOrEqual(0)
    expect(lock.locked()).toBe(false)
  })

  it('Lock: a queued acquire reports how many were already waiting', async () => {
    const lock = new Lock()
    const a = await lock.acquire()
    const b = lock.acquire()
    const seen = listen('yieldpoint:lock')
    const c = lock.acquire()
    expect(seen[0]).toMatchObject({ event: 'acquire', waiting: 1, name: undefined })
    a.release()
    ;(await b).release()
    ;(await c).release()
  })

  it('Lock: aborted, timed out and closed waits publish their outcome and error', async () => {
    const seen = listen('yieldpoint:lock')
    const lock = new Lock({ name: 'db' })
    const held = await lock.acquire()
    const ac = new AbortController()
    const aborted = lock.acquire({ signal: ac.signal })
    ac.abort(new Error('client left'))
    await expect(aborted).rejects.toThrow('client left')
    vi.useFakeTimers()
    const timed = lock.acquire({ timeout: 50 })
    const timedOut = expect(timed).rejects.toBeInstanceOf(TimeoutError)
    await vi.advanceTimersByTimeAsync(50)
    await timedOut
    vi.useRealTimers()
    const closed = lock.acquire()
    lock.close()
    await expect(closed).rejects.toBeInstanceOf(ClosedError)
    held.release()
    const outcomes = seen.filter((m) => m.event !== 'acquire' && m.event !== 'granted' && m.event !== 'release') as WaitMessage[]
    expect(outcomes.map((m) => m.event)).toEqual(['aborted', 'timeout', 'error'])
    expect((outcomes[0]!.error as Error).message).toBe('client left')
    expect(outcomes[1]!.error).toBeInstanceOf(TimeoutError)
    expect(String((outcomes[1]!.error as Error).message)).toContain('Lock("db").acquire()')
    expect(outcomes[2]!.error).toBeInstanceOf(ClosedError)
    for (const m of outcomes) expect(m.waitTime).toBeGreaterThanOrEqual(0)
  })

  it('Lock: tryAcquire publishes a grant and its release', () => {
    const seen = listen('yieldpoint:lock')
    const lock = new Lock()
    const g = lock.tryAcquire()!
    expect(lock.tryAcquire()).toBeUndefined()
    g.release()
    expect(events(seen)).toEqual(['acquire', 'granted', 'release'])
    expect(lock.locked()).toBe(false)
  })

  it('acquireCallback: published in the tick of the grant; a withdrawn wait ends as aborted', () => {
    const seen = listen('yieldpoint:lock')
    const lock = new Lock()
    let first: Guard | undefined
    lock.acquireCallback(
      (g) => (first = g),
      () => {},
    )
    expect(events(seen)).toEqual(['acquire', 'granted'])
    let second: Guard | undefined
    lock.acquireCallback(
      (g) => (second = g),
      () => {},
    )
    const withdraw = lock.acquireCallback(
      () => {},
      () => {},
    )
    withdraw()
    first!.release()
    expect(second).toBeInstanceOf(Guard)
    second!.release()
    expect(events(seen)).toEqual(['acquire', 'granted', 'acquire', 'acquire', 'aborted', 'release', 'granted', 'release'])
    const semSeen = listen('yieldpoint:semaphore')
    const sem = new Semaphore(2)
    sem.acquireCallback(
      (g) => g.release(),
      () => {},
      { permits: 2 },
    )
    const keys = listen('yieldpoint:keyed-lock')
    new KeyedLock<string>().acquireCallback(
      'k',
      (g) => g.release(),
      () => {},
    )
    expect(events(semSeen)).toEqual(['acquire', 'granted', 'release'])
    expect(keys.map((m) => [m.event, m.key])).toEqual([
      ['acquire', 'k'],
      ['granted', 'k'],
      ['release', 'k'],
    ])
  })

  it('Lock: the TracingChannel sees start, end, asyncStart, asyncEnd — and error on a rejected wait', async () => {
    const seen = trace('yieldpoint:lock')
    const lock = new Lock({ name: 'traced' })
    const g = await lock.acquire()
    expect(seen.map(([e]) => e)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd'])
    expect(seen[0]![1]).toMatchObject({ operation: 'acquire', primitive: 'Lock', name: 'traced', waiting: 0 })
    expect(seen[3]![1]).toMatchObject({ outcome: 'granted' })
    expect(seen[3]![1].result).toBeInstanceOf(Guard)
    seen.length = 0
    const ac = new AbortController()
    const p = lock.acquire({ signal: ac.signal })
    ac.abort()
    await p.catch(() => {})
    expect(seen.map(([e]) => e)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd'])
    expect(seen[4]![1]).toMatchObject({ outcome: 'aborted' })
    g.release()
  })

  it('Semaphore and BoundedSemaphore: permits and the class name in every message', async () => {
    const seen = listen('yieldpoint:semaphore')
    const sem = new Semaphore(3, { name: 'partner-api' })
    const g = await sem.acquire({ permits: 2 })
    g.release()
    const b = new BoundedSemaphore(1, { name: 'pool' })
    b.tryAcquire()!.release()
    expect(seen.map((m) => [m.event, m.primitive, m.name, m.permits])).toEqual([
      ['acquire', 'Semaphore', 'partner-api', 2],
      ['granted', 'Semaphore', 'partner-api', 2],
      ['release', 'Semaphore', 'partner-api', 2],
      ['acquire', 'BoundedSemaphore', 'pool', 1],
      ['granted', 'BoundedSemaphore', 'pool', 1],
      ['release', 'BoundedSemaphore', 'pool', 1],
    ])
    expect(sem.value).toBe(3)
    expect(b.value).toBe(1)
  })

  it('KeyedLock: the key in every message; acquireMany publishes each key', async () => {
    const seen = listen('yieldpoint:keyed-lock')
    const locks = new KeyedLock<string>({ name: 'accounts' })
    ;(await locks.acquire('a')).release()
    ;(await locks.acquireMany(['c', 'b'])).release()
    expect(seen.map((m) => [m.event, m.key])).toEqual([
      ['acquire', 'a'],
      ['granted', 'a'],
      ['release', 'a'],
      ['acquire', 'b'],
      ['granted', 'b'],
      ['acquire', 'c'],
      ['granted', 'c'],
      ['release', 'c'],
      ['release', 'b'],
    ])
    for (const m of seen) expect(m).toMatchObject({ primitive: 'KeyedLock', name: 'accounts' })
    expect(locks.size).toBe(0)
  })
})

describe('diagnostics channels: waits', () => {
  it('Event: wait → granted when set', async () => {
    const seen = listen('yieldpoint:event')
    const ev = new Event({ name: 'ready' })
    const w = ev.wait()
    ev.set()
    await w
    expect(seen.map((m) => [m.event, m.primitive, m.name])).toEqual([
      ['wait', 'Event', 'ready'],
      ['granted', 'Event', 'ready'],
    ])
  })

  it('Condition: wait → granted when notified, timeout when not', async () => {
    const seen = listen('yieldpoint:condition')
    const cond = new Condition(undefined, { name: 'queue' })
    await cond.acquire()
    const w = cond.wait()
    await settle()
    await cond.acquire()
    cond.notify()
    cond.release()
    await w
    cond.release()
    vi.useFakeTimers()
    await cond.acquire()
    const t = cond.wait({ timeout: 10 })
    const timedOut = expect(t).rejects.toBeInstanceOf(TimeoutError)
    await vi.advanceTimersByTimeAsync(10)
    await timedOut
    cond.release()
    expect(seen.map((m) => m.event)).toEqual(['wait', 'granted', 'wait', 'timeout'])
    expect(String((seen[3] as WaitMessage).error)).toContain('Condition("queue").wait()')
  })

  it('Barrier: wait → granted for every party; broken when aborted', async () => {
    const seen = listen('yieldpoint:barrier')
    const barrier = new Barrier(2, { name: 'phase' })
    await Promise.all([barrier.wait(), barrier.wait()])
    const w = barrier.wait()
    barrier.abort()
    await w.catch(() => {})
    expect(seen.map((m) => m.event)).toEqual(['wait', 'wait', 'granted', 'granted', 'wait', 'error'])
    expect(seen[1]).toMatchObject({ waiting: 1, name: 'phase' })
  })
})

describe('names', () => {
  it('appear in error messages', async () => {
    vi.useFakeTimers()
    const sem = new Semaphore(0, { name: 'db-pool' })
    const p = expect(sem.acquire({ timeout: 5 })).rejects.toThrow('Semaphore("db-pool").acquire() timed out after 5 ms.')
    await vi.advanceTimersByTimeAsync(5)
    await p
    sem.close()
    await expect(sem.acquire()).rejects.toThrow('Semaphore("db-pool") is closed')
    expect(() => new Lock({ name: 'x' }).release()).toThrow('Lock("x").release()')
  })

  it('are validated when the primitive is created', () => {
    expect(() => new Lock({ name: 42 as unknown as string })).toThrow(InvalidArgumentError)
    expect(() => new Semaphore(1, { name: '' })).toThrow(InvalidArgumentError)
    expect(() => new KeyedLock({ name: {} as unknown as string })).toThrow(InvalidArgumentError)
    expect(() => new Event(7 as never)).toThrow(InvalidArgumentError)
    expect(() => new Barrier(2, { warnAfter: -1 })).toThrow(InvalidArgumentError)
    expect(() => new Lock({ detectDeadlock: 'yes' as unknown as boolean })).toThrow(InvalidArgumentError)
  })
})

describe('nobody listening', () => {
  it('sees every way of subscribing: one TracingChannel handler, a bound store, Channel#subscribe', async () => {
    const { channel } = await import('node:diagnostics_channel')
    const { AsyncLocalStorage } = await import('node:async_hooks')
    const lock = new Lock()
    // Only asyncEnd of the tracing channel.
    const ends: unknown[] = []
    const tc = tracingChannel('yieldpoint:lock')
    const handlers = { asyncEnd: (ctx: unknown) => void ends.push(ctx) }
    tc.subscribe(handlers as never)
    ;(await lock.acquire()).release()
    tc.unsubscribe(handlers as never)
    expect(ends).toHaveLength(1)
    // A store bound to the start channel (how APM tools propagate context).
    const store = new AsyncLocalStorage<string>()
    tc.start.bindStore(store, () => 'in-acquire')
    const seen = listen('yieldpoint:semaphore')
    ;(await lock.acquire()).release()
    tc.start.unbindStore(store)
    // The instance method of the plain channel.
    const direct: unknown[] = []
    const fn = (m: unknown): void => void direct.push(m)
    channel('yieldpoint:semaphore').subscribe(fn)
    ;(await new Semaphore(1).acquire()).release()
    channel('yieldpoint:semaphore').unsubscribe(fn)
    expect(direct.map((m) => (m as Message).event)).toEqual(['acquire', 'granted', 'release'])
    expect(seen).toHaveLength(3)
  })

  it('two copies of the package in one process both publish (they share the channels)', async () => {
    // The built bundle is a second, independent copy of every class (turbo builds before tests).
    const bundle = new URL('../dist/index.js', import.meta.url).href
    const second = (await import(/* @vite-ignore */ bundle)) as typeof import('../src')
    expect(second.Lock).not.toBe(Lock)
    const seen = listen('yieldpoint:lock')
    ;(await new Lock({ name: 'first' }).acquire()).release()
    ;(await new second.Lock({ name: 'second' }).acquire()).release()
    expect(seen.filter((m) => m.event === 'release').map((m) => m.name)).toEqual(['first', 'second'])
  })

  it('publishes nothing once the last subscriber left', async () => {
    const lock = new Lock()
    const seen: unknown[] = []
    const fn = (m: unknown): void => void seen.push(m)
    subscribe('yieldpoint:lock', fn)
    unsubscribe('yieldpoint:lock', fn)
    const g = await lock.acquire()
    g.release()
    expect(seen).toEqual([])
  })
})

describe('diagnostics channels: caches', () => {
  const cacheEvents = (seen: unknown[]) => (seen as CacheMessage[]).map((m) => [m.event, m.key])

  it('SingleFlightCache: miss, coalesced, load-start, load-end (duration, callers), then hit', async () => {
    const seen = listen('yieldpoint:cache') as unknown as CacheMessage[]
    const cache = new SingleFlightCache<string, number>({ name: 'products', ttl: 1_000 })
    let finish!: (v: number) => void
    const loader = () => new Promise<number>((resolve) => (finish = resolve))
    const a = cache.getOrSet('p1', loader)
    const b = cache.getOrSet('p1', loader)
    finish(7)
    expect(await Promise.all([a, b])).toEqual([7, 7])
    expect(await cache.getOrSet('p1', loader)).toBe(7)
    expect(cacheEvents(seen)).toEqual([
      ['miss', 'p1'],
      ['load-start', 'p1'],
      ['coalesced', 'p1'],
      ['load-end', 'p1'],
      ['hit', 'p1'],
    ])
    for (const m of seen) expect(m).toMatchObject({ primitive: 'SingleFlightCache', name: 'products' })
    const end = seen[3]!
    expect(end).toMatchObject({ background: false, callers: 2 })
    expect(end.duration).toBeGreaterThanOrEqual(0)
  })

  it('SingleFlightCache: load-error carries the error; refresh marks a background load', async () => {
    let clock = 0
    const seen = listen('yieldpoint:cache') as unknown as CacheMessage[]
    const cache = new SingleFlightCache<string, string>({ ttl: 10, staleWhileRevalidate: 100, now: () => clock })
    const boom = new Error('upstream down')
    await expect(cache.getOrSet('k', () => Promise.reject(boom))).rejects.toBe(boom)
    await cache.getOrSet('k', async () => 'v1')
    clock = 20 // stale, within staleWhileRevalidate
    seen.length = 0
    let refreshed!: () => void
    const done = new Promise<void>((resolve) => (refreshed = resolve))
    expect(await cache.getOrSet('k', async () => (refreshed(), 'v2'))).toBe('v1')
    await done
    await settle()
    expect(cacheEvents(seen)).toEqual([
      ['stale', 'k'],
      ['refresh', 'k'],
      ['load-start', 'k'],
      ['load-end', 'k'],
    ])
    expect(seen[1]).toMatchObject({ background: true })
    expect(seen[3]).toMatchObject({ background: true, callers: 0 })
  })

  it('SingleFlightCache: the TracingChannel wraps each load (error on failure)', async () => {
    const seen = trace('yieldpoint:cache')
    const cache = new SingleFlightCache<string, number>()
    await cache.getOrSet('a', async () => 1)
    await cache.getOrSet('b', async () => Promise.reject(new Error('x'))).catch(() => {})
    expect(seen.map(([e, ctx]) => [e, ctx.key])).toEqual([
      ['start', 'a'],
      ['end', 'a'],
      ['asyncStart', 'a'],
      ['asyncEnd', 'a'],
      ['start', 'b'],
      ['end', 'b'],
      ['error', 'b'],
      ['asyncStart', 'b'],
      ['asyncEnd', 'b'],
    ])
    expect(seen[3]![1]).toMatchObject({ operation: 'load', primitive: 'SingleFlightCache', background: false })
    expect(seen[3]![1].duration).toBeGreaterThanOrEqual(0)
    expect((seen[6]![1].error as Error).message).toBe('x')
  })

  it('SingleFlight: miss, coalesced and the execution as a load', async () => {
    const seen = listen('yieldpoint:single-flight') as unknown as CacheMessage[]
    const group = new SingleFlight<string, number>({ name: 'users' })
    let finish!: (v: number) => void
    const fn = () => new Promise<number>((resolve) => (finish = resolve))
    const a = group.run('u1', fn)
    const b = group.run('u1', fn)
    finish(1)
    await Promise.all([a, b])
    const failing = group.run('u2', async () => Promise.reject(new Error('nope')))
    await failing.catch(() => {})
    expect(cacheEvents(seen)).toEqual([
      ['miss', 'u1'],
      ['load-start', 'u1'],
      ['coalesced', 'u1'],
      ['load-end', 'u1'],
      ['miss', 'u2'],
      ['load-start', 'u2'],
      ['load-error', 'u2'],
    ])
    expect(seen[3]).toMatchObject({ primitive: 'SingleFlight', name: 'users', callers: 2 })
    expect((seen[6]!.error as Error).message).toBe('nope')
  })

  it('names appear in cache error messages and are validated', async () => {
    const cache = new SingleFlightCache<string, number>({ name: 'c1', detectReentrancy: true })
    await expect(cache.getOrSet('k', () => cache.getOrSet('k', async () => 1))).rejects.toThrow('SingleFlightCache("c1").getOrSet()')
    expect(() => new SingleFlightCache({ name: 5 as unknown as string })).toThrow(InvalidArgumentError)
    expect(() => new SingleFlight({ name: '' })).toThrow(InvalidArgumentError)
  })
})
