import assert from 'node:assert/strict'
import { Lock } from '@yieldpoint/core'
import { fakeDb } from './db'

const db = fakeDb({ stock: 10 })
const lock = new Lock()

// #region naive
async function sell(n: number) {
  const stock = (await db.get('stock')) ?? 0 // read outside the lock…
  await lock.runExclusive(() => db.set('stock', stock - n)) // …so the lock guards a stale value
}
// #endregion naive

await Promise.all(Array.from({ length: 5 }, () => sell(1)))
assert.equal(await db.get('stock'), 9) // five sold, one recorded

// #region fixed
async function safeSell(n: number) {
  // the critical section starts at the read: read, compute and write are one step
  await lock.runExclusive(async () => {
    const stock = (await db.get('stock')) ?? 0
    await db.set('stock', stock - n)
  })
}
// #endregion fixed

await db.set('stock', 10)
await Promise.all(Array.from({ length: 5 }, () => safeSell(1)))
assert.equal(await db.get('stock'), 5)
