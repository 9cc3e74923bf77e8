export { withLock, withPermit, withKey, lockMap, permitMap, keyedLockMap, exhaustLockMap, exhaustPermitMap, exhaustKeyedLockMap } from './operators'
export type { MapOptions, PermitMapOptions } from './options'
export { fromFlight, flightMap } from './flight'
export { whenSet } from './events'
