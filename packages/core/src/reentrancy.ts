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

const major = Number(process.versions.node.split('.')[0])
const nodeFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`
/**
 * Whether AsyncLocalStorage runs on AsyncContextFrame here: Node >= 24 unless started with
 * `--no-async-context-frame`, Node 22 only with `--experimental-async-context-frame`.
 * @internal
 */
export const frameBacked = major >= 24 ? !nodeFlags.includes('--no-async-context-frame') : nodeFlags.includes('--experimental-async-context-frame')

/**
 * `detectReentrancy` when the option is not given: on only where it is cheap. Measured (issue 12,
 * 1,000 concurrent cold callers, detection on ÷ off, ns per coalesced caller): Node 24 0.8–0.97×
 * (AsyncContextFrame), Node 22 1.35–2.7× and Node 20 1.6–4.5× (async_hooks slows every promise
 * while a load runs). The rule is "≤ 25% per coalesced caller", so the default follows
 * {@link frameBacked}; `true` forces detection anywhere, `false` turns it off anywhere. Without
 * detection a re-entrant loader still ends: the load deadline (`loadTimeout`) turns the wait into
 * an error.
 * @internal
 */
export function reentrancyDetection(option: boolean | undefined): boolean {
  return option === undefined ? frameBacked : option !== false
}

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
