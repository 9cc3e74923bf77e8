import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServers, stampede } from '../src/load'

describe('express-stampede demo', () => {
  let servers: Awaited<ReturnType<typeof startServers>>
  beforeAll(async () => {
    servers = await startServers(100)
  })
  afterAll(() => {
    servers.child.kill()
  })

  it('the naive route stampedes the upstream; the coalesced route calls it once', async () => {
    const naive = await stampede('naive', `${servers.app}/naive/products/t1`, servers.upstream, 200)
    const fixed = await stampede('fixed', `${servers.app}/products/t1`, servers.upstream, 200)
    expect(naive.ok).toBe(200)
    expect(naive.upstreamCalls).toBeGreaterThan(100) // ~200: every request missed before the first answer
    expect(fixed.ok).toBe(200)
    expect(fixed.upstreamCalls).toBe(1)
  })
})
