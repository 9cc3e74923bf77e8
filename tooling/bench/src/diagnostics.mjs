// What the diagnostics channels cost when nobody listens (issue 14's target: ≤ 5% on every
// primitive and cache scenario). Paired A/B in ONE process: `@yieldpoint/core` as built, against
// the same build with every diagnostics check compiled out (`meta.watched(probe)` and
// `probe.active` replaced by `false`), in rotated rounds; the ratio is per round. A third column
// shows the price once someone does subscribe (not a target: watching costs something).
//
// `pnpm bench -- --only=diagnostics [--quick]`, or `node --expose-gc src/diagnostics.mjs [--quick]`.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { fmtRatio, median, table } from './stats.mjs'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 5 : 15
const WARMUP = quick ? 1 : 3
const SAMPLE_MS = quick ? 20 : 60

/** Loads core as built, and a copy of the same file with the diagnostics checks compiled out. */
async function builds() {
  const require = createRequire(import.meta.url)
  const entry = require.resolve('@yieldpoint/core').replace(/index\.cjs$/, 'index.js')
  const source = readFileSync(entry, 'utf8')
  let replaced = 0
  const stripped = source
    .replace(/this\.meta\.watched\(probes\d*\.\w+\)/g, () => (replaced++, 'false'))
    .replace(/probes\d*\.\w+\.on\b/g, () => (replaced++, 'false'))
  if (replaced < 10 || /\.watched\(probes|probes\d*\.\w+\.on\b/.test(stripped)) {
    throw new Error(`diagnostics bench: could not compile the checks out of ${entry} (${replaced} replaced); update the patterns.`)
  }
  // Under core's node_modules/.cache (never published, resolves lru-cache as core does).
  const dir = join(dirname(entry), '..', 'node_modules', '.cache', 'yieldpoint-bench')
  mkdirSync(dir, { recursive: true })
  const copy = join(dir, 'core-without-diagnostics.js')
  writeFileSync(copy, stripped)
  const load = async (url, impl) => (await import(`./diagnostics-scenarios.mjs?impl=${impl}&core=${encodeURIComponent(url)}`)).scenarios
  const hooked = pathToFileURL(entry).href
  return {
    core: await import(hooked),
    bare: await load(pathToFileURL(copy).href, 'bare'),
    hooked: await load(hooked, 'hooked'),
    watchedBare: await load(pathToFileURL(copy).href, 'watched-bare'),
    watched: await load(hooked, 'watched'),
    replaced,
  }
}

/**
 * Ops per CPU-second of this process: on a machine shared with other work, CPU time moves far
 * less than wall time when the scheduler takes the core away (the samples are synchronous or
 * microtask-only, so no time is spent waiting).
 */
async function rate(sample, n) {
  const c0 = process.cpuUsage()
  await sample(n)
  const c = process.cpuUsage(c0)
  return n / ((c.user + c.system) / 1e6)
}

async function calibrate(sample) {
  let n = 256
  for (;;) {
    const t0 = performance.now()
    await sample(n)
    if (performance.now() - t0 >= SAMPLE_MS || n >= 1 << 22) return n
    n *= 2
  }
}

/** Paired rounds of `a` against `b` (rotated order); returns the per-round ratios a/b. */
async function paired(a, b) {
  const gc = globalThis.gc ?? (() => {})
  const n = await calibrate(b)
  const ratios = []
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const rates = {}
    for (const [k, sample] of round % 2
      ? [
          ['b', b],
          ['a', a],
        ]
      : [
          ['a', a],
          ['b', b],
        ]) {
      gc()
      rates[k] = await rate(sample, n)
    }
    if (round >= WARMUP) ratios.push(rates.a / rates.b)
  }
  return ratios
}

/** Runs every scenario; prints the table and returns whether every row met the target. */
export async function diagnosticsBench() {
  const { core, bare, hooked, watchedBare, watched, replaced } = await builds()
  const rows = {}
  let met = true
  for (const title of Object.keys(bare)) {
    const ratios = await paired(hooked[title](), bare[title]())
    const ok = median(ratios) >= 0.95
    met &&= ok
    rows[title] = [title, fmtRatio(ratios), ok ? 'yes' : 'NO']
  }
  // Then once with a no-op subscriber on every channel (subscribed once, as an app would).
  const listener = () => {}
  for (const name of core.channelNames) subscribe(name, listener)
  try {
    for (const title of Object.keys(bare)) rows[title].push(fmtRatio(await paired(watched[title](), watchedBare[title]())))
  } finally {
    for (const name of core.channelNames) unsubscribe(name, listener)
  }
  console.log(`\n### Diagnostics channels: cost when nobody subscribes (Node ${process.versions.node})\n`)
  console.log(
    `Ops/s of core as built ÷ the same build with its ${replaced} diagnostics checks compiled out, paired per round (median ± MAD of ` +
      `${ROUNDS} rounds). Target ≥ 0.95×. Last column: the price once a no-op subscriber listens on every channel (not a target).\n`,
  )
  table(['scenario', 'unsubscribed vs no checks', '≥ 0.95×', 'subscribed vs no checks'], Object.values(rows))
  return met
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const met = await diagnosticsBench()
  process.exitCode = met ? 0 : 1
}
