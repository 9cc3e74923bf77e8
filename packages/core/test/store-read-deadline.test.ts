// A caller's timeout/signal count from its call: they cover the cache's read of a store that
// does not answer (a hung Redis), not only the wait for the load.
import { describe, expect, it } from 'vitest'
import { SingleFlightCache, TimeoutError, type Store } from '../src'

function hungStore(): Store<string, string> & { reads: number } {
  const store = {
    reads: 0,
    get: () => (store.reads++, new Promise<undefined>(() => {})),
    set: () => {},
    delete: () => {},
    clear: () => {},
  }
  return store
}

describe('SingleFlightCache over a store whose read never answers', () => {
  it('a caller with a timeout rejects with TimeoutError; one with a signal with its reason; a second caller of the same read too', async () => {
    const store = hungStore()
    const cache = new SingleFlightCache<string, string>({ ttl: 1_000, store })
    const timedOut = cache.getOrSet('k', () => 'v', { timeout: 1 }).catch((e: unknown) => e)
    const controller = new AbortController()
    const aborted = cache.getOrSet('k', () => 'v', { signal: controller.signal }).catch((e: unknown) => e) // joins the pending read
    const reason = new Error('gone')
    controller.abort(reason)
    expect(await aborted).toBe(reason)
    expect(await timedOut).toBeInstanceOf(TimeoutError)
    expect(store.reads).toBe(1)
  })
})
