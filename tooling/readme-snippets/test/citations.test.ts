import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// Test titles and READMEs cite nothing that is not in the repository: every `*.md` they name
// exists, and every conformance case id they use (SF-07, "cases 12-15") is listed in
// docs/conformance/.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const conformance = ['primitives.md', 'single-flight.md'].map((f) => readFileSync(join(root, 'docs', 'conformance', f), 'utf8')).join('\n')

function files(dir: string, keep: (name: string) => boolean): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && keep(e.name) && !join(e.parentPath, e.name).includes('node_modules'))
    .map((e) => join(e.parentPath, e.name))
}

const self = fileURLToPath(import.meta.url)
const tests = ['packages', 'apps', 'tooling'].flatMap((d) => files(join(root, d), (n) => /\.test\.ts$/.test(n))).filter((f) => f !== self)
const readmes = [join(root, 'README.md'), ...['packages', 'apps', 'tooling'].flatMap((d) => files(join(root, d), (n) => n === 'README.md'))]

describe('citations', () => {
  it('finds the tests and READMEs to check', () => {
    expect(tests.length).toBeGreaterThan(10)
    expect(readmes.length).toBeGreaterThan(5)
  })

  it('every test file the conformance lists name exists', () => {
    const named = [...conformance.matchAll(/`((?:packages|apps|tooling)\/[^`]+\.test\.ts)`/g)].map((m) => m[1]!)
    expect(named.length).toBeGreaterThan(10)
    expect(named.filter((f) => !existsSync(join(root, f)))).toEqual([])
  })

  for (const file of [...tests, ...readmes]) {
    it(`${relative(root, file)} cites only what the repository has`, () => {
      const text = readFileSync(file, 'utf8')
      const missing: string[] = []
      for (const [, path] of text.matchAll(/(?<![\w/.-])((?:\.{1,2}\/|[\w-]+\/)*[\w-]+\.md)\b/g)) {
        const candidates = [join(dirname(file), path!), join(root, path!)]
        // Inside the repository only: a path that climbs out of it cites something readers do not have.
        if (!candidates.some((c) => c.startsWith(root + sep) && existsSync(c))) missing.push(path!)
      }
      for (const [id] of text.matchAll(/\bSF-\d+\b/g)) if (!conformance.includes(`| ${id}`) && !conformance.includes(` / ${id}`)) missing.push(id)
      expect(missing).toEqual([])
    })
  }
})
