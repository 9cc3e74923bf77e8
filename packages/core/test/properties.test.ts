import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Barrier, Lock, Semaphore, type Guard } from '../src'

afterEach(() => {
  vi.useRealTimers()
})

/**
 * A task plan: when it starts, whether it aborts (and when, in scheduler steps), a timeout in
 * fake milliseconds, how many permits it wants and how long it holds.
 */
const taskPlan = fc.record({
  abortAfter: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  timeout: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  permits: fc.integer({ min: 1, max: 2 }),
  holdSteps: fc.integer({ min: 0, max: 2 }),
})

async function steps(s: fc.Scheduler, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await s.schedule(Promise.resolve())
}

type Acquirer = { acquire(opts: { signal?: AbortSignal; timeout?: number; permits?: number }): Promise<Guard> }

/** Runs the plans against a lock-like primitive and returns what was observed. */
type TaskPlan = typeof taskPlan extends fc.Arbitrary<infer T> ? T : never

async function explore(s: fc.Scheduler, target: Acquirer, plans: TaskPlan[], capacity: number) {
  let inside = 0
  let maxInside = 0
  let seq = 0
  const requested: number[] = []
  const granted: number[] = []
  const outcomes: string[] = []
  const tasks = plans.map(async (plan, i) => {
    await steps(s, 1)
    const ac = plan.abortAfter === undefined ? undefined : new AbortController()
    if (ac !== undefined) void steps(s, plan.abortAfter!).then(() => ac.abort(new Error(`abort ${i}`)))
    const myTurn = seq++
    requested.push(myTurn)
    let guard: Guard
    try {
      guard = await target.acquire({ signal: ac?.signal, timeout: plan.timeout, permits: capacity > 1 ? plan.permits : undefined })
    } catch (e) {
      outcomes[i] = (e as Error).name === 'TimeoutError' ? 'timeout' : 'aborted'
      return
    }
    granted.push(myTurn)
    inside += capacity > 1 ? plan.permits : 1
    maxInside = Math.max(maxInside, inside)
    await steps(s, plan.holdSteps)
    inside -= capacity > 1 ? plan.permits : 1
    guard.release()
    outcomes[i] = 'done'
  })
  // Fake time moves only when the scheduler says so, so timeouts land between any two steps.
  const clock = (async () => {
    for (let t = 0; t < 6; t++) {
      await steps(s, 1)
      vi.advanceTimersByTime(1)
    }
  })()
  await s.waitFor(Promise.all([...tasks, clock]).then(async () => {}))
  return { maxInside, granted, outcomes, settledAll: outcomes.filter(Boolean).length === plans.length }
}

describe('property: interleavings with random aborts and timeouts', () => {
  it('Lock: mutual exclusion, FIFO grants, no hang, nothing left queued', async () => {
    vi.useFakeTimers()
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(taskPlan, { minLength: 1, maxLength: 8 }), async (s, plans) => {
        const lock = new Lock()
        const r = await explore(s, lock as unknown as Acquirer, plans, 1)
        expect(r.maxInside).toBeLessThanOrEqual(1)
        expect(r.granted).toEqual([...r.granted].sort((a, b) => a - b))
        expect(r.settledAll).toBe(true)
        expect(lock.locked()).toBe(false)
        expect(lock.statistics().waiting).toBe(0)
        expect(vi.getTimerCount()).toBe(0)
      }),
      { numRuns: 300 },
    )
  })

  it('Semaphore (weighted): never over capacity, no permit created or lost, FIFO, no hang', async () => {
    vi.useFakeTimers()
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 2, max: 3 }), fc.array(taskPlan, { minLength: 1, maxLength: 8 }), async (s, capacity, plans) => {
        const sem = new Semaphore(capacity)
        const r = await explore(s, sem as unknown as Acquirer, plans, capacity)
        expect(r.maxInside).toBeLessThanOrEqual(capacity)
        expect(r.granted).toEqual([...r.granted].sort((a, b) => a - b))
        expect(r.settledAll).toBe(true)
        expect(sem.value).toBe(capacity)
        expect(sem.statistics().waiting).toBe(0)
        expect(vi.getTimerCount()).toBe(0)
      }),
      { numRuns: 300 },
    )
  })

  it('Barrier: indices in every completed round are unique and cover 0..parties-1, whatever aborts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), { minLength: 1, maxLength: 12 }),
        async (s, parties, aborts) => {
          const barrier = new Barrier(parties)
          const results: { index: number; round: number }[] = []
          let rounds = 0
          const tasks = aborts.map(async (abortAfter, i) => {
            await steps(s, 1)
            const ac = abortAfter === undefined ? undefined : new AbortController()
            if (ac !== undefined) void steps(s, abortAfter!).then(() => ac.abort(new Error(`abort ${i}`)))
            try {
              const index = await barrier.wait({ signal: ac?.signal })
              if (index === parties - 1) rounds++
              results.push({ index, round: rounds })
            } catch {
              // aborted (simply left) or broken by the final abort()
            }
          })
          await s.waitAll()
          await new Promise((resolve) => setImmediate(resolve)) // let a completed round finish draining
          expect(barrier.broken).toBe(false)
          barrier.abort() // release the stragglers of an unfilled round
          await Promise.all(tasks)
          const releasers = results.filter((r) => r.index === parties - 1).length
          const completed = results.length - (results.length % parties)
          expect(releasers * parties).toBeGreaterThanOrEqual(completed)
          const counts = new Map<number, number>()
          for (const r of results) counts.set(r.index, (counts.get(r.index) ?? 0) + 1)
          for (let i = 0; i < parties; i++) expect(counts.get(i) ?? 0).toBe(releasers)
        },
      ),
      { numRuns: 300 },
    )
  })
})
