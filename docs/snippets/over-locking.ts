import assert from 'node:assert/strict'
import { KeyedLock, Lock } from '@yieldpoint/core'
import { tick } from './db'

let running = 0
let peak = 0
async function transfer(account: string) {
  running++
  peak = Math.max(peak, running)
  await tick()
  running--
  return account
}
const accounts = ['a', 'b', 'c', 'd']

// #region naive
const everything = new Lock()
const naiveTransfer = (account: string) => everything.runExclusive(() => transfer(account))
// #endregion naive

await Promise.all(accounts.map(naiveTransfer))
assert.equal(peak, 1) // four unrelated accounts, one at a time

// #region fixed
const perAccount = new KeyedLock<string>()
const keyedTransfer = (account: string) => perAccount.runExclusive(account, () => transfer(account))
// #endregion fixed

peak = 0
await Promise.all(accounts.map(keyedTransfer))
assert.equal(peak, 4) // each account is still serialised with itself, not with the others
