import { startUpstream } from '@yieldpoint/demo-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { callers, clusterStampede, startCluster, startRedis, stopCluster, type ClusterProcess } from '../src/cluster'

describe('cluster-stampede demo (real processes, real Redis)', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let redis: Awaited<ReturnType<typeof startRedis>>
  const started: ClusterProcess[][] = []
  beforeAll(async () => {
    upstream = await startUpstream(100)
    redis = await startRedis()
    if (!redis) throw new Error('redis-server is not installed (the README test command installs it)')
  })
  afterAll(() => {
    for (const c of started) stopCluster(c)
    redis?.stop()
    upstream.server.close()
  })

  it('upstream calls = number of processes without Redis, 1 with it; a killed leader costs at most one extra call', async () => {
    const local = await startCluster(3, upstream.url)
    started.push(local)
    const without = await clusterStampede('memory', local, upstream.url, '/products/a', 300)
    expect(without.ok).toBe(300)
    expect(without.upstreamCalls).toBe(3)

    const shared = await startCluster(3, upstream.url, redis!.url)
    started.push(shared)
    const withRedis = await clusterStampede('redis', shared, upstream.url, '/products/b', 300)
    expect(withRedis.ok).toBe(300)
    expect(withRedis.upstreamCalls).toBe(1)

    const crash = await clusterStampede('crash', shared, upstream.url, '/products/c?ms=1500', 300, () => {
      void callers(upstream.url).then(([pid]) => shared.find((p) => String(p.pid) === pid)?.child.kill('SIGKILL'))
    })
    expect(crash.ok).toBe(300)
    expect(crash.upstreamCalls).toBeLessThanOrEqual(2)
    expect(crash.upstreamCalls).toBeGreaterThanOrEqual(1)
  })
})
