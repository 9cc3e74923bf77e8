// Every cache behind one shape: create() → cache; get(cache, key, load) → Promise<value>.
// `load(key)` is the origin; each library coalesces concurrent misses its own way.
import { SingleFlightCache } from '@yieldpoint/core'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { createCache } from 'cache-manager'
import { LRUCache } from 'lru-cache'
import pMemoize from 'p-memoize'

const TTL = 600_000
const MAX = 100_000

export const cacheAdapters = {
  yieldpoint: {
    create: () => new SingleFlightCache({ ttl: TTL, max: MAX }),
    get: (c, key, load) => c.getOrSet(key, ({ key: k }) => load(k)),
  },
  // Re-entrancy detection forced on (the default is on only where AsyncLocalStorage is cheap,
  // Node >= 24; see the core README): what it costs on this runtime.
  'yieldpoint (detectReentrancy: true)': {
    create: () => new SingleFlightCache({ ttl: TTL, max: MAX, detectReentrancy: true }),
    get: (c, key, load) => c.getOrSet(key, ({ key: k }) => load(k)),
  },
  'lru-cache fetch': {
    create: () => new LRUCache({ max: MAX, ttl: TTL, fetchMethod: (k, _stale, { context }) => context(k) }),
    get: (c, key, load) => c.fetch(key, { context: load }),
  },
  'p-memoize': {
    // memoizes one function: the origin is fixed per cache instance
    create: () => ({ memo: undefined }),
    get: (c, key, load) => (c.memo ??= pMemoize(load, { cache: new Map() }))(key),
  },
  'cache-manager wrap': {
    create: () => createCache({ ttl: TTL }),
    get: (c, key, load) => c.wrap(key, () => load(key), TTL),
  },
  bentocache: {
    create: () => new BentoCache({ default: 'memory', stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: MAX })) } }),
    get: (c, key, load) => c.getOrSet({ key, factory: () => load(key), ttl: TTL }),
  },
}
