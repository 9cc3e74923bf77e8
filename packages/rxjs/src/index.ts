export { withLock, withPermit, withKey, lockMap, permitMap, keyedLockMap, exhaustLockMap, exhaustPermitMap, exhaustKeyedLockMap } from './operators'
export type { MapOptions, PermitMapOptions } from './options'
export { fromFlight, flightMap, type Flights } from './flight'
export { whenSet } from './events'
