import { startUpstream } from '@yieldpoint/demo-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { burst, coalesced, naive } from '../src/fanout'

describe('rxjs-stampede demo', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  beforeAll(async () => {
    upstream = await startUpstream(50)
  })
  afterAll(() => {
    upstream.server.close()
  })

  it('mergeMap calls the upstream once per event; flightMap once per key', async () => {
    const naiveRow = await burst('naive', upstream.url, 300, 3, naive(upstream.url))
    const fixedRow = await burst('fixed', upstream.url, 300, 3, coalesced(upstream.url))
    expect(naiveRow.ok).toBe(300)
    expect(naiveRow.upstreamCalls).toBe(300)
    expect(fixedRow.ok).toBe(300)
    expect(fixedRow.upstreamCalls).toBe(3)
  })
})
