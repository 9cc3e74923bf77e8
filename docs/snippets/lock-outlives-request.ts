import assert from 'node:assert/strict'
import { Lock } from '@yieldpoint/core'

const lock = new Lock()

// #region naive
async function handle(work: () => Promise<void>) {
  await lock.acquire()
  await work() // throws → release() never runs
  lock.release()
}
// #endregion naive

await handle(() => Promise.reject(new Error('upstream failed'))).catch(() => {})
assert.equal(lock.locked(), true) // held forever: every later request waits for nobody

// #region fixed
const safe = new Lock()
async function safeHandle(work: () => Promise<void>, req: { signal: AbortSignal }) {
  // the request's signal: a client that went away stops waiting; timeout bounds the wait
  using _ = await safe.acquire({ signal: req.signal, timeout: 2_000 })
  await work() // the guard is released when the block ends, thrown or not
}
// #endregion fixed

await safeHandle(() => Promise.reject(new Error('upstream failed')), { signal: new AbortController().signal }).catch(() => {})
assert.equal(safe.locked(), false)

// a request whose client disconnected while it waited leaves the queue with the signal's reason
const holder = await safe.acquire()
const gone = new AbortController()
const waiting = safeHandle(async () => {}, { signal: gone.signal })
gone.abort(new Error('client closed'))
await assert.rejects(waiting, /client closed/)
holder.release()
assert.equal(safe.locked(), false)
