// The NestJS 11 lane: the same test files as packages/nestjs, with every @nestjs/* import —
// the adapter's source included — resolved to this package's NestJS 11 install.
import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
const nest = ['common', 'core', 'testing', 'platform-express'].map((name) => ({
  find: new RegExp(`^@nestjs/${name}$`),
  replacement: dirname(require.resolve(`@nestjs/${name}/package.json`)),
}))

const versionFile = { find: /^@nestjs\/core\/package\.json$/, replacement: require.resolve('@nestjs/core/package.json') }

export default defineConfig({
  root: resolve(here, '../../packages/nestjs'),
  resolve: { alias: [...nest, versionFile] },
  test: {
    env: { EXPECT_NEST_MAJOR: '11' },
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    name: 'nestjs on NestJS 11',
  },
})
