// Typechecks every ```ts block of the hand-written pages against the built packages, so a page
// cannot document an option, method or name the packages do not have. Blocks are fragments: a
// name they leave undeclared (db, req, a handler) is `any` — "cannot find name" and implicit-any
// errors are ignored, every other error fails. Blocks without imports get the @yieldpoint/core
// exports they use imported for them. A block with a "…" placeholder is prose, and skipped.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

// cannot find name · implicit any · a catch variable of type unknown · return outside a function (a fragment of a handler)
const IGNORED = new Set([2304, 2552, 2580, 2582, 2591, 7005, 7006, 7031, 7034, 18004, 18046, 1108])

export function checkBlocks(docs) {
  const out = join(docs, '.vitepress', 'cache', 'blocks')
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  const core = readFileSync(join(docs, '..', 'packages', 'core', 'dist', 'index.d.ts'), 'utf8')
  const coreExports = new Set(
    [...core.matchAll(/export\s*\{([^}]*)\}/g)]
      .flatMap((m) =>
        m[1].split(',').map((s) =>
          s
            .trim()
            .split(/\s+as\s+/)
            .pop()
            .replace(/^type\s+/, ''),
        ),
      )
      .filter(Boolean),
  )
  const files = new Map()
  for (const dir of ['guide', 'primitives', 'migrate', 'errors']) {
    for (const page of readdirSync(join(docs, dir)).filter((f) => f.endsWith('.md'))) {
      const md = readFileSync(join(docs, dir, page), 'utf8')
      let n = 0
      for (const m of md.matchAll(/```ts\n([\s\S]*?)```/g)) {
        const code = m[1]
        n++
        if (code.includes('…')) continue
        let head = ''
        if (!/^import /m.test(code)) {
          const used = [...coreExports].filter((name) => new RegExp(`\\b${name}\\b`).test(code))
          if (used.length) head = `import { ${used.join(', ')} } from '@yieldpoint/core'\n`
        }
        const name = `${dir}-${page.replace(/\.md$/, '')}-${n}.ts`
        files.set(name, `${dir}/${page} block ${n}`)
        // catch (e) blocks and bare statements are fine at module scope; `export {}` makes it a module
        writeFileSync(join(out, name), `${head}${code}\nexport {}\n`)
      }
    }
  }
  writeFileSync(
    join(out, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023', 'ESNext.Disposable', 'DOM'],
        module: 'ESNext',
        moduleResolution: 'Bundler',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        experimentalDecorators: true,
        typeRoots: [join(docs, 'node_modules', '@types')],
      },
      include: ['*.ts'],
    }),
  )
  const r = spawnSync(join(docs, 'node_modules', '.bin', 'tsc'), ['-p', out, '--pretty', 'false'], { cwd: docs, encoding: 'utf8' })
  const errors = (r.stdout + r.stderr)
    .split('\n')
    .filter((l) => /error TS(\d+)/.test(l) && !IGNORED.has(Number(/error TS(\d+)/.exec(l)[1])))
    .map((l) => l.replace(/^.*?([a-z]+-[\w-]+-\d+\.ts)/, (_, f) => files.get(f) ?? f))
  return { blocks: files.size, errors }
}
