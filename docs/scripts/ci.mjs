#!/usr/bin/env node
// The docs' CI step in one command: make sure Debian's Chromium is there (installs it with apt
// when running as root, as scripts/run.mjs does for redis-server), build the site (every check
// of scripts/build.mjs), then check it in the browser. Packages must be built first.
//   node docs/scripts/ci.mjs
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const docs = join(dirname(fileURLToPath(import.meta.url)), '..')
const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium'

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: docs, stdio: 'inherit', ...opts })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

if (!existsSync(chromium)) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root || spawnSync('apt-get', ['--version']).status !== 0) {
    console.error(
      `✗ docs: no Chromium at ${chromium} and cannot install it here (needs root and ` +
        `apt-get): \`sudo apt-get install -y chromium\`, or set CHROMIUM=/path/to/chromium`,
    )
    process.exit(1)
  }
  console.log('• installing chromium (Debian package)')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  run('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
}
run(process.execPath, ['scripts/build.mjs'])
run(process.execPath, ['scripts/browser-check.mjs'])
