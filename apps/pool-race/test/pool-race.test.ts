import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startPartner } from '../src/partner'
import { withoutPool, withPool } from '../src/race'

let partner: Awaited<ReturnType<typeof startPartner>>
beforeAll(async () => {
  partner = await startPartner(10, 50)
})
afterAll(() => partner.close())
beforeEach(async () => {
  await partner.quiet()
  partner.reset()
})

describe('pool-race (a real TCP partner that accepts 10 connections)', () => {
  it('without a pool, a burst of 200 opens 200 connections and the partner refuses some', async () => {
    const naive = await withoutPool(partner.port, 200)
    expect(naive.opened).toBe(200)
    expect(partner.counts.peak).toBe(10) // the partner's own cap held…
    expect(partner.counts.refused).toBeGreaterThan(0) // …by refusing us
    expect(naive.failed).toBe(partner.counts.refused)
  })

  it('with Pool({ max: 10 }): all 200 succeed, at most 10 connections ever, none refused', async () => {
    const pooled = await withPool(partner.port, 200, 10)
    expect(pooled).toMatchObject({ ok: 200, failed: 0 })
    expect(pooled.opened).toBeLessThanOrEqual(10)
    expect(pooled.peakSize).toBeLessThanOrEqual(10)
    expect(partner.counts.refused).toBe(0)
    expect(partner.counts.queries).toBe(200)
  })
})
