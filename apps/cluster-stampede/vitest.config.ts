import { packageConfig } from '@yieldpoint/vitest-config'

export default packageConfig({ testTimeout: 120_000, hookTimeout: 60_000 })
