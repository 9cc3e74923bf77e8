import { Barrier, Lock, Semaphore } from '@yieldpoint/core'
import { counter, peakConcurrency, phases, producerConsumer } from './races'

const TASKS = 10_000

async function timed<T>(fn: () => Promise<T>): Promise<[T, string]> {
  const start = performance.now()
  const value = await fn()
  return [value, `${(performance.now() - start).toFixed(0)} ms`]
}

const rows: [string, string, string, string][] = []

const [lost, t1] = await timed(() => counter(TASKS))
const [kept, t2] = await timed(() => counter(TASKS, new Lock()))
rows.push(['counter, 10,000 × (read, await, compute, await, write)', 'unprotected', String(lost), t1])
rows.push(['', 'Lock', String(kept), t2])

const [peakFree, t3] = await timed(() => peakConcurrency(TASKS))
const [peakSem, t4] = await timed(() => peakConcurrency(TASKS, new Semaphore(3)))
rows.push(['peak calls in flight to a partner API (limit 3)', 'unprotected', String(peakFree), t3])
rows.push(['', 'Semaphore(3)', String(peakSem), t4])

const [pc, t5] = await timed(() => producerConsumer(1_000, 3, 10))
rows.push(['producer/consumer, 1,000 items, buffer of 10', 'Condition', `${pc.consumed} consumed, max buffer ${pc.maxBuffer}`, t5])

const [brokenPhases, t6] = await timed(() => phases(8, 5))
const [okPhases, t7] = await timed(() => phases(8, 5, new Barrier(8)))
rows.push(['8 workers × 5 phases: started a phase too early', 'unprotected', String(brokenPhases), t6])
rows.push(['', 'Barrier(8)', String(okPhases), t7])

const header: [string, string, string, string] = ['race', 'with', 'result', 'time']
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
console.log('\nyieldpoint — every await is a yield point\n')
console.log(line(header))
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
for (const r of rows) console.log(line(r))
console.log(`\nExpected: ${TASKS} under Lock (got ${kept}), at most 3 under Semaphore(3) (got ${peakSem}), 0 early phases under Barrier (got ${okPhases}).`)
if (kept !== TASKS || peakSem > 3 || okPhases !== 0 || pc.consumed !== 1_000 || pc.maxBuffer > 10) process.exitCode = 1
