import { packageConfig } from '@yieldpoint/vitest-config'

export default packageConfig()
