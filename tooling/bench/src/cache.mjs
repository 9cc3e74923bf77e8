// The cache half of `pnpm bench`: cold bursts (one load per burst; cost per coalesced caller),
// the hit path, a 90%-hit mixed workload and memory after a million distinct keys.
import { Lock } from '@yieldpoint/core'
import { cacheAdapters } from './cache-adapters.mjs'
import { fmtOps, mad, median, table } from './stats.mjs'

export async function cacheBench({ quick, verdicts }) {
  const gc = globalThis.gc
  const names = Object.keys(cacheAdapters)
  const mods = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await import(`./cache-scenarios.mjs?impl=${encodeURIComponent(n)}`)])))
  const rounds = quick ? 3 : 7
  const warmup = quick ? 1 : 2
  const hitOps = quick ? 50_000 : 200_000
  const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length])

  // Reference: one contended Lock hand-off, measured in this run (1000 waiters).
  const handOff = []
  const batch = async () => {
    const lock = new Lock()
    await Promise.all(
      Array.from({ length: 1000 }, async () => {
        const g = await lock.acquire()
        await null
        g.release()
      }),
    )
  }
  for (let i = 0; i < 50; i++) await batch() // JIT warm-up
  for (let r = 0; r < rounds; r++) {
    gc({ type: 'minor' })
    const start = performance.now()
    for (let i = 0; i < 20; i++) await batch()
    handOff.push(((performance.now() - start) * 1e6) / 20_000)
  }

  const res = Object.fromEntries(names.map((n) => [n, { burstNs: [], calls: new Set(), identical: true, hit: [], mixed: [], heap: undefined }]))
  for (let r = 0; r < warmup + rounds; r++) {
    gc()
    for (const n of rotate(names, r)) {
      const a = cacheAdapters[n]
      const m = mods[n]
      gc({ type: 'minor' })
      const burst = await m.coldBurst(a, a.create(), `cold:${r}`, 1000)
      gc({ type: 'minor' })
      const hitMs = await m.hits(a, a.create(), hitOps)
      gc({ type: 'minor' })
      const mixMs = await m.mixed(a, a.create(), hitOps, r)
      if (r < warmup) continue
      const x = res[n]
      x.burstNs.push((burst.ms * 1e6) / 1000)
      x.calls.add(burst.calls)
      x.identical &&= burst.identical
      x.hit.push(hitOps / (hitMs / 1000))
      x.mixed.push(hitOps / (mixMs / 1000))
    }
  }
  const readHeap = () => {
    gc()
    gc()
    return process.memoryUsage().heapUsed
  }
  for (const n of names) {
    const a = cacheAdapters[n]
    let cache = a.create()
    const before = readHeap()
    await mods[n].distinct(a, cache, quick ? 100_000 : 1_000_000)
    const after = readHeap()
    cache = null
    res[n].heap = after - before
  }

  const hitOf = (n) => median(res[n].hit)
  console.log(`\n### D — cache: 1,000 concurrent cold callers, hit path, 90% hits, a million keys\n`)
  console.log(`reference: a contended Lock hand-off costs ${median(handOff).toFixed(0)} ns (1,000 waiters, this run)\n`)
  table(
    ['cache', 'origin calls / burst', 'same object', 'ns per coalesced caller', 'hit ops/s', 'vs lru-cache hit', '90%-hit ops/s', 'heap after 1M keys'],
    names.map((n) => {
      const x = res[n]
      return [
        n,
        [...x.calls].join(', '),
        x.identical ? 'yes' : 'no',
        `${median(x.burstNs).toFixed(0)} ±${mad(x.burstNs).toFixed(0)}`,
        fmtOps(hitOf(n)),
        `${(hitOf(n) / hitOf('lru-cache fetch')).toFixed(2)}×`,
        fmtOps(median(x.mixed)),
        `${(x.heap / 1e6).toFixed(1)} MB`,
      ]
    }),
  )
  const yp = res.yieldpoint
  const ypCalls = [...yp.calls]
  verdicts.push([
    'cache cold burst',
    'exactly one load per burst',
    `${ypCalls.join(', ')} per burst`,
    ypCalls.length === 1 && ypCalls[0] === 1 ? 'PASS' : 'FAIL',
  ])
  // Issue 12's cache targets, on per-round paired ratios (samples of one round ran back to back).
  const pair = (a, b, field) => median(res[a][field].map((x, i) => x / res[b][field][i]))
  const hitRatio = pair('yieldpoint', 'lru-cache fetch', 'hit')
  verdicts.push(['cache hit path', '≥ 1.0× lru-cache fetch', `${hitRatio.toFixed(2)}×`, hitRatio >= 1 ? 'PASS' : 'FAIL'])
  const mixedPeers = names.filter((n) => !n.startsWith('yieldpoint'))
  const mixedBehind = mixedPeers.map((n) => [n, pair('yieldpoint', n, 'mixed')]).filter(([, r]) => !(r > 1))
  verdicts.push([
    'cache 90%-hit mixed workload',
    'ahead of every peer',
    mixedBehind.length
      ? `behind ${mixedBehind.map(([n, r]) => `${n} ${r.toFixed(2)}×`).join(', ')}`
      : `yes (closest ${Math.min(...mixedPeers.map((n) => pair('yieldpoint', n, 'mixed'))).toFixed(2)}×)`,
    mixedBehind.length ? 'FAIL' : 'PASS',
  ])
  const perCaller = median(yp.burstNs)
  verdicts.push([
    'cache coalesced caller (default options)',
    '≤ one contended Lock hand-off',
    `${perCaller.toFixed(0)} ns vs ${median(handOff).toFixed(0)} ns`,
    perCaller <= median(handOff) ? 'PASS' : 'FAIL',
  ])
  const forced = median(res['yieldpoint (detectReentrancy: true)'].burstNs)
  const forcedCost = forced / perCaller
  verdicts.push([
    'cache coalesced caller, detectReentrancy: true',
    'report: the default is on only where this is ≤ 1.25×',
    `${forced.toFixed(0)} ns = ${forcedCost.toFixed(2)}× the default`,
    'REPORT',
  ])
  const heapRatio = yp.heap / res['lru-cache fetch'].heap
  verdicts.push([
    `cache heap after ${quick ? '100k' : '1M'} distinct keys`,
    '≤ 1.2× lru-cache',
    `${(yp.heap / 1e6).toFixed(1)} MB vs ${(res['lru-cache fetch'].heap / 1e6).toFixed(1)} MB = ${heapRatio.toFixed(2)}×`,
    heapRatio <= 1.2 ? 'PASS' : 'FAIL',
  ])
}
