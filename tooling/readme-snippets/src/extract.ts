import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

/** One fenced code block of a README. */
export interface Snippet {
  /** e.g. `packages/core/README.md#3` */
  id: string
  /** A file name for it, e.g. `packages-core-3.ts` */
  file: string
  readme: string
  /** 1-based line of the opening fence. */
  line: number
  code: string
}

/** The READMEs whose code blocks are checked: the root one and every package's. */
export function readmes(root: string, packages: readonly string[]): string[] {
  return [join(root, 'README.md'), ...packages.map((p) => join(root, 'packages', p, 'README.md'))]
}

const CODE = /^(ts|typescript|tsx|js|javascript|mjs)$/

/** Every ```ts / ```js block (other languages — sh, text — are not code to run). */
export function extract(root: string, readme: string): Snippet[] {
  const rel = relative(root, readme)
  const lines = readFileSync(readme, 'utf8').split('\n')
  const out: Snippet[] = []
  let open: { lang: string; line: number; body: string[] } | undefined
  lines.forEach((text, i) => {
    const fence = /^(\s*)(```+)\s*([\w-]*)/.exec(text)
    if (open === undefined) {
      if (fence) open = { lang: fence[3] ?? '', line: i + 1, body: [] }
      return
    }
    if (fence && fence[3] === '') {
      if (CODE.test(open.lang)) {
        const n = out.length + 1
        const stem =
          rel
            .replace(/README\.md$/, '')
            .replace(/[\\/]+/g, '-')
            .replace(/-$/, '') || 'root'
        out.push({ id: `${rel}#${n}`, file: `${stem}-${n}.ts`, readme: rel, line: open.line, code: `${open.body.join('\n')}\n` })
      }
      open = undefined
      return
    }
    open.body.push(text)
  })
  return out
}
