import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DeadlockError, detectMisuse, InvalidArgumentError, KeyedLock, Lock, Semaphore, YieldpointError } from '../src'

const cleanups: Array<() => void> = []
afterEach(() => {
  while (cleanups.length) cleanups.pop()!()
  vi.useRealTimers()
})

/** Collects the process warnings emitted until the test ends. */
function warnings(): Error[] {
  const seen: Error[] = []
  const fn = (w: Error): void => void seen.push(w)
  process.on('warning', fn)
  cleanups.push(() => process.off('warning', fn))
  return seen
}

/** emitWarning delivers on the next tick. */
const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve))

const thisFile = fileURLToPath(import.meta.url)

describe('warnAfter', () => {
  it('warns once a hold outlives warnAfter, with the acquire site, and never releases it', async () => {
    vi.useFakeTimers()
    const seen = warnings()
    const lock = new Lock({ name: 'ledger', warnAfter: 1_000 })
    const guard = await lock.acquire()
    await vi.advanceTimersByTimeAsync(999)
    await nextTick()
    expect(seen).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    await nextTick()
    expect(seen).toHaveLength(1)
    const w = seen[0] as Error & { code: string; detail: string }
    expect(w.name).toBe('YieldpointWarning')
    expect(w.code).toBe('YP_HELD_TOO_LONG')
    expect(w.message).toContain('Lock "ledger" has been held for more than 1000 ms')
    expect(w.message).toContain(thisFile)
    expect(w.detail).toContain(thisFile)
    expect(w.stack).toContain(thisFile)
    // Exclusion is sacred: still held, and a waiter still waits.
    expect(lock.locked()).toBe(true)
    const next = lock.acquire()
    await vi.advanceTimersByTimeAsync(0)
    expect(lock.statistics().waiting).toBe(1)
    guard.release()
    ;(await next).release()
  })

  it('is silent for a hold released in time, and its timer is gone', async () => {
    vi.useFakeTimers()
    const seen = warnings()
    const sem = new Semaphore(2, { warnAfter: 100 })
    const g = await sem.acquire()
    await vi.advanceTimersByTimeAsync(50)
    g.release()
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(1_000)
    await nextTick()
    expect(seen).toEqual([])
  })

  it('can be set for every primitive at once with detectMisuse(); the per-primitive option wins', async () => {
    vi.useFakeTimers()
    const seen = warnings()
    cleanups.push(detectMisuse({ warnAfter: 200 }))
    const keys = new KeyedLock<string>({ name: 'accounts' })
    const slow = new Lock({ warnAfter: 10_000 })
    const k = await keys.acquire('acct:1')
    const s = await slow.acquire()
    await vi.advanceTimersByTimeAsync(200)
    await nextTick()
    expect(seen.map((w) => w.message.split(' has been')[0])).toEqual(['KeyedLock "accounts" (key acct:1)'])
    k.release()
    s.release()
  })

  it('rejects a malformed warnAfter at creation', () => {
    expect(() => new Lock({ warnAfter: 0 })).toThrow(InvalidArgumentError)
    expect(() => detectMisuse({ warnAfter: Number.NaN })).toThrow(InvalidArgumentError)
    expect(() => detectMisuse({ leakedGuards: 'yes' as unknown as boolean })).toThrow(InvalidArgumentError)
  })
})

describe('DeadlockError', () => {
  it('re-acquiring a Lock inside its own runExclusive rejects instead of hanging', async () => {
    const lock = new Lock({ name: 'db', detectDeadlock: true })
    const error = await lock.runExclusive(() => lock.acquire()).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DeadlockError)
    expect(error).toBeInstanceOf(YieldpointError)
    expect((error as DeadlockError).code).toBe('ERR_YP_DEADLOCK')
    expect((error as Error).message).toContain('Lock("db").acquire()')
    await expect(lock.runExclusive(async () => lock.runExclusive(async () => 1))).rejects.toBeInstanceOf(DeadlockError)
    expect(lock.locked()).toBe(false)
  })

  it('KeyedLock: the same key rejects, another key does not; acquireMany too', async () => {
    const locks = new KeyedLock<string>({ detectDeadlock: true })
    await expect(locks.runExclusive('a', () => locks.acquire('a'))).rejects.toBeInstanceOf(DeadlockError)
    await expect(locks.runExclusive('a', () => locks.runExclusive('b', async () => 'ok'))).resolves.toBe('ok')
    await expect(locks.runExclusive('a', () => locks.acquireMany(['b', 'a']))).rejects.toBeInstanceOf(DeadlockError)
    expect(locks.size).toBe(0)
  })

  it('no false alarm: sibling tasks of one context, and a scope that already ended', async () => {
    const lock = new Lock({ detectDeadlock: true })
    const order: number[] = []
    await Promise.all([1, 2, 3].map((i) => lock.runExclusive(async () => void order.push(i))))
    expect(order).toEqual([1, 2, 3])
    await lock.runExclusive(async () => {})
    ;(await lock.acquire()).release()
    // A guard taken inside another lock's scope is not this lock's scope.
    const other = new Lock({ detectDeadlock: true })
    await other.runExclusive(async () => (await lock.acquire()).release())
  })

  it.runIf(Number(process.versions.node.split('.')[0]) >= 24)('is on by default where AsyncLocalStorage is cheap (Node ≥ 24)', async () => {
    const lock = new Lock()
    await expect(lock.runExclusive(() => lock.acquire())).rejects.toBeInstanceOf(DeadlockError)
  })

  it('is off when detectDeadlock is false, or forced on for every lock with detectMisuse()', async () => {
    const off = new Lock({ detectDeadlock: false })
    const inner = off.runExclusive(() => off.tryAcquire())
    await expect(inner).resolves.toBeUndefined()
    cleanups.push(detectMisuse({ detectDeadlock: true }))
    const on = new Lock()
    await expect(on.runExclusive(() => on.acquire())).rejects.toBeInstanceOf(DeadlockError)
  })
})

/** Runs `test/fixtures/<file>` in a child Node and returns its stderr. */
function child(file: string, args: string[] = []): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...args, '--import', 'tsx', fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url))], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    p.on('error', reject)
    p.on('close', (code) => resolve({ code, stderr }))
  })
}

describe('leaks and exit', () => {
  it('a guard garbage-collected without release warns, naming where it was acquired', async () => {
    const { code, stderr } = await child('leaked-guard.ts', ['--expose-gc'])
    expect(code).toBe(0)
    expect(stderr).toContain('[YP_GUARD_LEAKED]')
    expect(stderr).toContain('a Guard of Lock "orphan" was garbage-collected without being released')
    expect(stderr).toContain('leaked-guard.ts')
    // The released guard did not warn.
    expect(stderr.match(/YP_GUARD_LEAKED/g)).toHaveLength(1)
  })

  it('holds still held and waits still pending are reported when the process is about to exit', async () => {
    const { code, stderr } = await child('pending-at-exit.ts')
    expect(code).toBe(0)
    expect(stderr).toContain('[YP_HELD_AT_EXIT]')
    expect(stderr).toContain('the process is about to exit while Lock "db" is still held')
    expect(stderr).toContain('[YP_PENDING_AT_EXIT]')
    expect(stderr).toContain('waits that will never be granted: 2 on Lock "db", 1 on Event "ready"')
    expect(stderr).toContain('pending-at-exit.ts')
  })
})
