export { startUpstream } from './upstream'
export { printStampedeTable, type StampedeRow } from './table'
export { spawnServer, httpStampede } from './http-load'
