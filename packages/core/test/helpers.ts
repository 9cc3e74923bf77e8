/** Lets every pending microtask and one macrotask run ("settle" in docs/conformance/primitives.md). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** Drains the microtask queue only (no timers, no I/O). */
export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve()
}

/** Tracks a promise's outcome synchronously observable after settling. */
export function track<T>(promise: Promise<T>): { status: 'pending' | 'fulfilled' | 'rejected'; value?: T; reason?: unknown } {
  const state: { status: 'pending' | 'fulfilled' | 'rejected'; value?: T; reason?: unknown } = { status: 'pending' }
  promise.then(
    (value) => {
      state.status = 'fulfilled'
      state.value = value
    },
    (reason) => {
      state.status = 'rejected'
      state.reason = reason
    },
  )
  return state
}

export function abortCount(signal: AbortSignal): number {
  // node:events can list EventTarget listeners; used to prove no listener is left behind.
  return getEventListeners(signal, 'abort').length
}

import { getEventListeners } from 'node:events'
