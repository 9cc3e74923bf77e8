#!/usr/bin/env node
// Consumer smoke tests: the packed tarballs (scripts/release-dry-run.mjs), installed into
// throwaway projects outside the workspace the way users install them, each running a real
// snippet that asserts a guarantee (one handler run, one load, no lost update):
//   esm-js        ESM JavaScript        — core, express on Express 4, redis on ioredis
//   cjs-js        CommonJS JavaScript   — core, express on Express 5, redis on ioredis and node-redis
//   ts-nodenext   TypeScript nodenext   — nestjs on NestJS 12 (tsc, decorator metadata), rxjs
//   ts-nodenext   …again on NestJS 11
//   ts-bundler    TypeScript bundler    — core, rxjs, express on Express 5 (tsc --noEmit, then esbuild via tsx)
// A real redis-server is started on a free port for the Redis snippets.
//   node scripts/smoke.mjs [--tarballs DIR]     (default: runs the release dry run into a temp dir)
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const fixtures = join(repo, 'scripts', 'smoke')
const work = mkdtempSync(join(tmpdir(), 'yp-smoke-'))
const started = performance.now()
const at = process.argv.indexOf('--tarballs')
let tarballs = at >= 0 ? resolve(process.argv[at + 1]) : undefined

// Framework versions: the ones the workspace tests against (pnpm's store has them).
const V = {
  express4: '4.22.3',
  express5: '5.3.0',
  typesExpress: '5.0.6',
  ioredis: '5.9.2',
  rxjs: '7.8.2',
  reflect: '0.2.2',
  nodeRedis: '6.3.1',
  nest12: '12.5.1',
  nest11: '11.2.10',
  typescript: '5.9.3',
  typesNode: '20.19.43',
  tsx: '4.23.15',
}

function sh(cmd, args, cwd, env = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env, NO_COLOR: '1' } })
  if (r.error) throw r.error
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() }
}

if (!tarballs) {
  tarballs = join(work, 'tarballs')
  const r = sh(process.execPath, [join(repo, 'scripts', 'release-dry-run.mjs'), '--keep', tarballs], repo)
  if (!r.ok) {
    console.error(r.out)
    process.exit(1)
  }
}
const tgz = Object.fromEntries(
  readdirSync(tarballs)
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => [/^yieldpoint-([a-z]+)-/.exec(f)[1], `file:${join(tarballs, f)}`]),
)
const yp = (...names) => Object.fromEntries(names.map((n) => [`@yieldpoint/${n}`, tgz[n]]))
// the packages depend on each other by version (@yieldpoint/core@^x): point every one at its tarball
const overrides = Object.fromEntries(Object.entries(tgz).map(([n, f]) => [`@yieldpoint/${n}`, f]))

// node-redis joins the CJS project once the packed @yieldpoint/redis declares it (a peer)
const redisPeers = JSON.parse(spawnSync('tar', ['-xOzf', tgz.redis.slice(5), 'package/package.json'], { encoding: 'utf8' }).stdout).peerDependencies ?? {}
const nodeRedis = 'redis' in redisPeers
const nest = (v) => ({ '@nestjs/common': v, '@nestjs/core': v, 'reflect-metadata': V.reflect, rxjs: V.rxjs })
const projects = [
  { name: 'esm-js', type: 'module', deps: { ...yp('core', 'express', 'redis'), express: V.express4, ioredis: V.ioredis }, run: [['node', 'main.mjs']] },
  {
    name: 'cjs-js',
    label: `cjs-js${nodeRedis ? ' (+ node-redis)' : ''}`,
    type: 'commonjs',
    deps: { ...yp('core', 'express', 'redis'), express: V.express5, ioredis: V.ioredis, ...(nodeRedis ? { redis: V.nodeRedis } : {}) },
    run: [['node', 'main.cjs']],
  },
  ...[
    ['12', V.nest12],
    ['11', V.nest11],
  ].map(([major, v]) => ({
    name: `ts-nodenext`,
    label: `ts-nodenext (Nest ${major})`,
    type: 'commonjs',
    deps: { ...yp('core', 'nestjs', 'rxjs'), ...nest(v), typescript: V.typescript, '@types/node': V.typesNode },
    run: [
      ['npx', 'tsc', '-p', '.'],
      ['node', 'dist/main.js'],
    ],
  })),
  {
    name: 'ts-bundler',
    type: 'module',
    deps: {
      ...yp('core', 'express', 'rxjs'),
      express: V.express5,
      '@types/express': V.typesExpress,
      rxjs: V.rxjs,
      typescript: V.typescript,
      '@types/node': V.typesNode,
      tsx: V.tsx,
    },
    run: [
      ['npx', 'tsc', '-p', '.'],
      ['npx', 'tsx', 'main.ts'],
    ],
  },
]

async function freePort() {
  const srv = createServer()
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address()
  await new Promise((r) => srv.close(r))
  return port
}

const port = await freePort()
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
redis.on('error', () => {})
const env = { REDIS_URL: `redis://127.0.0.1:${port}`, ...(nodeRedis ? { SMOKE_NODE_REDIS: '1' } : {}) }
let failed = 0
try {
  for (const p of projects) {
    const t = performance.now()
    const dir = join(work, `${p.name}-${projects.indexOf(p)}`)
    cpSync(join(fixtures, p.name), dir, { recursive: true })
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: `smoke-${p.name}`, private: true, type: p.type, dependencies: p.deps, pnpm: { overrides } }, null, 2),
    )
    const steps = [
      ['pnpm', 'install', '--prefer-offline', '--reporter=silent', '--config.auto-install-peers=false', '--config.strict-peer-dependencies=false'],
      ...p.run,
    ]
    let error
    for (const [cmd, ...args] of steps) {
      const r = sh(cmd, args, dir, env)
      if (!r.ok) {
        error = `${[cmd, ...args].join(' ')}\n${r.out}`
        break
      }
    }
    const secs = ((performance.now() - t) / 1000).toFixed(1)
    if (error) {
      failed++
      console.log(`✗ smoke: ${p.label ?? p.name} (${secs} s)\n${error.replace(/^/gm, '    ')}`)
    } else console.log(`✓ smoke: ${p.label ?? p.name} (${secs} s)`)
  }
} finally {
  redis.kill()
  rmSync(work, { recursive: true, force: true })
}
console.log(`${projects.length - failed} passed, ${failed} failed — consumer smoke tests (${((performance.now() - started) / 1000).toFixed(1)} s)`)
process.exit(failed ? 1 : 0)
