#!/usr/bin/env node
// `pnpm docs:build`: everything that can make the site wrong fails here, one stage a line.
//  1. every error code thrown in packages/*/src has a page in docs/errors/
//  2. the guide's snippets typecheck and run (each asserts the broken and the fixed outcome)
//  3. the API reference is generated from TSDoc; an undocumented export fails the build
//  4. the charts are drawn from the recorded demo runs (docs/data/*.json → public/charts/*.svg)
//  5. VitePress builds the site; a dead internal link fails the build
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeCharts } from './charts.mjs'
import { checkBlocks } from './check-blocks.mjs'

const docs = join(dirname(fileURLToPath(import.meta.url)), '..')
const repo = join(docs, '..')
const bin = (name) => join(docs, 'node_modules', '.bin', name)
const only = process.argv.includes('--no-site') ? 'checks' : 'all'

function stage(name, fn) {
  const started = performance.now()
  let detail = ''
  try {
    detail = fn() ?? ''
  } catch (error) {
    console.error(`✗ docs: ${name}\n${error.message}`)
    process.exit(1)
  }
  console.log(`✓ docs: ${name}${detail ? ` — ${detail}` : ''} (${((performance.now() - started) / 1000).toFixed(1)} s)`)
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: docs, encoding: 'utf8', ...opts })
  if (r.error) throw r.error
  return r
}

/** Every `ERR_YP_*` code that a package's source defines. */
export function errorCodes() {
  const codes = new Set()
  for (const pkg of readdirSync(join(repo, 'packages'))) {
    const src = join(repo, 'packages', pkg, 'src')
    if (!existsSync(src)) continue
    for (const file of readdirSync(src, { recursive: true })) {
      if (!String(file).endsWith('.ts')) continue
      for (const m of readFileSync(join(src, String(file)), 'utf8').matchAll(/['"`](ERR_YP_[A-Z0-9_]+)['"`]/g)) codes.add(m[1])
    }
  }
  return [...codes].sort()
}

stage('every error code has a page', () => {
  const codes = errorCodes()
  const missing = codes.filter((c) => !existsSync(join(docs, 'errors', `${c}.md`)))
  if (missing.length) throw new Error(`no page for ${missing.join(', ')}: add docs/errors/<code>.md (what it means, what to do)`)
  return `${codes.length} codes`
})

stage('guide snippets typecheck and run', () => {
  const tsc = run(bin('tsc'), ['-p', 'snippets'])
  if (tsc.status !== 0) throw new Error(tsc.stdout + tsc.stderr)
  const files = readdirSync(join(docs, 'snippets')).filter((f) => f.endsWith('.ts') && f !== 'db.ts')
  const r = run(bin('tsx'), ['scripts/run-snippets.mjs', ...files])
  if (r.status !== 0) throw new Error(r.stdout + r.stderr)
  return `${files.length} snippets`
})

stage('code blocks of the pages typecheck against the packages', () => {
  const { blocks, errors } = checkBlocks(docs)
  if (errors.length) throw new Error(errors.join('\n'))
  return `${blocks} blocks`
})

stage('API reference from TSDoc (typedoc)', () => {
  rmSync(join(docs, 'api'), { recursive: true, force: true })
  // every public package of packages/* is documented: a new package needs no config change
  const pkgs = readdirSync(join(repo, 'packages')).filter(
    (p) => existsSync(join(repo, 'packages', p, 'src', 'index.ts')) && !JSON.parse(readFileSync(join(repo, 'packages', p, 'package.json'), 'utf8')).private,
  )
  const args = ['--options', 'typedoc.json']
  for (const p of pkgs) args.push('--entryPoints', `../packages/${p}/src/index.ts`, '--packagesRequiringDocumentation', `@yieldpoint/${p}`)
  const r = run(bin('typedoc'), args)
  const out = (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '')
  // An export (class, function, type, variable) without TSDoc fails; a member without one is
  // listed for its owner to fix.
  const undocumented = out.split('\n').filter((l) => /does not have any documentation/.test(l))
  const exports = undocumented.filter((l) => /\((Class|Function|Interface|TypeAlias|Variable|Enum|Namespace)\)/.test(l))
  // {@link X} that typedoc cannot resolve renders as plain text (no broken link on the site —
  // VitePress checks those): listed for the comment's owner, like undocumented members.
  const unresolved = out.split('\n').filter((l) => /Failed to resolve link|links to .* not included/.test(l))
  if (r.status !== 0 || exports.length) throw new Error(exports.length ? exports.join('\n') : out)
  for (const l of unresolved) console.log(`  · ${l.replace(/^\[warning\]\s*/, '')}`)
  for (const l of undocumented.filter((l) => !exports.includes(l))) console.log(`  · ${l.replace(/^\[warning\]\s*/, '')}`)
  for (const pkg of pkgs) {
    if (!existsSync(join(docs, 'api', '@yieldpoint', pkg, 'index.md'))) throw new Error(`no API reference for @yieldpoint/${pkg}`)
  }
  return undocumented.length ? `${undocumented.length - exports.length} undocumented members listed` : ''
})

stage('package pages', () => {
  const out = join(docs, 'packages')
  mkdirSync(out, { recursive: true })
  const pkgs = readdirSync(join(repo, 'packages')).filter((p) => existsSync(join(repo, 'packages', p, 'README.md')))
  for (const pkg of pkgs) {
    const readme = readFileSync(join(repo, 'packages', pkg, 'README.md'), 'utf8')
      // READMEs link to each other as folders (../core); on the site they are pages (./core).
      // Any other relative link points into the repository (../../apps/…): link it on GitHub.
      .replace(/\]\((?!https?:|#|mailto:)([^)\s]+)\)/g, (_all, target) => {
        const sibling = /^\.\.\/([a-z0-9-]+)\/?(?:README\.md)?$/.exec(target)
        if (sibling && pkgs.includes(sibling[1])) return `](./${sibling[1]})`
        const path = relative(repo, join(repo, 'packages', pkg, target))
          .split(sep)
          .join('/')
        return `](https://github.com/yieldpoint/yieldpoint/blob/main/${path})`
      })
    writeFileSync(
      join(out, `${pkg}.md`),
      `<!-- generated from packages/${pkg}/README.md by docs/scripts/build.mjs -->\n\n${readme}\n\n[API reference](/api/@yieldpoint/${pkg}/)\n`,
    )
  }
  writeFileSync(join(out, 'index.md'), `# Packages\n\n${pkgs.map((p) => `- [@yieldpoint/${p}](./${p})`).join('\n')}\n`)
  return `${pkgs.length} packages`
})

stage('charts from the recorded demo runs', () => {
  const written = writeCharts({ dataDir: join(docs, 'data'), outDir: join(docs, 'public', 'charts') })
  return `${written.length} charts`
})

if (only === 'all') {
  stage('VitePress site (dead links fail)', () => {
    const r = run(bin('vitepress'), ['build', '.'], { env: { ...process.env, NODE_ENV: 'production' } })
    if (r.status !== 0) throw new Error(r.stdout + r.stderr)
    const pages = readdirSync(join(docs, '.vitepress', 'dist'), { recursive: true }).filter((f) => String(f).endsWith('.html')).length
    return `${pages} pages in docs/.vitepress/dist`
  })
}
