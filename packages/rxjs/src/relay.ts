import { type Observer, Subscription } from 'rxjs'

/**
 * The observer a guarded source is subscribed with. It is a `Subscription` (so rxjs uses it as
 * the subscriber itself and a synchronous source sees `closed` the moment downstream
 * unsubscribes) that runs `onEnd` — releasing the guard — *before* forwarding `error` or
 * `complete`, so `retry`/`repeat` can take the guard again.
 * @internal
 */
export class Relay<T> extends Subscription implements Observer<T> {
  constructor(
    private readonly target: Observer<T>,
    private readonly onEnd: () => void,
  ) {
    super()
  }

  next(value: T): void {
    if (!this.closed) this.target.next(value)
  }

  error(error: unknown): void {
    if (this.closed) return
    this.unsubscribe()
    this.onEnd()
    this.target.error(error)
  }

  complete(): void {
    if (this.closed) return
    this.unsubscribe()
    this.onEnd()
    this.target.complete()
  }
}

// Starting a source is trampolined: a grant made while another source is being started (a
// release inside a synchronous source) is queued and run when that start returns, so a chain of
// synchronous sources runs in a loop, not in ever-deeper recursion.
const starts: Array<() => void> = []
let starting = false
// Grants made while a subscription is torn down start their source in a microtask: the waiter
// may itself be torn down by the same unsubscribe() (mergeMap unsubscribes its inner
// Observables one after another) and must not start work it will never report.
let tearingDown = 0

/** Runs `start` now (or, when nested, right after the current start); see above. @internal */
export function begin(start: () => void): void {
  if (tearingDown > 0) {
    queueMicrotask(start)
    return
  }
  starts.push(start)
  if (starting) return
  starting = true
  try {
    for (let next = starts.shift(); next !== undefined; next = starts.shift()) {
      try {
        next()
      } catch (error) {
        // rxjs reports errors it cannot deliver asynchronously; so do we, and go on.
        queueMicrotask(() => {
          throw error
        })
      }
    }
  } finally {
    starting = false
  }
}

/** Runs a teardown step; grants it causes start their sources in a microtask. @internal */
export function tearDown(step: () => void): void {
  tearingDown++
  try {
    step()
  } finally {
    tearingDown--
  }
}
