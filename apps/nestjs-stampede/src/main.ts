import { httpStampede, printStampedeTable, recordRun, spawnServer } from '@yieldpoint/demo-kit'
import { fileURLToPath } from 'node:url'

const n = Number(process.argv[2] ?? 1000)
const { app, upstream, child } = await spawnServer<{ app: string; upstream: string }>(fileURLToPath(new URL('./server.ts', import.meta.url)))
try {
  const naive = await httpStampede('naive check-then-act service', `${app}/naive/products/cold-1`, upstream, n)
  const fixed = await httpStampede('@SingleFlight({ ttl: 5_000 })', `${app}/products/cold-1`, upstream, n)
  const warm = await httpStampede('@SingleFlight, warm (cache hits)', `${app}/products/cold-1`, upstream, n)
  const title = `nestjs-stampede — ${n} concurrent requests for one cold key, upstream latency 100 ms`
  printStampedeTable(title, [naive, fixed, warm])
  recordRun('nestjs-stampede', title, [naive, fixed, warm])
  console.log(`\nThe naive service called the upstream ${naive.upstreamCalls}× for one key; @SingleFlight ${fixed.upstreamCalls}×.`)
  if (fixed.upstreamCalls !== 1 || fixed.ok !== n) process.exitCode = 1
} finally {
  child.kill()
}
