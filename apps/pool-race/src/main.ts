import { startPartner } from './partner'
import { withoutPool, withPool } from './race'

const LIMIT = 10
const REQUESTS = 500
const partner = await startPartner(LIMIT, 20)

const t0 = performance.now()
const naive = await withoutPool(partner.port, REQUESTS)
const t1 = performance.now()
const naiveCounts = { ...partner.counts }
await partner.quiet() // the partner still counts sockets we closed until it sees them close
partner.reset()
const pooled = await withPool(partner.port, REQUESTS, LIMIT)
const t2 = performance.now()
const pooledCounts = { ...partner.counts }
await partner.close()

const rows = [
  [
    'one connection per request',
    String(naive.ok),
    String(naive.failed),
    String(naive.opened),
    String(naiveCounts.peak),
    String(naiveCounts.refused),
    `${(t1 - t0).toFixed(0)} ms`,
  ],
  [
    `Pool({ max: ${LIMIT} })`,
    String(pooled.ok),
    String(pooled.failed),
    String(pooled.opened),
    String(pooledCounts.peak),
    String(pooledCounts.refused),
    `${(t2 - t1).toFixed(0)} ms`,
  ],
]
const header = ['500 requests at once', 'ok', 'failed', 'connections opened', 'peak open at partner', 'refused by partner', 'time']
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
console.log(`\npool-race — a partner database that accepts ${LIMIT} connections at once\n`)
console.log(line(header))
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
for (const r of rows) console.log(line(r))
console.log(
  `\nExpected: with the pool, all ${REQUESTS} succeed over at most ${LIMIT} ` +
    `connections (got ${pooled.ok} ok over ${pooled.opened}, peak ${pooledCounts.peak}).`,
)
if (pooled.ok !== REQUESTS || pooledCounts.peak > LIMIT || pooledCounts.refused !== 0) process.exitCode = 1
