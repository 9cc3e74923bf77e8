import { type Barrier, Condition, type Lock, type Semaphore } from '@yieldpoint/core'

/** A stand-in for I/O: each `await` is a point where another task runs. */
const io = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * The lost-update race: every task reads the counter, awaits, computes, awaits, writes.
 * Without a lock every task reads 0 before any writes, so 10,000 increments leave `1`.
 */
export async function counter(tasks: number, lock?: Lock): Promise<number> {
  let count = 0
  const increment = async (): Promise<void> => {
    const value = count
    await io()
    const next = value + 1
    await io()
    count = next
  }
  await Promise.all(Array.from({ length: tasks }, () => (lock ? lock.runExclusive(increment) : increment())))
  return count
}

/** Peak number of tasks inside the "partner API" at once, with and without a Semaphore. */
export async function peakConcurrency(tasks: number, sem?: Semaphore): Promise<number> {
  let inside = 0
  let peak = 0
  const call = async (): Promise<void> => {
    inside++
    peak = Math.max(peak, inside)
    await io()
    inside--
  }
  await Promise.all(Array.from({ length: tasks }, () => (sem ? sem.runExclusive(call) : call())))
  return peak
}

/**
 * Producer/consumer over a bounded buffer with a Condition: returns how many items were
 * consumed and the largest the buffer ever got (it must never exceed `capacity`).
 */
export async function producerConsumer(items: number, consumers: number, capacity: number): Promise<{ consumed: number; maxBuffer: number }> {
  const cond = new Condition()
  const buffer: number[] = []
  let maxBuffer = 0
  let consumed = 0
  let done = false
  const producer = async (): Promise<void> => {
    for (let i = 0; i < items; i++) {
      await cond.acquire()
      try {
        await cond.waitFor(() => buffer.length < capacity)
        buffer.push(i)
        maxBuffer = Math.max(maxBuffer, buffer.length)
        cond.notifyAll()
      } finally {
        cond.release()
      }
      if (i % 25 === 24) await io() // bursty: the buffer fills and the producer must wait
    }
    await cond.acquire()
    done = true
    cond.notifyAll()
    cond.release()
  }
  const consumer = async (): Promise<void> => {
    for (;;) {
      await cond.acquire()
      try {
        await cond.waitFor(() => buffer.length > 0 || done)
        if (buffer.length === 0) return
        buffer.shift()
        consumed++
        cond.notifyAll()
      } finally {
        cond.release()
      }
      await io()
    }
  }
  await Promise.all([producer(), ...Array.from({ length: consumers }, consumer)])
  return { consumed, maxBuffer }
}

/**
 * Workers run phases; a worker must not start phase k+1 before every worker finished phase k.
 * Returns how many times that rule was broken (0 with a Barrier).
 */
export async function phases(workers: number, rounds: number, barrier?: Barrier): Promise<number> {
  const finished = new Array<number>(rounds).fill(0)
  let violations = 0
  const worker = async (id: number): Promise<void> => {
    for (let phase = 0; phase < rounds; phase++) {
      if (phase > 0 && finished[phase - 1]! < workers) violations++
      for (let step = 0; step <= id; step++) await io() // uneven work per worker
      finished[phase]!++
      if (barrier) await barrier.wait()
    }
  }
  await Promise.all(Array.from({ length: workers }, (_, id) => worker(id)))
  return violations
}
