export { Lock, type LockStatistics } from './lock'
export { Event, type EventStatistics } from './event'
export { Condition, type ConditionStatistics } from './condition'
export { Semaphore, type SemaphoreAcquireOptions, type SemaphoreStatistics } from './semaphore'
export { BoundedSemaphore, type BoundedSemaphoreStatistics } from './bounded-semaphore'
export { Barrier, type BarrierState, type BarrierStatistics } from './barrier'
export { Guard } from './guard'
export type { WaitOptions } from './options'
export { deadlineSignal } from './deadline'
export { startTimer } from './wait-queue'
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
  NotSharedError,
} from './errors'
export { KeyedLock, type KeyedLockStatistics } from './keyed-lock'
export { SingleFlight, type Coalescer, type RunContext, type SingleFlightStatistics } from './single-flight'
export {
  SingleFlightCache,
  type SingleFlightCacheOptions,
  type SingleFlightCacheStatistics,
  type Loader,
  type LoaderContext,
  type GetOrSetOptions,
  type CacheResult,
} from './single-flight-cache'
export {
  MemoryStore,
  type Store,
  type CacheEntry,
  type ValueEntry,
  type ErrorEntry,
  type StoreInitOptions,
  type Lease,
  type LeaseFailure,
  type Acquired,
  type LeaseWaitResult,
} from './store'
export { RemoteError, defaultSerializeError, defaultReviveError, type SerializedError, type SerializeError, type ReviveError } from './remote-error'
export { RateLimiter, type RateLimiterOptions, type RateLimiterAcquireOptions, type RateLimiterStatistics } from './rate-limiter'
export { limit, Limit, type LimitOptions, type LimitStatistics } from './limit'
export { Pool, PoolLease, type PoolOptions, type PoolStatistics } from './pool'
export { DeadlockError } from './errors'
export type { LockOptions } from './lock'
export {
  channelNames,
  type WaitMessage,
  type ReleaseMessage,
  type CacheMessage,
  type TraceContext,
} from './diagnostics'
export { detectMisuse, type MisuseOptions, type PrimitiveOptions } from './diagnostics-watch'
