import { get } from 'node:http'
import { printStampedeTable, recordRun } from '@yieldpoint/demo-kit'
import { startServers, stampede } from './load'
import { sampleOf } from './metrics'

const n = Number(process.argv[2] ?? process.env.REQUESTS ?? 1000)
const { app, upstream, child } = await startServers(100)
try {
  // GET /metrics before and after each phase: the numbers below come from the app's own
  // Prometheus endpoint (prom-client fed by yieldpoint's diagnostics channels).
  // Scraped on a connection of its own (agent: false): a kept-alive fetch connection would let
  // the stampede's first request skip the TCP handshake the other 999 pay, so it would reach
  // the naive route alone and finish its upstream call before the burst arrives.
  const scrape = (): Promise<string> =>
    new Promise((resolve, reject) => {
      get(`${app}/metrics`, { agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve(body))
      }).on('error', reject)
    })
  const phases: Array<[string, string, string]> = []
  let before = await scrape()
  const phase = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
    const result = await run()
    const after = await scrape()
    phases.push([label, before, after])
    before = after
    return result
  }
  const naive = await phase('naive', () => stampede('naive check-then-act cache', `${app}/naive/products/cold-1`, upstream, n))
  const fixed = await phase('coalesce, cold', () => stampede('coalesce({ ttl: 5_000 })', `${app}/products/cold-1`, upstream, n))
  const warm = await phase('coalesce, warm', () => stampede('coalesce, warm (cache hits)', `${app}/products/cold-1`, upstream, n))
  const title = `express-stampede — ${n} concurrent requests for one cold key, upstream latency 100 ms`
  printStampedeTable(title, [naive, fixed, warm])
  recordRun('express-stampede', title, [naive, fixed, warm])
  const delta = (from: string, to: string, name: string, labels: Record<string, string>): number => sampleOf(to, name, labels) - sampleOf(from, name, labels)
  const products = { cache: 'products' }
  console.log('\nFrom GET /metrics (prom-client, fed by the yieldpoint:cache channel), per phase:')
  console.log('| phase          | upstream calls | cache miss | coalesced | hit  | loads |')
  console.log('|----------------|----------------|------------|-----------|------|-------|')
  for (const [label, from, to] of phases) {
    const upstreamCalls = delta(from, to, 'app_upstream_calls_total', { route: 'naive' }) + delta(from, to, 'app_upstream_calls_total', { route: 'coalesced' })
    const cells = [
      upstreamCalls,
      delta(from, to, 'yieldpoint_cache_lookups_total', { ...products, result: 'miss' }),
      delta(from, to, 'yieldpoint_cache_lookups_total', { ...products, result: 'coalesced' }),
      delta(from, to, 'yieldpoint_cache_lookups_total', { ...products, result: 'hit' }),
      delta(from, to, 'yieldpoint_cache_loads_total', { ...products, outcome: 'success' }),
    ]
    console.log(`| ${label.padEnd(14)} | ${cells.map((c, i) => String(c).padStart([14, 10, 9, 4, 5][i]!)).join(' | ')} |`)
  }
  console.log(`\nThe naive route called the upstream ${naive.upstreamCalls}× for one key; coalesce called it ${fixed.upstreamCalls}×.`)
  if (fixed.upstreamCalls !== 1 || fixed.ok !== n) process.exitCode = 1
} finally {
  child.kill()
}
