export { withLock, withPermit, withKey, lockMap, permitMap } from './operators'
export { fromFlight, flightMap, type Flights } from './flight'
export { whenSet } from './events'
