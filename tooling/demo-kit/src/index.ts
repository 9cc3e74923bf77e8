export { startUpstream } from './upstream'
export { printStampedeTable, type StampedeRow } from './table'
