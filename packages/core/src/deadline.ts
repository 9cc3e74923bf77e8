import { unwatchAbort, watchAbort, type AbortWatcher } from './abort-watch'
import { TimeoutError } from './errors'
import { checkWaitOptions, type WaitOptions } from './options'
import { startTimer } from './wait-queue'

/**
 * One signal for a call made of several waits (`Condition.waitFor`, `KeyedLock.acquireMany`,
 * `RedisKeyedLock.acquire`), so `timeout` is a deadline for the whole call and not per wait. It
 * aborts with the caller's `signal.reason` (the same object) or a {@link TimeoutError} naming
 * `api`; `dispose()` removes the listener and the timer (timeouts past setTimeout's 24.8-day
 * limit re-arm). Without a finite timeout it is just the caller's signal.
 * @throws {@link InvalidArgumentError} for malformed options, like every wait.
 *
 * @example
 * ```ts
 * const { signal, dispose } = deadlineSignal(opts, 'Inventory.reserveAll()')
 * try {
 *   for (const sku of skus) guards.push(await locks.acquire(sku, { signal }))
 * } finally {
 *   dispose()
 * }
 * ```
 */
export function deadlineSignal(opts: WaitOptions | undefined, api: string): { signal: AbortSignal | undefined; dispose: () => void } {
  const aborted = opts !== undefined && checkWaitOptions(opts, api)
  const timeout = opts?.timeout
  const userSignal = opts?.signal
  if (timeout === undefined || timeout === Infinity) return { signal: userSignal, dispose: () => {} }
  const controller = new AbortController()
  // An 'abort' event never fires again: carry an earlier abort over now.
  if (aborted) {
    controller.abort(userSignal!.reason)
    return { signal: controller.signal, dispose: () => {} }
  }
  const forward: AbortWatcher = { handleEvent: () => controller.abort(userSignal!.reason) }
  if (userSignal !== undefined) watchAbort(userSignal, forward)
  const timer = startTimer(timeout, () => controller.abort(new TimeoutError(`${api} timed out after ${timeout} ms.`, timeout)))
  return {
    signal: controller.signal,
    dispose: () => {
      timer.clear()
      if (userSignal !== undefined) unwatchAbort(userSignal, forward)
    },
  }
}
