#!/usr/bin/env node
// The README's entry point: `npm run demo` / `npm test` (or `pnpm demo` / `pnpm test`).
// On a fresh machine with only Node 20 and npm it installs pnpm (into .tools/, no global
// install, no corepack — corepack cannot verify pnpm's signatures here) and the workspace,
// then runs the task. Re-running it is cheap: every step is idempotent.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const PNPM_VERSION = '10.34.9'
const task = process.argv[2]
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
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit', ...opts })
  if (r.error) throw r.error
  if (r.status !== 0) {
    console.error(`\n✗ ${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`)
    process.exit(r.status ?? 1)
  }
}

function hasPnpm() {
  const r = spawnSync('pnpm', ['--version'], { env, encoding: 'utf8' })
  return r.status === 0 && r.stdout.trim().startsWith('10.')
}

function setup() {
  if (!hasPnpm()) {
    console.log(`• installing pnpm ${PNPM_VERSION} into .tools/`)
    run('npm', ['install', '--prefix', join(root, '.tools'), '--no-audit', '--no-fund', '--loglevel=error', `pnpm@${PNPM_VERSION}`])
  }
  console.log('• installing the workspace')
  run('pnpm', ['install', '--frozen-lockfile', '--prefer-offline'])
}

function hasRedis() {
  return spawnSync('redis-server', ['--version'], { env }).status === 0
}

/**
 * @yieldpoint/redis tests and the cluster demo start their own redis-server (Debian's package)
 * on 127.0.0.1 on a free port. Install it when missing and we are allowed to (root with apt).
 */
function ensureRedis({ required }) {
  if (hasRedis()) return true
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (root && spawnSync('apt-get', ['--version'], { env }).status === 0) {
    console.log('• installing redis-server (Debian package)')
    const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' }
    run('apt-get', ['update', '-qq'], { env: aptEnv })
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'redis-server'], { env: aptEnv })
    return hasRedis()
  }
  const message = 'redis-server is not installed and cannot be installed here (needs root and apt-get): install it (e.g. `sudo apt-get install -y redis-server`).'
  if (required) {
    console.error(`✗ ${message}`)
    process.exit(1)
  }
  console.log(`• ${message} Skipping the cluster demo.`)
  return false
}

function turbo(...args) {
  run('pnpm', ['exec', 'turbo', 'run', ...args, '--output-logs=errors-only', '--log-order=grouped'])
}

function demo() {
  setup()
  turbo('build', '--filter=./packages/*')
  const apps = ['counter-race', 'express-stampede', 'rxjs-stampede', 'nestjs-stampede']
  // The main demo needs no Redis; the cluster demo runs when a redis-server can be started.
  if (ensureRedis({ required: false })) apps.push('cluster-stampede')
  for (const app of apps) {
    if (existsSync(join(root, 'apps', app))) run('pnpm', ['--filter', `./apps/${app}`, 'run', 'demo'])
  }
}

function test() {
  ensureRedis({ required: true })
  setup()
  turbo('build', '--filter=./packages/*')
  // Typecheck and package lint first (fast, and a broken export map fails loudly), then the tests.
  turbo('typecheck', 'lint')
  // Stream the test output as it comes, and add up vitest's per-package summaries into one
  // closing line.
  const counts = { passed: 0, failed: 0, skipped: 0 }
  const child = spawn('pnpm', ['exec', 'turbo', 'run', 'test', '--concurrency=1', '--log-order=grouped'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] })
  let pending = ''
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk)
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop()
    for (const line of lines) {
      // e.g. "@yieldpoint/core:test:       Tests  120 passed (120)" (colours stripped)
      const plain = line.replace(/\x1b\[[0-9;]*m/g, '')
      const m = /\bTests\s+(.*)\(\d+\)\s*$/.exec(plain)
      if (!m) continue
      for (const [, n, kind] of m[1].matchAll(/(\d+) (passed|failed|skipped)/g)) counts[kind] += Number(n)
    }
  })
  child.on('close', (code) => {
    console.log(`\n${counts.passed} passed, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ''}`)
    process.exit(code ?? 1)
  })
}

function bench() {
  setup()
  turbo('build', '--filter=./packages/*')
  run('pnpm', ['--filter', '@yieldpoint/bench', 'run', 'bench', ...process.argv.slice(3)])
}

tasks[task]()
