import { AsyncLocalStorage } from 'node:async_hooks'
import { DeadlockError } from './errors'
import { settings } from './diagnostics'

/**
 * Which locks (or KeyedLock keys) the current async context holds through `runExclusive`, so an
 * acquire that could only be granted after the caller's own scope ends is rejected with
 * {@link DeadlockError} instead of hanging forever.
 *
 * Only `runExclusive` opens a scope: a bare `acquire()` has no async boundary, and marking the
 * caller's context there would also mark its siblings (`Promise.all([a(), b()])` share the context
 * until their first await) — a false alarm is worse than none. Work started inside a scope and
 * not awaited inside it inherits the scope: it should not wait for the scope's lock.
 *
 * Cost: on Node 20 and 22 an enabled AsyncLocalStorage taxes every promise the process creates
 * (async_hooks), so detection is off by default there and the storage is enabled only while a
 * detecting scope runs; on Node ≥ 24 (AsyncContextFrame) it is cheap and on by default.
 * @internal
 */
interface HoldFrame {
  readonly owner: object
  readonly key: unknown
  readonly parent: HoldFrame | undefined
}

const storage = new AsyncLocalStorage<HoldFrame>()
let scopes = 0

const major = Number(process.versions.node.split('.')[0])
const frameBacked = major >= 24 && !`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`.includes('--no-async-context-frame')

/** Whether a primitive created with `detectDeadlock: option` detects. @internal */
export function deadlockDetection(option: boolean | undefined): boolean {
  return option ?? settings.detectDeadlock ?? frameBacked
}

/** Runs `fn` as a scope holding `owner` (and `key`). @internal */
export function runHolding<R>(owner: object, key: unknown, fn: () => R | PromiseLike<R>): R | PromiseLike<R> {
  // AsyncContextFrame: a frame costs nothing once the scope ends, so no bookkeeping.
  if (frameBacked) return storage.run({ owner, key, parent: storage.getStore() }, fn)
  return runCounted(owner, key, fn)
}

/** async_hooks-backed storage: enabled only while a scope runs (see above). */
async function runCounted<R>(owner: object, key: unknown, fn: () => R | PromiseLike<R>): Promise<Awaited<R>> {
  scopes++
  try {
    return await storage.run({ owner, key, parent: storage.getStore() }, fn)
  } finally {
    if (--scopes === 0) storage.disable()
  }
}

/** True if the current async context runs inside a scope holding `owner` / `key`. @internal */
export function holdsHere(owner: object, key: unknown): boolean {
  if (scopes === 0 && !frameBacked) return false
  for (let frame = storage.getStore(); frame !== undefined; frame = frame.parent) {
    if (frame.owner === owner && Object.is(frame.key, key)) return true
  }
  return false
}

/** The rejection for an acquire that would wait for the caller's own scope. @internal */
export function deadlock(what: string): Promise<never> {
  return Promise.reject(
    new DeadlockError(
      `${what} was called inside a runExclusive() that already holds it, and would wait for itself forever. Do the ` +
        `inner work without re-acquiring (the outer scope already excludes others), or release before acquiring again.`,
    ),
  )
}
