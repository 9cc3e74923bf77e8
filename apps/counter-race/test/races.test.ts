import { Barrier, Lock, Semaphore } from '@yieldpoint/core'
import { describe, expect, it } from 'vitest'
import { counter, peakConcurrency, phases, producerConsumer } from '../src/races'

describe('counter-race demo', () => {
  it('loses every update but one without a lock, none with it', async () => {
    expect(await counter(10_000)).toBe(1)
    expect(await counter(10_000, new Lock())).toBe(10_000)
  })

  it('Semaphore caps concurrency', async () => {
    expect(await peakConcurrency(500)).toBe(500)
    expect(await peakConcurrency(500, new Semaphore(3))).toBe(3)
  })

  it('Condition moves every item through a bounded buffer', async () => {
    expect(await producerConsumer(300, 3, 10)).toEqual({ consumed: 300, maxBuffer: expect.any(Number) })
    expect((await producerConsumer(300, 3, 10)).maxBuffer).toBeLessThanOrEqual(10)
  })

  it('Barrier keeps phases apart', async () => {
    expect(await phases(6, 4)).toBeGreaterThan(0)
    expect(await phases(6, 4, new Barrier(6))).toBe(0)
  })
})
