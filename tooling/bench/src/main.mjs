// `pnpm bench [--quick] [--only=primitives|cache|http|redis|limiter|pool]` — yieldpoint against its peers, measured in
// ONE process: rounds with a rotated order, paired per-round ratios against the minimal FIFO
// semaphore, pinned GC flags (see package.json). Never part of the tests.
import { adapters } from './adapters.mjs'
import { perNode } from './per-node.mjs'
import { writeFileSync } from 'node:fs'
import { fmtOps, fmtRatio, mad, median, table } from './stats.mjs'

if (perNode()) process.exit(0)
const quick = process.argv.includes('--quick')
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7)
const gc = globalThis.gc
if (!gc) {
  console.error('run through `pnpm bench` (needs --expose-gc)')
  process.exit(2)
}
const minorGc = () => gc({ type: 'minor' })
const fullGc = () => gc()

const SAMPLE_MS = quick ? 30 : 150
const DEADLINE_MS = quick ? 250 : 2500
const pick = process.argv
  .find((a) => a.startsWith('--impls='))
  ?.slice(8)
  .split(',')
const names = Object.keys(adapters).filter((n) => !pick || pick.includes(n) || adapters[n].floor)
const mods = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await import(`./scenarios.mjs?impl=${n}`)])))
const floor = await import('./scenarios.mjs?impl=await-null')

/** Doubles `size` until a sample takes SAMPLE_MS (this also warms the JIT). */
async function calibrate(sample, cap) {
  let size = 64
  for (;;) {
    const ms = await sample(size)
    if (ms >= SAMPLE_MS || size >= cap) return size
    size = Math.min(cap, size * 2)
  }
}

function rotate(list, by) {
  return list.map((_, i) => list[(i + by) % list.length])
}

/**
 * Runs one scenario: `sampleFor(name)` returns an async function measuring one sample and
 * resolving { ops, ms, abandoned?, anomaly? }.
 */
async function scenario(title, impls, sampleFor, { rounds, warmup, bigHeap = false }) {
  // byRound[i] = ops/s in measured round i (undefined when not run), so any two rows can be
  // compared pairwise, round by round.
  const results = Object.fromEntries(impls.map((n) => [n, { rates: [], byRound: [], vsAwait: [], abandoned: false, anomalies: new Set(), size: '' }]))
  const samplers = {}
  for (const n of impls) samplers[n] = await sampleFor(n, results[n])
  const awaitSampler = await sampleFor('await null', { anomalies: new Set() })
  for (let round = 0; round < warmup + rounds; round++) {
    fullGc()
    const perRound = {}
    for (const n of rotate([...impls, 'await null'], round)) {
      const r = n === 'await null' ? undefined : results[n]
      if (r?.abandoned) continue
      if (bigHeap) fullGc()
      else minorGc()
      const s = await (n === 'await null' ? awaitSampler : samplers[n])()
      if (s === undefined) continue
      perRound[n] = s.ops / (s.ms / 1000)
      if (r && s.anomaly) r.anomalies.add(s.anomaly)
      if (r && s.abandoned) {
        r.abandoned = true
        r.rates = [perRound[n]]
        await idle()
      }
    }
    if (round < warmup) continue
    for (const n of impls) {
      const r = results[n]
      if (perRound[n] === undefined || (r.abandoned && r.rates.length)) continue
      r.rates.push(perRound[n])
      r.byRound[round - warmup] = perRound[n]
      if (perRound['await null']) r.vsAwait.push(perRound[n] / perRound['await null'])
    }
  }
  return { title, results }
}

/** Per-round ratios of row `a` to row `b` (only rounds where both ran). */
function paired(results, a, b) {
  const x = results[a]?.byRound ?? []
  const y = results[b]?.byRound ?? []
  const out = []
  for (let i = 0; i < x.length; i++) if (x[i] !== undefined && y[i] !== undefined) out.push(x[i] / y[i])
  return out
}

async function idle() {
  // A library abandoned mid-sample may still be scheduling work: wait for the loop to calm down.
  for (let i = 0; i < 50; i++) {
    const before = performance.eventLoopUtilization()
    await new Promise((r) => setTimeout(r, 20))
    if (performance.eventLoopUtilization(before).utilization < 0.05) return
  }
}

const lockImpls = names
const semImpls = names.filter((n) => !adapters[n].mutexOnly)

function uncontendedSampler(n, r) {
  if (n === 'await null') {
    return (async () => {
      const ops = await calibrate((k) => floor.awaitNull(k), 1e6)
      return async () => ({ ops, ms: await floor.awaitNull(ops) })
    })()
  }
  return (async () => {
    const a = adapters[n]
    const lock = a.create(1)
    const ops = await calibrate((k) => mods[n].uncontended(a, lock, k), 1e6)
    r.size = `${fmtOps(ops)} ops`
    return async () => ({ ops, ms: await mods[n].uncontended(a, lock, ops) })
  })()
}

function contendedSampler(waiters, permits) {
  return (n, r) => {
    if (n === 'await null') {
      return (async () => {
        const ops = await calibrate((k) => floor.awaitNull(k), 1e6)
        return async () => ({ ops, ms: await floor.awaitNull(ops) })
      })()
    }
    const a = adapters[n]
    const big = waiters >= 100_000
    const batch = async (batches) => {
      let ms = 0
      let ops = 0
      let anomaly
      for (let b = 0; b < batches; b++) {
        const s = await mods[n].contended(a, a.create(permits), waiters, permits, DEADLINE_MS)
        ms += s.elapsed
        ops += s.done
        if (s.maxInside > permits) anomaly = `mutual exclusion broken (${s.maxInside} inside)`
        else if (s.fifoBreaks) anomaly = `FIFO broken ${s.fifoBreaks}×`
        else if (permits > 1 && !s.abandoned && s.maxInside < permits) anomaly = `only ${s.maxInside}/${permits} permits used`
        if (s.abandoned) return { ops, ms, abandoned: true, anomaly }
      }
      return { ops, ms, anomaly }
    }
    return (async () => {
      if (big) {
        r.size = `${fmtOps(waiters)} tasks`
        return () => batch(1)
      }
      const cap = Math.ceil(200_000 / waiters)
      let batches = 1
      for (;;) {
        const s = await batch(batches)
        if (s.ms >= SAMPLE_MS || batches >= cap || s.abandoned) break
        batches = Math.min(cap, batches * 2)
      }
      r.size = `${batches} × ${fmtOps(waiters)}`
      return () => batch(batches)
    })()
  }
}

function counterSampler(tasks) {
  return (n, r) => {
    if (n === 'await null') return uncontendedSampler(n, r)
    const a = adapters[n]
    const batch = async (batches) => {
      let ms = 0
      let anomaly
      for (let b = 0; b < batches; b++) {
        const s = await mods[n].counterRace(a, a.create(1), tasks)
        ms += s.elapsed
        if (s.count !== tasks) anomaly = `lost updates: count ${s.count} of ${tasks}`
      }
      return { ops: batches * tasks, ms, anomaly }
    }
    return (async () => {
      const cap = quick ? 5 : 30
      let batches = 1
      for (;;) {
        const s = await batch(batches)
        if (s.ms >= SAMPLE_MS || batches >= cap) break
        batches = Math.min(cap, batches * 2)
      }
      r.size = `${batches} × ${fmtOps(tasks)}`
      return () => batch(batches)
    })()
  }
}

async function heapPerWaiter(n, waiters, perLock) {
  const a = adapters[n]
  const read = () => {
    let prev = -1
    let cur = 0
    for (let i = 0; i < 8; i++) {
      fullGc()
      cur = process.memoryUsage().heapUsed
      if (Math.abs(cur - prev) < 4096) break
      prev = cur
    }
    return cur
  }
  const lockCount = Math.ceil(waiters / perLock)
  let locks = Array.from({ length: lockCount }, () => a.create(1))
  await mods[n].holdAll(a, locks)
  const base = read()
  let parked = mods[n].park(a, locks, waiters)
  const withWaiters = read()
  const perWaiter = (withWaiters - base) / parked.length
  parked = locks = null
  await idle()
  return perWaiter
}

function report({ title, results }, extra = {}) {
  console.log(`\n### ${title}\n`)
  const rows = Object.entries(results).map(([n, r]) => {
    const vsMin = paired(results, n, 'baseline-min')
    const vsGuard = paired(results, n, 'guard-min')
    return [
      n + (r.abandoned ? ' †' : ''),
      fmtOps(median(r.rates)),
      `±${((mad(r.rates) / median(r.rates)) * 100).toFixed(0)}%`,
      vsMin.length ? fmtRatio(vsMin) : '—',
      vsGuard.length ? fmtRatio(vsGuard) : '—',
      r.vsAwait.length ? `${median(r.vsAwait).toFixed(2)}×` : '—',
      r.size,
      ...(extra.heap ? [extra.heap[n] === undefined ? '—' : `${extra.heap[n].toFixed(0)} B`] : []),
    ]
  })
  table(['impl', 'ops/s', 'spread', 'vs baseline-min', 'vs guard-min', 'vs await', 'sample', ...(extra.heap ? ['B/waiter'] : [])], rows)
  const anomalies = Object.entries(results).flatMap(([n, r]) => [...r.anomalies].map((a) => `${n}: ${a}`))
  if (anomalies.length) console.log(`\nAnomalies: ${anomalies.join('; ')}`)
}

const verdicts = []
/** Issue 12's targets for a primitive scenario: ≥ 0.95× guard-min, and ahead of every peer —
 * both judged on per-round paired ratios (an abandoned peer is behind by definition). */
function judge({ title, results }) {
  const yp = results.yieldpoint
  if (!yp) return
  const short = title.split(' — ')[0]
  const pairs = paired(results, 'yieldpoint', 'guard-min')
  const vsGuard = median(pairs)
  // No paired round (both abandoned at the deadline, e.g. a --quick run on a loaded machine): no verdict.
  if (!pairs.length) {
    verdicts.push([
      `${short} ${title.split(' — ')[1] ?? ''}`.trim(),
      '≥ 0.95× guard-min and ahead of every peer',
      'no paired sample (abandoned at the deadline)',
      'NO DATA',
    ])
    return
  }
  verdicts.push([`${short} ${title.split(' — ')[1] ?? ''}`.trim(), '≥ 0.95× guard-min', `${vsGuard.toFixed(2)}×`, vsGuard >= 0.95 ? 'PASS' : 'FAIL'])
  const peers = Object.keys(results).filter((n) => n !== 'yieldpoint' && !adapters[n]?.floor)
  const behind = []
  const margins = []
  for (const p of peers) {
    if (results[p].abandoned && !yp.abandoned) continue
    const ratio = median(paired(results, 'yieldpoint', p))
    if (!(ratio > 1)) behind.push(`${p} ${ratio.toFixed(2)}×`)
    else margins.push(ratio)
  }
  verdicts.push([
    `${short} ${title.split(' — ')[1] ?? ''}`.trim(),
    'ahead of every peer',
    behind.length ? `behind ${behind.join(', ')}` : `yes (closest ${Math.min(...margins).toFixed(2)}×)`,
    behind.length ? 'FAIL' : 'PASS',
  ])
}

console.log(`# yieldpoint bench — node ${process.version}, ${quick ? 'quick' : 'full'} run, ${new Date().toISOString()}`)
console.log(
  'ops/s: median over rounds; spread: MAD; vs baseline-min / vs guard-min: median of ' +
    'per-round ratios to each floor (higher is faster); † abandoned at the deadline',
)

if (!only || only === 'primitives' || only === 'A') {
  const R = quick ? { rounds: 3, warmup: 1 } : { rounds: 7, warmup: 2 }
  const RB = quick ? { rounds: 2, warmup: 1, bigHeap: true } : { rounds: 5, warmup: 1, bigHeap: true }
  const a = await scenario('A — uncontended Lock acquire + release', lockImpls, uncontendedSampler, R)
  report(a)
  judge(a)
  if (only === 'A') finish()
  for (const n of [10, 1000]) {
    const b = await scenario(`B — contended hand-off, ${n} waiters`, lockImpls, contendedSampler(n, 1), R)
    report(b)
    judge(b)
  }
  const b100k = await scenario('B — contended hand-off, 100,000 waiters', lockImpls, contendedSampler(100_000, 1), RB)
  const heap = {}
  for (const n of lockImpls) heap[n] = await heapPerWaiter(n, quick ? 5_000 : 20_000, 1000)
  report(b100k, { heap })
  judge(b100k)
  const ratio = heap.yieldpoint / heap['guard-min']
  verdicts.push([
    'heap per queued waiter',
    '≤ 1.1× guard-min',
    `${heap.yieldpoint.toFixed(0)} B vs ${heap['guard-min'].toFixed(0)} B = ${ratio.toFixed(2)}×`,
    !(heap['guard-min'] > 0 && heap.yieldpoint > 0) ? 'NO DATA' : ratio <= 1.1 ? 'PASS' : 'FAIL',
  ])
  const c = await scenario('C — Semaphore(10), 100,000 tasks', semImpls, contendedSampler(100_000, 10), RB)
  report(c)
  judge(c)
  const d = await scenario('D — counter race, 10,000 tasks', lockImpls, counterSampler(10_000), R)
  const lost = await floor.counterRace(undefined, undefined, 10_000)
  report(d)
  console.log(`\n(without a lock the same 10,000 tasks end with count = ${lost.count})`)
  judge(d)
}

if (!only || only === 'cache') {
  try {
    const { cacheBench } = await import('./cache.mjs')
    await cacheBench({ quick, verdicts })
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw e
  }
}

if (!only || only === 'http') {
  const { httpBench } = await import('./http.mjs')
  await httpBench({ quick, verdicts })
}

if (!only || only === 'diagnostics') {
  // Issue 14: what the diagnostics channels cost when nobody subscribes (own table, own target).
  const { diagnosticsBench } = await import('./diagnostics.mjs')
  await diagnosticsBench()
}

if (!only || only === 'redis') {
  const { redisBench } = await import('./redis.mjs')
  await redisBench({ quick, verdicts })
}

if (!only || only === 'limiter' || only === 'pool') {
  const { limitsBench } = await import('./limits.mjs')
  await limitsBench({ quick, verdicts, only })
}

finish()

function finish() {
  console.log('\n### Targets\n')
  table(['scenario', 'target', 'measured', 'verdict'], verdicts)
  // Under `--node=…` the parent collects every runtime's verdicts (see per-node.mjs).
  if (process.env.YP_BENCH_VERDICTS) writeFileSync(process.env.YP_BENCH_VERDICTS, JSON.stringify({ version: process.version, verdicts }))
  process.exit(0)
}
