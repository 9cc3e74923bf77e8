import assert from 'node:assert/strict'
import { Lock, SingleFlightCache } from '@yieldpoint/core'
import { deferred } from './db'

// "slow" takes as long as we decide; "fast" answers at once.
const slow = deferred<string>()
const load = (key: string) => (key === 'slow' ? slow.promise : Promise.resolve(`value of ${key}`))

// #region naive
const lock = new Lock()
const cache = new Map<string, string>()
async function get(key: string) {
  return lock.runExclusive(async () => {
    // one lock for every key: a miss on "fast" waits for the load of "slow"
    if (!cache.has(key)) cache.set(key, await load(key))
    return cache.get(key)!
  })
}
// #endregion naive

const order: string[] = []
const a = get('slow').then(() => order.push('slow'))
const b = get('fast').then(() => order.push('fast'))
setImmediate(() => slow.resolve('value of slow'))
await Promise.all([a, b])
assert.deepEqual(order, ['slow', 'fast']) // fast waited behind slow

// #region fixed
const perKey = new SingleFlightCache<string, string>()
const getPerKey = (key: string) => perKey.getOrSet(key, ({ key }) => load(key))
// #endregion fixed

const slow2 = deferred<string>()
const order2: string[] = []
const c = perKey.getOrSet('slow', () => slow2.promise).then(() => order2.push('slow'))
const d = getPerKey('fast').then(() => order2.push('fast'))
await d
slow2.resolve('value of slow')
await c
assert.deepEqual(order2, ['fast', 'slow']) // keys no longer wait for each other
