export { startUpstream } from './upstream'
export { printStampedeTable, type StampedeRow } from './table'
export { spawnServer, httpStampede } from './http-load'
export { recordRun, upstreamTimeline, sample, type RunRecord, type Timeline, type Series, type Interval } from './record'
