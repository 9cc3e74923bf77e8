import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { extract, readmes, type Snippet } from '../src/extract'

// Every TypeScript block of the root README and each package README is a program: it must
// type-check under moduleResolution nodenext AND bundler, and run to completion (exit 0, no
// handle left open) — against the stand-ins in src/stand-ins.ts and nothing else.
const here = dirname(fileURLToPath(import.meta.url))
const pkg = join(here, '..')
const root = join(pkg, '..', '..')
const out = join(pkg, '.snippets')
const standIns = join(pkg, 'src', 'stand-ins.ts')
const snippets: Snippet[] = readmes(root, ['core', 'express', 'nestjs', 'redis', 'rxjs']).flatMap((readme) => extract(root, readme))

const common: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts', 'lib.dom.d.ts'],
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  types: ['node'],
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  esModuleInterop: true,
}
const modes: Record<string, ts.CompilerOptions> = {
  nodenext: { ...common, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
  bundler: { ...common, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler },
}

/** Diagnostics per snippet file, per mode. */
const diagnostics = new Map<string, string[]>()
let redis: { url: string; stop: () => Promise<void> } | undefined

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((r) => server.close(r))
  return port
}

async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server is not installed (the README test command installs it).')
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  let log = ''
  for await (const chunk of child.stdout!) {
    log += String(chunk)
    if (log.includes('Ready to accept connections')) break
  }
  child.stdout!.resume()
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    },
  }
}

beforeAll(async () => {
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  // ESM, so top-level await and `using` work as they would in the reader's project.
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n')
  const tsconfig = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    strict: true,
  }
  writeFileSync(join(out, 'tsconfig.json'), `${JSON.stringify({ compilerOptions: tsconfig }, null, 2)}\n`)
  for (const s of snippets) writeFileSync(join(out, s.file), s.code)
  const files = snippets.map((s) => join(out, s.file))
  for (const [mode, options] of Object.entries(modes)) {
    const program = ts.createProgram([standIns, ...files], options)
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const file = d.file?.fileName ?? '(global)'
      const where = d.file && d.start !== undefined ? `:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : ''
      const key = `${mode} ${file}`
      diagnostics.set(key, [...(diagnostics.get(key) ?? []), `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`])
    }
  }
  redis = await startRedis()
})

afterAll(async () => {
  await redis?.stop()
})

describe('README snippets', () => {
  it('there are snippets to check', () => {
    expect(snippets.length).toBeGreaterThan(5)
  })

  it('the stand-ins type-check', () => {
    for (const mode of Object.keys(modes)) expect((diagnostics.get(`${mode} ${standIns}`) ?? []).join('\n')).toBe('')
  })

  for (const s of snippets) {
    describe(`${s.id} (line ${s.line})`, () => {
      for (const mode of Object.keys(modes)) {
        it(`type-checks with moduleResolution ${mode}`, () => {
          expect((diagnostics.get(`${mode} ${join(out, s.file)}`) ?? []).join('\n'), `${s.id} (${s.readme} line ${s.line})`).toBe('')
        })
      }
      it('runs to completion', async () => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--import', standIns, join(out, s.file)], {
          cwd: out,
          env: { ...process.env, REDIS_URL: redis!.url, NODE_NO_WARNINGS: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
          // A hang is reported as a failure, not waited out: the child is killed.
          signal: AbortSignal.timeout(90_000),
        })
        child.on('error', () => {})
        let output = ''
        child.stdout.on('data', (c) => (output += c))
        child.stderr.on('data', (c) => (output += c))
        // A snippet that leaves a server, a timer or a connection open never exits: that is a
        // failure too (the reader's process would hang), reported by the test timeout.
        const [code] = (await once(child, 'exit')) as [number | null]
        expect(code, `${s.id} exited with ${code}:\n${output}`).toBe(0)
      })
    })
  }
})
