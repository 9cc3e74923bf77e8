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
    const naive = await stampede('naive', `${servers.app}/naive/products/t1`, servers.upstream, 200, { holdUntilCalls: 2 })
    const fixed = await stampede('fixed', `${servers.app}/products/t1`, servers.upstream, 200)
    expect(naive.ok).toBe(200)
    expect(naive.upstreamCalls).toBeGreaterThan(1) // a guarantee, reached by the 2nd call (the upstream holds answers until then)
    expect(fixed.ok).toBe(200)
    expect(fixed.upstreamCalls).toBe(1)
  })
})
