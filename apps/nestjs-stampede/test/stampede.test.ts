import { httpStampede, spawnServer } from '@yieldpoint/demo-kit'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

describe('nestjs-stampede demo', () => {
  let servers: Awaited<ReturnType<typeof spawnServer<{ app: string; upstream: string }>>>
  beforeAll(async () => {
    servers = await spawnServer(fileURLToPath(new URL('../src/server.ts', import.meta.url)))
  })
  afterAll(() => {
    servers.child.kill()
  })

  it('the naive service stampedes the upstream; @SingleFlight calls it once', async () => {
    const naive = await httpStampede('naive', `${servers.app}/naive/products/t1`, servers.upstream, 200, { holdUntilCalls: 2 })
    const fixed = await httpStampede('fixed', `${servers.app}/products/t1`, servers.upstream, 200)
    expect(naive.ok).toBe(200)
    expect(naive.upstreamCalls).toBeGreaterThan(1) // a guarantee, reached by the 2nd call (the upstream holds answers until then)
    expect(fixed.ok).toBe(200)
    expect(fixed.upstreamCalls).toBe(1)
  })
})
