import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * Which loads the current async context is running, so a loader that asks for its own key
 * (directly or through a cycle of keys) is rejected instead of waiting for itself forever.
 *
 * On Node 20, AsyncLocalStorage taxes every promise the process creates while it is enabled, so
 * it is enabled only while at least one load runs and disabled again when the last one ends.
 * @internal
 */
export interface LoadFrame {
  readonly flight: object
  readonly parent: LoadFrame | undefined
}

const storage = new AsyncLocalStorage<LoadFrame>()
let running = 0

/** Runs `fn` as the body of `flight`'s load. */
export function runAsLoad<T>(flight: object, fn: () => T): T {
  running++
  return storage.run({ flight, parent: storage.getStore() }, fn)
}

/** Marks a load as finished (its result settled). */
export function loadEnded(): void {
  if (--running === 0) storage.disable()
}

/** True if the current async context is inside `flight`'s own load. */
export function insideLoad(flight: object): boolean {
  if (running === 0) return false
  for (let frame = storage.getStore(); frame !== undefined; frame = frame.parent) {
    if (frame.flight === flight) return true
  }
  return false
}
