import assert from 'node:assert/strict'
import { Lock } from '@yieldpoint/core'
import { fakeDb } from './db'

const db = fakeDb({ balance: 0 })

// #region naive
async function deposit(amount: number) {
  const balance = (await db.get('balance')) ?? 0 // ← yield point: the others read here too
  await db.set('balance', balance + amount) //      ← each writes 0 + 1
}
// #endregion naive

await Promise.all(Array.from({ length: 10 }, () => deposit(1)))
assert.equal(await db.get('balance'), 1) // nine deposits lost

// #region fixed
const lock = new Lock()
async function safeDeposit(amount: number) {
  using _ = await lock.acquire() // released when the block ends, even if it throws
  const balance = (await db.get('balance')) ?? 0
  await db.set('balance', balance + amount)
}
// #endregion fixed

await db.set('balance', 0)
await Promise.all(Array.from({ length: 10 }, () => safeDeposit(1)))
assert.equal(await db.get('balance'), 10)
