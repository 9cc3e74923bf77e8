// One tsup preset for every published package: dual ESM + CJS with .d.ts/.d.cts,
// so each package's tsup.config.ts stays one line and a later move to tsdown is mechanical.
import { defineConfig } from 'tsup'

/** @param {Partial<import('tsup').Options>} [overrides] */
export function libraryConfig(overrides = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    // Members tagged @internal (wait-queue plumbing, Lock.reacquire, the Guard constructor, …)
    // stay out of the published .d.ts: they are not API.
    dts: { compilerOptions: { stripInternal: true } },
    sourcemap: true,
    clean: true,
    target: 'node20',
    treeshake: true,
    ...overrides,
  })
}
