import assert from 'node:assert/strict'
import { KeyedLock } from '@yieldpoint/core'
import { fakeDb } from './db'

const seats = fakeDb<number>({ 'show:1': 3 })
const sold: string[] = []

// #region naive
async function book(show: string, user: string) {
  const left = (await seats.get(show)) ?? 0
  if (left === 0) throw new Error('sold out') // the check…
  await seats.set(show, left - 1) //              …and the act, with a yield point between them
  sold.push(user)
}
// #endregion naive

await Promise.allSettled(Array.from({ length: 10 }, (_, i) => book('show:1', `u${i}`)))
assert.equal(sold.length, 10) // 3 seats, 10 tickets sold

// #region fixed
const shows = new KeyedLock<string>()
async function safeBook(show: string, user: string) {
  // check and act under the show's lock: other shows are not held up
  await shows.runExclusive(show, async () => {
    const left = (await seats.get(show)) ?? 0
    if (left === 0) throw new Error('sold out')
    await seats.set(show, left - 1)
    sold.push(user)
  })
}
// #endregion fixed

sold.length = 0
await seats.set('show:1', 3)
await Promise.allSettled(Array.from({ length: 10 }, (_, i) => safeBook('show:1', `u${i}`)))
assert.equal(sold.length, 3)
