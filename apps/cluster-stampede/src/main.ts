import { printStampedeTable, startUpstream } from '@yieldpoint/demo-kit'
import { callers, clusterStampede, startCluster, startRedis, stopCluster } from './cluster'

const processes = 4
const n = Number(process.argv[2] ?? 1000)
const upstream = await startUpstream(100)
const redis = await startRedis()
if (!redis) {
  console.log('cluster-stampede: redis-server is not installed; skipping the cluster demo.')
  process.exit(0)
}
try {
  const local = await startCluster(processes, upstream.url)
  const withoutRedis = await clusterStampede(`${processes} processes, in-memory coalesce`, local, upstream.url, '/products/cold-1', n)
  stopCluster(local)

  const shared = await startCluster(processes, upstream.url, redis.url)
  const withRedis = await clusterStampede(`${processes} processes, coalesce + RedisStore`, shared, upstream.url, '/products/cold-2', n)
  // A slow cold key: once the leader process has called the upstream, SIGKILL it mid-load.
  let killed = 0
  const crash = await clusterStampede(`… leader SIGKILLed mid-load`, shared, upstream.url, '/products/cold-3?ms=1500', n, () => {
    void callers(upstream.url).then(([leaderPid]) => {
      const leader = shared.find((p) => String(p.pid) === leaderPid)
      leader?.child.kill('SIGKILL')
      killed = leader?.pid ?? 0
    })
  })
  stopCluster(shared)
  printStampedeTable(`cluster-stampede — ${n} concurrent requests for one cold key over ${processes} processes, upstream latency 100 ms`, [
    withoutRedis,
    withRedis,
    crash,
  ])
  console.log(
    `\nWithout Redis each process loads once (${withoutRedis.upstreamCalls} upstream ` +
      `calls); with RedisStore the cluster loads once (${withRedis.upstreamCalls}).`,
  )
  console.log(
    `Leader ${killed} was SIGKILLed mid-load: ${crash.ok}/${crash.requests} requests still answered ` +
      `(${crash.retried} retried on another process), ${crash.upstreamCalls} upstream calls (at most one extra).`,
  )
  if (withRedis.upstreamCalls !== 1 || crash.ok !== n || crash.upstreamCalls > 2) process.exitCode = 1
} finally {
  redis.stop()
  upstream.server.close()
}
