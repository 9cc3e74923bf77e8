// Each implementation behind one shape, so the scenario code can stay the same:
//   lock-style: create(permits) → lock; acquire(lock) → Promise<token>; release(lock, token)
//   run-style:  create(permits) → lock; run(lock, fn) → Promise (p-limit has no acquire/release)
import { Lock, Semaphore } from '@yieldpoint/core'
import { Mutex as AMMutex, Semaphore as AMSemaphore } from 'async-mutex'
import { Sema } from 'async-sema'
import AwaitLock from 'await-lock'
import pLimit from 'p-limit'

const RESOLVED = Promise.resolve()

/** The floor: a ~30-line FIFO semaphore (permit counter, shared resolved promise on the fast
 * path, array-with-head-index queue of resolvers, direct hand-off on release). */
export class MinimalSemaphore {
  constructor(permits = 1) {
    this.permits = permits
    this.queue = []
    this.head = 0
  }
  acquire() {
    if (this.permits > 0 && this.head === this.queue.length) {
      this.permits--
      return RESOLVED
    }
    return new Promise((resolve) => this.queue.push(resolve))
  }
  release() {
    if (this.head < this.queue.length) {
      const next = this.queue[this.head]
      this.queue[this.head++] = undefined
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head)
        this.head = 0
      }
      next()
    } else this.permits++
  }
}

/** A grant of {@link GuardMinSemaphore}: `release()` is idempotent — a guard whose grant was
 * already released is a no-op, so a stale handle cannot release a later holder. */
class MinGuard {
  constructor(sem) {
    this.sem = sem
  }
  release() {
    const sem = this.sem
    if (sem === undefined) return
    this.sem = undefined
    sem.releaseGrant()
  }
}

/** The floor for an API that hands out a guard per grant: baseline-min with one change —
 * `acquire()` and the hand-off in `release()` resolve a fresh small class instance. Resolving a
 * promise with an object costs V8 a `Get(value, "then")`, which no guard API can avoid. */
export class GuardMinSemaphore {
  constructor(permits = 1) {
    this.permits = permits
    this.queue = []
    this.head = 0
  }
  acquire() {
    if (this.permits > 0 && this.head === this.queue.length) {
      this.permits--
      return Promise.resolve(new MinGuard(this))
    }
    return new Promise((resolve) => this.queue.push(resolve))
  }
  releaseGrant() {
    if (this.head < this.queue.length) {
      const next = this.queue[this.head]
      this.queue[this.head++] = undefined
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head)
        this.head = 0
      }
      next(new MinGuard(this))
    } else this.permits++
  }
}

export const adapters = {
  'baseline-min': {
    floor: true,
    create: (permits) => new MinimalSemaphore(permits),
    acquire: (l) => l.acquire(),
    release: (l) => l.release(),
  },
  'guard-min': {
    floor: true,
    create: (permits) => new GuardMinSemaphore(permits),
    acquire: (l) => l.acquire(),
    release: (_l, guard) => guard.release(),
  },
  yieldpoint: {
    create: (permits) => (permits === 1 ? new Lock() : new Semaphore(permits)),
    acquire: (l) => l.acquire(),
    release: (_l, guard) => guard.release(),
  },
  'async-mutex': {
    create: (permits) => (permits === 1 ? new AMMutex() : new AMSemaphore(permits)),
    acquire: (l) => l.acquire(),
    release: (_l, token) => (typeof token === 'function' ? token() : token[1]()),
  },
  'async-sema': {
    create: (permits) => new Sema(permits),
    acquire: (l) => l.acquire(),
    release: (l) => l.release(),
  },
  'await-lock': {
    mutexOnly: true,
    create: () => new AwaitLock(),
    acquire: (l) => l.acquireAsync(),
    release: (l) => l.release(),
  },
  'p-limit': {
    create: (permits) => pLimit(permits),
    run: (limit, fn) => limit(fn),
  },
}
