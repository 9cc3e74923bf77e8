#!/usr/bin/env node
// The release, rehearsed without publishing: on a scratch copy of the repository, apply the
// pending changesets (`changeset version`: versions + CHANGELOGs), pack every public package with
// pnpm (workspace:* becomes a real version), and lint each tarball with publint (--strict) and
// attw (are the types wrong? ESM and CJS, node10/node16/bundler). The working tree is untouched.
// Packages must be built first (`pnpm build`): their dist/ is copied, not rebuilt.
//   node scripts/release-dry-run.mjs [--keep DIR]   (DIR receives the tarballs, for scripts/smoke.mjs)
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const keepAt = process.argv.indexOf('--keep')
const keep = keepAt >= 0 ? process.argv[keepAt + 1] : undefined
const bin = (name) => join(repo, 'node_modules', '.bin', name)
const started = performance.now()
const failures = []

function sh(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } })
  if (r.error) throw r.error
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() }
}
function step(name, fn) {
  const t = performance.now()
  const detail = fn()
  console.log(`✓ release dry run: ${name}${detail ? ` — ${detail}` : ''} (${((performance.now() - t) / 1000).toFixed(1)} s)`)
}
function die(message) {
  console.error(`✗ release dry run: ${message}`)
  process.exit(1)
}

step('packaging fields', () => {
  const r = sh(process.execPath, [join(repo, 'scripts', 'check-packaging.mjs')], repo)
  if (!r.ok) die(r.out)
})

const scratch = mkdtempSync(join(tmpdir(), 'yp-release-'))
const packages = readdirSync(join(repo, 'packages')).filter((p) => {
  const pkg = JSON.parse(readFileSync(join(repo, 'packages', p, 'package.json'), 'utf8'))
  return !pkg.private
})
try {
  step('scratch copy of the repository', () => {
    const files = sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], repo).out.split('\0').filter(Boolean)
    for (const f of files) if (existsSync(join(repo, f))) cpSync(join(repo, f), join(scratch, f), { recursive: true })
    for (const p of packages) {
      const dist = join(repo, 'packages', p, 'dist')
      if (!existsSync(dist)) die(`packages/${p}/dist is missing: run \`pnpm build\` first`)
      cpSync(dist, join(scratch, 'packages', p, 'dist'), { recursive: true })
    }
    return `${files.length} files`
  })

  step('changeset version', () => {
    const r = sh(bin('changeset'), ['version'], scratch)
    if (!r.ok) die(`changeset version failed:\n${r.out}`)
    return packages.map((p) => `${p}@${JSON.parse(readFileSync(join(scratch, 'packages', p, 'package.json'), 'utf8')).version}`).join(', ')
  })

  step('pnpm install (offline) in the copy', () => {
    // pnpm pack resolves workspace:* from the installed (bumped) workspace packages
    const r = sh(
      'pnpm',
      [
        'install',
        '--offline',
        '--frozen-lockfile',
        '--ignore-scripts',
        '--config.confirmModulesPurge=false',
        '--filter',
        './packages/*...',
        '--filter',
        './tooling/*',
      ],
      scratch,
    )
    if (!r.ok) die(`pnpm install failed:\n${r.out}`)
  })

  const out = keep ? resolve(keep) : join(scratch, 'tarballs')
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  step('pnpm pack', () => {
    for (const p of packages) {
      const r = sh('pnpm', ['pack', '--pack-destination', out], join(scratch, 'packages', p))
      if (!r.ok) die(`pnpm pack failed in packages/${p}:\n${r.out}`)
    }
    return `${readdirSync(out).length} tarballs in ${keep ? out : 'the scratch copy'}`
  })

  for (const tgz of readdirSync(out)
    .filter((f) => f.endsWith('.tgz'))
    .sort()) {
    const file = join(out, tgz)
    const listing = sh('tar', ['-tzf', file], out).out.split('\n')
    for (const must of [
      'package/package.json',
      'package/README.md',
      'package/LICENSE',
      'package/CHANGELOG.md',
      'package/dist/index.js',
      'package/dist/index.cjs',
      'package/dist/index.d.ts',
      'package/dist/index.d.cts',
    ]) {
      if (!listing.includes(must)) failures.push(`${tgz}: ${must.slice(8)} is not in the tarball`)
    }
    const manifest = JSON.parse(sh('tar', ['-xOzf', file, 'package/package.json'], out).out)
    for (const [dep, range] of Object.entries({ ...manifest.dependencies, ...manifest.peerDependencies })) {
      if (String(range).startsWith('workspace:')) failures.push(`${tgz}: ${dep} is still "${range}"`)
    }
    if (!manifest.repository?.directory) failures.push(`${tgz}: no repository.directory (npm provenance needs repository)`)
    const publint = sh(bin('publint'), ['run', file, '--strict'], out)
    if (!publint.ok) failures.push(`${tgz}: publint\n${publint.out}`)
    const attw = sh(bin('attw'), [file, '--format', 'table-flipped', '--no-emoji'], out)
    if (!attw.ok) failures.push(`${tgz}: attw\n${attw.out}`)
    console.log(
      `${publint.ok && attw.ok ? '✓' : '✗'} release dry run: ${tgz} — publint --strict ` +
        `${publint.ok ? 'clean' : 'FAILED'}, attw ${attw.ok ? 'clean' : 'FAILED'}`,
    )
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
if (failures.length) die(`${failures.length} problem(s):\n  ${failures.join('\n  ')}`)
console.log(`✓ release dry run: ${packages.length} packages would publish (${((performance.now() - started) / 1000).toFixed(1)} s)`)
