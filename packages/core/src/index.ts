export { Lock } from './lock'
export { Event } from './event'
export { Condition } from './condition'
export { Semaphore, type SemaphoreAcquireOptions } from './semaphore'
export { BoundedSemaphore } from './bounded-semaphore'
export { Barrier, type BarrierState } from './barrier'
export { Guard } from './guard'
export type { WaitOptions } from './options'
export { deadlineSignal } from './deadline'
export {
  YieldpointError,
  errorDocsUrl,
  TimeoutError,
  InvalidArgumentError,
  LockNotAcquiredError,
  OverReleaseError,
  BrokenBarrierError,
  ClosedError,
  ReentrancyError,
} from './errors'
export { KeyedLock } from './keyed-lock'
export { SingleFlight } from './single-flight'
export {
  SingleFlightCache,
  type SingleFlightCacheOptions,
  type SingleFlightCacheStats,
  type Loader,
  type LoaderContext,
  type GetOrSetOptions,
  type CacheResult,
} from './single-flight-cache'
export { MemoryStore, type Store, type CacheEntry } from './store'
