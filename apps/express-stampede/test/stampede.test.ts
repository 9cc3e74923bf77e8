import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServers, stampede } from '../src/load'
import { sampleOf } from '../src/metrics'

describe('express-stampede demo', () => {
  let servers: Awaited<ReturnType<typeof startServers>>
  beforeAll(async () => {
    servers = await startServers(100)
  })
  afterAll(() => {
    servers.child.kill()
  })

  it('the naive route stampedes the upstream; the coalesced route calls it once', async () => {
    const naive = await stampede('naive', `${servers.app}/naive/products/t1`, servers.upstream, 200, { holdUntilCalls: 2 })
    const fixed = await stampede('fixed', `${servers.app}/products/t1`, servers.upstream, 200)
    expect(naive.ok).toBe(200)
    expect(naive.upstreamCalls).toBeGreaterThan(1) // a guarantee, reached by the 2nd call (the upstream holds answers until then)
    expect(fixed.ok).toBe(200)
    expect(fixed.upstreamCalls).toBe(1)
  })

  it('GET /metrics tells the same story: one load for 200 callers, the rest coalesced or hits', async () => {
    const scrape = async () => {
      const res = await fetch(`${servers.app}/metrics`)
      expect(res.headers.get('content-type')).toContain('text/plain')
      return res.text()
    }
    const before = await scrape()
    const n = 200
    const run = await stampede('fixed', `${servers.app}/products/m1`, servers.upstream, n)
    expect(run.ok).toBe(n)
    const after = await scrape()
    const delta = (name: string, labels: Record<string, string>) => sampleOf(after, name, labels) - sampleOf(before, name, labels)
    const products = { cache: 'products' }
    expect(delta('yieldpoint_cache_loads_total', { ...products, outcome: 'success' })).toBe(1)
    expect(delta('yieldpoint_cache_lookups_total', { ...products, result: 'miss' })).toBe(1)
    // Every request asked the cache once: the one miss, and the others joined or hit.
    const coalesced = delta('yieldpoint_cache_lookups_total', { ...products, result: 'coalesced' })
    const hits = delta('yieldpoint_cache_lookups_total', { ...products, result: 'hit' })
    const stale = delta('yieldpoint_cache_lookups_total', { ...products, result: 'stale' })
    expect(1 + coalesced + hits + stale).toBe(n)
    expect(delta('app_upstream_calls_total', { route: 'coalesced' })).toBe(1)
    expect(sampleOf(after, 'yieldpoint_cache_load_duration_seconds_count', products)).toBeGreaterThanOrEqual(1)
  })
})
