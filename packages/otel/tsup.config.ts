import { libraryConfig } from '@yieldpoint/tsup-config'

export default libraryConfig()
