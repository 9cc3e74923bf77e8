// Scenarios of the diagnostics overhead bench (diagnostics.mjs). Imported once per build with
// `?core=<url>`, so every build gets its own copy of this code and its call sites stay monomorphic.
const core = await import(new URL(import.meta.url).searchParams.get('core'))

/** Each scenario: () => sample(n) resolving when n operations are done. */
export const scenarios = {
  'Lock acquire/release, uncontended': () => {
    const lock = new core.Lock()
    return async (n) => {
      for (let i = 0; i < n; i++) (await lock.acquire()).release()
    }
  },
  'Lock tryAcquire/release': () => {
    const lock = new core.Lock()
    return async (n) => {
      for (let i = 0; i < n; i++) lock.tryAcquire().release()
    }
  },
  'Lock, 8 tasks contending': () => {
    const lock = new core.Lock()
    return (n) =>
      Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = 0; i < n / 8; i++) {
            const g = await lock.acquire()
            await null
            g.release()
          }
        }),
      )
  },
  'Semaphore(4), 16 tasks contending': () => {
    const sem = new core.Semaphore(4)
    return (n) =>
      Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let i = 0; i < n / 16; i++) {
            const g = await sem.acquire()
            await null
            g.release()
          }
        }),
      )
  },
  'KeyedLock acquire/release, 64 keys': () => {
    const locks = new core.KeyedLock()
    return async (n) => {
      for (let i = 0; i < n; i++) (await locks.acquire(i & 63)).release()
    }
  },
  'Event wait (already set)': () => {
    const ev = new core.Event()
    ev.set()
    return async (n) => {
      for (let i = 0; i < n; i++) await ev.wait()
    }
  },
  'SingleFlight run, 8 callers per key': () => {
    const group = new core.SingleFlight({ detectReentrancy: false })
    let k = 0
    return async (n) => {
      for (let i = 0; i < n; i += 8) {
        const key = k++
        const fn = async () => key
        await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(() => group.run(key, fn)))
      }
    }
  },
  'SingleFlightCache hit': () => {
    const cache = new core.SingleFlightCache({ detectReentrancy: false })
    const load = () => 1
    return async (n) => {
      for (let i = 0; i < n; i++) await cache.getOrSet('hot', load)
    }
  },
  'SingleFlightCache miss + load, 8 coalesced': () => {
    const cache = new core.SingleFlightCache({ detectReentrancy: false, max: 1_000 })
    let k = 0
    const load = async ({ key }) => key
    return async (n) => {
      for (let i = 0; i < n; i += 8) {
        const key = k++
        await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(() => cache.getOrSet(key, load)))
      }
    }
  },
}
