import { packageConfig } from '@yieldpoint/vitest-config'

// One redis-server and one 3-master cluster for the run (test/global-setup.ts); files run one at
// a time since they share them and spawn worker processes.
export default packageConfig({ fileParallelism: false, globalSetup: ['test/global-setup.ts'], testTimeout: 60_000, hookTimeout: 60_000 })
