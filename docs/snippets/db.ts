// A tiny in-memory "database" whose every call is a real yield point: it answers on a later
// turn of the event loop, as a network round trip would. The snippets use it so that their
// interleavings are the ones a real database gives, without a database.
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

export function fakeDb<V>(initial: Record<string, V> = {}) {
  const data = new Map<string, V>(Object.entries(initial))
  let calls = 0
  return {
    async get(key: string): Promise<V | undefined> {
      calls++
      await tick()
      return data.get(key)
    },
    async set(key: string, value: V): Promise<void> {
      await tick()
      data.set(key, value)
    },
    get calls() {
      return calls
    },
  }
}

/** A promise you settle by hand, so a snippet decides exactly when a load ends. */
export function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}
