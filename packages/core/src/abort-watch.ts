/**
 * One 'abort' listener per signal, fanned out to every wait that uses it. Many concurrent waits
 * commonly share one long-lived signal (a shutdown or request signal); listening once keeps Node
 * from warning about a listener leak and keeps removal O(1).
 * @internal
 */
export interface AbortWatcher {
  handleEvent(): void
}

class Fanout {
  readonly watchers = new Set<AbortWatcher>()
  handleEvent(): void {
    // Each watcher removes itself as it settles; iterate a snapshot.
    for (const watcher of [...this.watchers]) watcher.handleEvent()
  }
}

const fanouts = new WeakMap<AbortSignal, Fanout>()

/** @internal */
export function watchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  let fanout = fanouts.get(signal)
  if (fanout === undefined) {
    fanout = new Fanout()
    fanouts.set(signal, fanout)
    signal.addEventListener('abort', fanout)
  }
  fanout.watchers.add(watcher)
}

/** @internal */
export function unwatchAbort(signal: AbortSignal, watcher: AbortWatcher): void {
  const fanout = fanouts.get(signal)
  if (fanout === undefined || !fanout.watchers.delete(watcher)) return
  if (fanout.watchers.size === 0) {
    signal.removeEventListener('abort', fanout)
    fanouts.delete(signal)
  }
}
