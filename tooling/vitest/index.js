// Shared vitest defaults. Tests drive interleavings with settle helpers and fake timers,
// never with sleeps, so a short timeout catches a hang quickly.
import { defineConfig } from 'vitest/config'

/** @param {import('vitest/config').UserConfig['test']} [test] */
export function packageConfig(test = {}) {
  return defineConfig({
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: 20_000,
      hookTimeout: 20_000,
      restoreMocks: true,
      ...test,
    },
  })
}
