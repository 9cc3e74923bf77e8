// Imported once per implementation (`scenarios.mjs?impl=NAME`) so each library gets its own
// inline caches: shared call sites would go megamorphic and slow every row.

/** A: one task, sequential acquire + release. */
export async function uncontended(a, lock, ops) {
  const start = performance.now()
  if (a.run) {
    const noop = () => undefined
    for (let i = 0; i < ops; i++) await a.run(lock, noop)
  } else {
    for (let i = 0; i < ops; i++) {
      const t = await a.acquire(lock)
      a.release(lock, t)
    }
  }
  return performance.now() - start
}

/**
 * B/C: `n` tasks queued at once, each `acquire; await null; release`. Checks mutual exclusion
 * and FIFO order on every sample. `deadline` (ms, from the end of enqueueing) abandons a sample
 * that goes quadratic: it freezes the lock and reports the rate it was going at.
 */
export async function contended(a, lock, n, permits, deadline) {
  let inside = 0
  let maxInside = 0
  let nextInOrder = 0
  let fifoBreaks = 0
  let done = 0
  let frozen = false
  // The critical section's checks, split in two synchronous halves so every task stays exactly
  // `acquire; await null; release` (scenario B): exclusion, FIFO, freeze.
  const enter = (i) => {
    if (frozen) return false
    inside++
    if (inside > maxInside) maxInside = inside
    if (permits === 1 && i !== nextInOrder) fifoBreaks++
    nextInOrder = i + 1
    return true
  }
  const exit = () => {
    inside--
    done++
  }
  const runTask = a.run
    ? (i) =>
        a.run(lock, async () => {
          if (!enter(i)) return
          await null
          exit()
        })
    : async (i) => {
        const t = await a.acquire(lock)
        if (!enter(i)) return
        await null
        exit()
        if (!frozen) a.release(lock, t)
      }
  const start = performance.now()
  const all = new Array(n)
  let abandoned = false
  for (let i = 0; i < n; i++) {
    all[i] = runTask(i)
    if ((i & 255) === 255 && performance.now() - start > deadline * 2) {
      abandoned = true
      break
    }
  }
  const enqueued = performance.now()
  let timer
  const finished = abandoned
    ? 'timeout'
    : await Promise.race([
        Promise.all(all).then(() => 'done'),
        new Promise((r) => (timer = setTimeout(r, Math.max(1, deadline - (enqueued - start)), 'timeout'))),
      ])
  clearTimeout(timer)
  if (finished === 'timeout') frozen = true
  const elapsed = performance.now() - start
  return { elapsed, done, abandoned: finished === 'timeout', maxInside, fifoBreaks }
}

/** Heap probe, step 1: every lock gets a holder that never releases. */
export async function holdAll(a, locks) {
  for (const lock of locks) {
    if (a.run) a.run(lock, () => new Promise(() => {}))
    else await a.acquire(lock)
  }
}

/** Heap probe, step 2: `waiters` suspended tasks parked behind those holders. */
export function park(a, locks, waiters) {
  const per = Math.ceil(waiters / locks.length)
  const parked = []
  for (const lock of locks) {
    for (let i = 0; i < per; i++) {
      parked.push(a.run ? a.run(lock, () => undefined) : (async () => a.release(lock, await a.acquire(lock)))())
    }
  }
  return parked
}

/** The floor: a loop of `await null`. */
export async function awaitNull(ops) {
  const start = performance.now()
  for (let i = 0; i < ops; i++) await null
  return performance.now() - start
}

/**
 * D: the counter race. `tasks` tasks at once, each `acquire; v = count; await null; next = v + 1;
 * await null; count = next; release`. Returns the final count (must equal `tasks`; a lock that
 * lets two tasks in loses updates). `lock === undefined` runs it unlocked (gives 1).
 */
export async function counterRace(a, lock, tasks) {
  let count = 0
  const body = async () => {
    const v = count
    await null
    const next = v + 1
    await null
    count = next
  }
  const task =
    lock === undefined
      ? body
      : a.run
        ? () => a.run(lock, body)
        : async () => {
            const t = await a.acquire(lock)
            const v = count
            await null
            const next = v + 1
            await null
            count = next
            a.release(lock, t)
          }
  const start = performance.now()
  const all = new Array(tasks)
  for (let i = 0; i < tasks; i++) all[i] = task()
  await Promise.all(all)
  return { elapsed: performance.now() - start, count }
}
