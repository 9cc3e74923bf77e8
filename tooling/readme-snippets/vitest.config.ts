import { packageConfig } from '@yieldpoint/vitest-config'

// Type-checking all snippets and running each in a child process takes a while on a busy machine.
export default packageConfig({ testTimeout: 120_000, hookTimeout: 180_000 })
