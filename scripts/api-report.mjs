#!/usr/bin/env node
// A public-API report per package (API Extractor), checked in at packages/<pkg>/etc/<pkg>.api.md.
// Check mode (default, CI): fails when a package's built .d.ts no longer matches its report — an
// export added, removed or changed by accident. After an intended change: `pnpm api-report --update`
// and commit the reports with the change. Packages must be built first.
//   node scripts/api-report.mjs [--update] [package…]
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnSync } from 'node:child_process'
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const update = process.argv.includes('--update')
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const temp = mkdtempSync(join(tmpdir(), 'yp-api-'))
const started = performance.now()
let failed = 0
for (const pkg of readdirSync(join(repo, 'packages')).filter((p) => only.length === 0 || only.includes(p))) {
  const folder = join(repo, 'packages', pkg)
  const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'))
  if (manifest.private) continue
  const entry = join(folder, 'dist', 'index.d.ts')
  if (!existsSync(entry)) {
    console.error(`✗ api report: packages/${pkg}/dist/index.d.ts is missing — build first (pnpm build)`)
    failed++
    continue
  }
  mkdirSync(join(folder, 'etc'), { recursive: true })
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: folder,
      mainEntryPointFilePath: entry,
      bundledPackages: [],
      compiler: {
        overrideTsconfig: {
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023', 'ESNext.Disposable', 'DOM'],
            module: 'ESNext',
            moduleResolution: 'Bundler',
            strict: true,
            skipLibCheck: true,
            types: ['node'],
            experimentalDecorators: true,
          },
          include: [entry],
        },
      },
      apiReport: { enabled: true, reportFileName: '<unscopedPackageName>.api.md', reportFolder: join(folder, 'etc'), reportTempFolder: temp },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      newlineKind: 'lf',
      messages: {
        // yieldpoint marks nothing with release tags (@public/@beta): everything exported is public
        extractorMessageReporting: { default: { logLevel: 'none' }, 'ae-missing-release-tag': { logLevel: 'none', addToApiReportFile: false } },
        compilerMessageReporting: { default: { logLevel: 'warning' } },
        tsdocMessageReporting: { default: { logLevel: 'none' } },
      },
    },
    configObjectFullPath: join(folder, 'api-extractor.json'),
    packageJsonFullPath: join(folder, 'package.json'),
  })
  const result = Extractor.invoke(config, {
    localBuild: update,
    showVerboseMessages: false,
    typescriptCompilerFolder: join(repo, 'node_modules', 'typescript'),
    messageCallback: (m) => {
      if (m.logLevel === 'none') m.handled = true
    },
  })
  if (result.apiReportChanged && !update) {
    const diff = spawnSync('diff', ['-u', join(folder, 'etc', `${pkg}.api.md`), join(temp, `${pkg}.api.md`)], { encoding: 'utf8' }).stdout
    console.error(diff.split('\n').slice(0, 60).join('\n'))
    console.error(
      `✗ api report: ${manifest.name}'s public API changed — review packages/${pkg}/etc/${pkg}.api.md against the ` +
        `build (diff above: - report, + build); if intended, run \`pnpm api-report --update\` and commit the report`,
    )
    failed++
  } else if (!result.succeeded && (update || !result.apiReportChanged)) {
    console.error(`✗ api report: ${manifest.name}: API Extractor failed (${result.errorCount} errors)`)
    failed++
  } else console.log(`✓ api report: ${manifest.name}${update && result.apiReportChanged ? ' (updated)' : ''}`)
}
rmSync(temp, { recursive: true, force: true })
console.log(`${failed ? '✗' : '✓'} api reports (${((performance.now() - started) / 1000).toFixed(1)} s)`)
process.exit(failed ? 1 : 0)
