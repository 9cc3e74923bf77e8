import assert from 'node:assert/strict'
import { SingleFlightCache } from '@yieldpoint/core'
import { tick } from './db'

let upstreamCalls = 0
async function loadProduct(id: string) {
  upstreamCalls++
  await tick()
  return { id, name: `product ${id}` }
}

// #region naive
const naive = new Map<string, { id: string; name: string }>()
async function getProduct(id: string) {
  const hit = naive.get(id)
  if (hit) return hit
  const product = await loadProduct(id) // every concurrent miss gets here
  naive.set(id, product)
  return product
}
// #endregion naive

await Promise.all(Array.from({ length: 100 }, () => getProduct('42')))
assert.equal(upstreamCalls, 100)

// #region fixed
const products = new SingleFlightCache<string, { id: string; name: string }>({ ttl: 5_000 })
const getProductOnce = (id: string) => products.getOrSet(id, ({ key }) => loadProduct(key))
// #endregion fixed

upstreamCalls = 0
await Promise.all(Array.from({ length: 100 }, () => getProductOnce('42')))
assert.equal(upstreamCalls, 1)
