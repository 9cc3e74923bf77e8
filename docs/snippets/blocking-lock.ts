import assert from 'node:assert/strict'
import { Lock } from '@yieldpoint/core'
import { tick } from './db'

// #region naive
let busy = false
function spinAcquire(maxSpins: number): boolean {
  // a "lock" that waits by looping: while it loops, nothing else on this thread runs —
  // including the holder, which would have to run to set busy = false
  for (let i = 0; i < maxSpins; i++) if (!busy) return (busy = true)
  return false
}
// #endregion naive

busy = true
setImmediate(() => (busy = false)) // the holder would release on its next turn…
assert.equal(spinAcquire(1_000_000), false) // …but a million spins never let it run
await tick()
assert.equal(busy, false)

// #region fixed
const lock = new Lock()
const holder = await lock.acquire()
setImmediate(() => holder.release()) // runs, because the waiter below yields
const guard = await lock.acquire() // parks the caller; the event loop keeps serving others
guard.release()
// #endregion fixed
assert.equal(lock.locked(), false)
