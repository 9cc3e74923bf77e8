import { packageConfig } from '@yieldpoint/vitest-config'

// Every file starts its own redis-server and worker processes; run them one at a time.
export default packageConfig({ fileParallelism: false, testTimeout: 60_000, hookTimeout: 30_000 })
