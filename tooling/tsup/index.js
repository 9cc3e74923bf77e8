// One tsup preset for every published package: dual ESM + CJS with .d.ts/.d.cts,
// so each package's tsup.config.ts stays one line and a later move to tsdown is mechanical.
import { defineConfig } from 'tsup'

/** @param {Partial<import('tsup').Options>} [overrides] */
export function libraryConfig(overrides = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    treeshake: true,
    ...overrides,
  })
}
