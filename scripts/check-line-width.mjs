#!/usr/bin/env node
// Biome wraps code to `formatter.lineWidth` but leaves what it cannot break (a long string, a
// comment, a URL). This keeps the claim "no line over the configured width" true: every file
// Biome formats is checked, and a longer line fails `lint` with its place.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const config = readFileSync(join(root, 'biome.jsonc'), 'utf8')
const width = Number(/"lineWidth":\s*(\d+)/.exec(config)?.[1])
if (!Number.isInteger(width)) throw new Error('biome.jsonc has no formatter.lineWidth')
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts', '*.tsx', '*.js', '*.mjs', '*.cjs', '*.json', '*.jsonc'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f !== '' && !f.endsWith('pnpm-lock.yaml'))
const long = []
for (const file of files) {
  let text
  try {
    text = readFileSync(join(root, file), 'utf8')
  } catch {
    continue // deleted in the work tree
  }
  text.split('\n').forEach((line, i) => {
    if ([...line].length > width) long.push(`${file}:${i + 1} is ${[...line].length} characters (the width is ${width})`)
  })
}
if (long.length > 0) {
  console.error(`${long.length} line(s) over the configured width:\n${long.join('\n')}`)
  process.exit(1)
}
console.log(`line width: ${files.length} files, none over ${width} characters`)
