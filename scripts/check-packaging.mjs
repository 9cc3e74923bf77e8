#!/usr/bin/env node
// Every published package carries what npm (and provenance) need: LICENSE, CHANGELOG.md and
// README.md in `files`, `repository` with its `directory`, `homepage`, `bugs`. Fast (no packing):
// meant for `npm test`'s lint stage; the release dry run checks the tarballs themselves.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const problems = []
for (const dir of readdirSync(join(repo, 'packages'))) {
  const file = join(repo, 'packages', dir, 'package.json')
  if (!existsSync(file)) continue
  const pkg = JSON.parse(readFileSync(file, 'utf8'))
  if (pkg.private) continue
  const at = `packages/${dir}`
  for (const f of ['LICENSE', 'CHANGELOG.md', 'README.md']) {
    if (!existsSync(join(repo, at, f))) problems.push(`${at}: no ${f}`)
    if (!pkg.files?.includes(f)) problems.push(`${at}: "${f}" is not in "files"`)
  }
  if (pkg.repository?.directory !== at) problems.push(`${at}: repository.directory must be "${at}" (npm provenance needs repository)`)
  if (!pkg.homepage) problems.push(`${at}: no homepage`)
  if (!pkg.bugs?.url) problems.push(`${at}: no bugs.url`)
  if (pkg.license !== 'MIT') problems.push(`${at}: license must be MIT`)
  if (!pkg.publishConfig?.provenance) problems.push(`${at}: publishConfig.provenance must be true`)
}
if (problems.length) {
  console.error(`✗ packaging:\n  ${problems.join('\n  ')}\n  (copy the fields from packages/core/package.json)`)
  process.exit(1)
}
console.log('✓ packaging: every package has LICENSE, CHANGELOG.md, repository.directory, homepage, bugs')
