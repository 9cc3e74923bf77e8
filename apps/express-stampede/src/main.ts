import { printStampedeTable, recordRun } from '@yieldpoint/demo-kit'
import { startServers, stampede } from './load'

const n = Number(process.argv[2] ?? process.env.REQUESTS ?? 1000)
const { app, upstream, child } = await startServers(100)
try {
  const naive = await stampede('naive check-then-act cache', `${app}/naive/products/cold-1`, upstream, n)
  const fixed = await stampede('coalesce({ ttl: 5_000 })', `${app}/products/cold-1`, upstream, n)
  const warm = await stampede('coalesce, warm (cache hits)', `${app}/products/cold-1`, upstream, n)
  const title = `express-stampede — ${n} concurrent requests for one cold key, upstream latency 100 ms`
  printStampedeTable(title, [naive, fixed, warm])
  recordRun('express-stampede', title, [naive, fixed, warm])
  console.log(`\nThe naive route called the upstream ${naive.upstreamCalls}× for one key; coalesce called it ${fixed.upstreamCalls}×.`)
  if (fixed.upstreamCalls !== 1 || fixed.ok !== n) process.exitCode = 1
} finally {
  child.kill()
}
