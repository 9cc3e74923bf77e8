// Many processes, one Redis (or one Redis Cluster): SF-28..SF-36 of the single-flight design,
// for ioredis and node-redis. Tests order events (the origin holds an answer until the test
// releases it) instead of relying on how long anything takes, so a busy machine cannot flip them.
import type { Cluster, Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { admin, flushAll, masters, type Lib } from './clients'
import { startOrigin, startWorker, until, type Origin, type Worker } from './harness'
import type { Config } from './worker'
import { matrix } from './matrix'
import { startRedis, type RedisServer } from './redis-server'

type Burst = { values: string[]; fulfilled: number; errors: { name: string; message: string; code?: string }[]; elapsedMs: number }

// Long enough never to elapse during a test: reaching a result proves it came by the fast path.
const NEVER = '600000'

let origin: Origin
beforeAll(async () => {
  origin = await startOrigin()
})
afterAll(() => {
  origin.server.close()
})
afterEach(() => {
  origin.failing.clear()
})

/** Subscribers of `channel` over every node (a cluster counts them per node). */
async function subscribers(redis: Redis | Cluster, channel: string): Promise<number> {
  const counts = await Promise.all(masters(redis).map((n) => n.pubsub('NUMSUB', channel).then((r) => Number((r as [string, number])[1]))))
  return counts.reduce((a, b) => a + b, 0)
}

interface Handle {
  send<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>
  kill(signal?: NodeJS.Signals): void
}

/**
 * Worker processes of one lib × topology, reused from test to test (each command carries its
 * test's configuration): spawning is the slow part on a busy machine.
 */
class Pool {
  private workers: Worker[] = []
  private used = 0
  constructor(private readonly env: () => Record<string, string>) {}

  /** `n` workers not yet used by this test, each sending `cfg` with every command. */
  async take(n: number, cfg: Config = {}): Promise<Handle[]> {
    const missing = this.used + n - this.workers.length
    if (missing > 0) this.workers.push(...(await Promise.all(Array.from({ length: missing }, () => startWorker({ ...this.env(), ORIGIN: origin.url })))))
    const picked = this.workers.slice(this.used, this.used + n)
    this.used += n
    return picked.map((w) => ({
      send: <T>(op: string, args: Record<string, unknown> = {}) => w.send<T>(op, { ...args, cfg }),
      kill: (signal?: NodeJS.Signals) => {
        w.kill(signal)
        const at = this.workers.indexOf(w)
        if (at < 0) return
        this.workers.splice(at, 1)
        if (at < this.used) this.used--
      },
    }))
  }

  async reset(): Promise<void> {
    this.used = 0
    // A worker that died (a failed test) is replaced the next time one is needed.
    this.workers = this.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null)
    await Promise.all(this.workers.map((w) => w.send('reset')))
  }

  close(): void {
    for (const w of this.workers.splice(0)) w.kill('SIGKILL')
  }
}

describe.each(matrix())('$name: many processes, one Redis (docs/conformance/single-flight.md SF-28..SF-36)', ({ lib, target }) => {
  let redis: Redis | Cluster
  const pool = new Pool(() => ({ REDIS_LIB: lib, REDIS_TARGET: JSON.stringify(target) }))
  const spawnWorkers = (n: number, cfg?: Config) => pool.take(n, cfg)
  beforeAll(async () => {
    redis = admin(target)
    await pool.take(4) // start them all at once
    await pool.reset()
  })
  afterAll(() => {
    pool.close()
    redis.disconnect()
  })
  afterEach(async () => {
    await pool.reset()
    await flushAll(redis)
  })

  it('SF-28: 4 processes × 250 concurrent callers on a cold key → exactly 1 origin call, one value', async () => {
    const ws = await spawnWorkers(4)
    const key = `sf28-${lib}-${target.topology}`
    const bursts = await Promise.all(ws.map((w) => w.send<Burst>('getOrSet', { key, n: 250 })))
    expect(origin.calls(key)).toBe(1)
    expect(bursts.every((b) => b.fulfilled === 250 && b.errors.length === 0)).toBe(true)
    expect(new Set(bursts.flatMap((b) => b.values)).size).toBe(1)
  })

  it('SF-29: the leader is SIGKILLed mid-load → one follower takes over when the lease ends; 2 origin calls', async () => {
    const key = `sf29-${lib}-${target.topology}`
    origin.hold(key) // the leader never gets its answer
    const [leader] = await spawnWorkers(1, { LOCK_TTL: '1000' })
    const leaderBurst = leader!.send('getOrSet', { key, n: 10 }).catch(() => 'killed')
    await until(() => origin.calls(key) === 1, 'the leader to call the origin')
    const followers = await spawnWorkers(3, { LOCK_TTL: NEVER, POLL: '100' }) // their own lease must outlast a busy machine
    const pending = followers.map((w) => w.send<Burst>('getOrSet', { key, n: 20 }))
    leader!.kill('SIGKILL')
    expect(await leaderBurst).toBe('killed')
    const bursts = await Promise.all(pending)
    expect(bursts.every((b) => b.fulfilled === 20)).toBe(true)
    expect(new Set(bursts.flatMap((b) => b.values)).size).toBe(1)
    expect(origin.calls(key)).toBe(2)
  })

  it('SF-30: a load longer than the lease, with the watchdog → the lease is refreshed, no second leader', async () => {
    const key = `sf30-${lib}-${target.topology}`
    const release = origin.hold(key)
    const ws = await spawnWorkers(3, { LOCK_TTL: '6000', POLL: '50' }) // refreshed every 2 s: 4 s of slack for a busy machine
    const first = ws[0]!.send<Burst>('getOrSet', { key, n: 5 })
    await until(() => origin.calls(key) === 1, 'the leader to start')
    const others = ws.slice(1).map((w) => w.send<Burst>('getOrSet', { key, n: 5 }))
    // The lease's remaining time goes up twice: the watchdog extended it (the load outlives one lease).
    let last = Infinity
    let refreshed = 0
    await until(
      async () => {
        const pttl = await redis.pttl(`test:{${key}}:l`)
        if (pttl > last) refreshed++
        last = pttl
        return refreshed >= 2 && pttl > 0
      },
      'two lease refreshes',
      30_000,
    )
    release()
    const bursts = await Promise.all([first, ...others])
    expect(origin.calls(key)).toBe(1)
    expect(bursts.every((b) => b.fulfilled === 5)).toBe(true)
  })

  it('SF-31: a paused leader\u2019s late write is rejected by the fence; the final value is the new leader\u2019s', async () => {
    const key = `sf31-${lib}-${target.topology}`
    const releaseA = origin.hold(key) // A stays paused in its load until B has finished
    const [a] = await spawnWorkers(1, { LOCK_TTL: '400', HEARTBEAT: 'false' })
    const slow = a!.send<Burst>('getOrSet', { key, n: 1 })
    await until(() => origin.calls(key) === 1, 'A to start loading')
    await until(async () => (await redis.exists(`test:{${key}}:l`)) === 0, 'A\u2019s lease to expire')
    const [b] = await spawnWorkers(1, { LOCK_TTL: NEVER, ORIGIN_DELAY: '0' }) // only A's lease is short
    const fresh = await b!.send<Burst>('getOrSet', { key, n: 1 })
    expect(JSON.parse(fresh.values[0]!)).toMatchObject({ call: 2 })
    releaseA()
    const late = await slow // A finishes: its own caller gets v1, but its write is fenced out
    expect(JSON.parse(late.values[0]!)).toMatchObject({ call: 1 })
    const stored = await b!.send('get', { key })
    expect(stored).toMatchObject({ call: 2 })
  })

  it('SF-33: the follower\u2019s subscriber connection is killed (CLIENT KILL) → it still resolves by polling', async () => {
    const key = `sf33-${lib}-${target.topology}`
    const release = origin.hold(key)
    const [leader] = await spawnWorkers(1)
    const lead = leader!.send<Burst>('getOrSet', { key, n: 1 })
    await until(() => origin.calls(key) === 1, 'leader loading')
    const [follower] = await spawnWorkers(1, { POLL: '150' })
    const follow = follower!.send<Burst>('getOrSet', { key, n: 5 })
    await until(async () => (await subscribers(redis, 'test:done')) >= 2, 'both subscribed')
    await Promise.all(masters(redis).map((n) => n.client('KILL', 'TYPE', 'pubsub')))
    release()
    const [l, f] = await Promise.all([lead, follow])
    expect(f.fulfilled).toBe(5)
    expect(f.values).toEqual(l.values)
    expect(origin.calls(key)).toBe(1)
  })

  it('SF-34: a result published between the follower\u2019s miss and its wait is not missed (subscribe, then re-check)', async () => {
    const key = `sf34-${lib}-${target.topology}`
    const release = origin.hold(key)
    const [leader] = await spawnWorkers(1, { LOCK_TTL: NEVER })
    const lead = leader!.send<Burst>('getOrSet', { key, n: 1 })
    await until(() => origin.calls(key) === 1, 'leader loading')
    // The follower stops between its failed lease attempt and its re-check; the leader commits then.
    const [follower] = await spawnWorkers(1, { MISS: 'gate', POLL: NEVER, LOCK_TTL: NEVER })
    const follow = follower!.send<Burst>('getOrSet', { key, n: 1 })
    await until(async () => Number(await redis.get('misses')) === 1, 'the follower to miss')
    release()
    await lead
    await redis.set('go', 1)
    expect((await follow).fulfilled).toBe(1) // neither the lease nor a poll could have ended it
    expect(origin.calls(key)).toBe(1)
  })

  it('SF-35: the leader\u2019s error reaches remote followers (same name/message/code); errorTtl then fails fast everywhere', async () => {
    const key = `sf35-${lib}-${target.topology}`
    origin.failing.add(key)
    const release = origin.hold(key)
    const [leader] = await spawnWorkers(1, { LOCK_TTL: NEVER, ERROR_TTL: '60000' })
    const lead = leader!.send<Burst>('getOrSet', { key, n: 3 })
    await until(() => origin.calls(key) === 1, 'leader loading')
    const followers = await spawnWorkers(2, { MISS: 'count', POLL: NEVER, LOCK_TTL: NEVER, ERROR_TTL: '60000' })
    const pending = followers.map((w) => w.send<Burst>('getOrSet', { key, n: 10 }))
    await until(async () => Number(await redis.get('misses')) === 2, 'both followers to wait for the leader')
    await until(async () => (await subscribers(redis, 'test:done')) >= 3, 'everyone to listen for the outcome') // pub/sub has no history
    release()
    const bursts = await Promise.all(pending) // neither the lease nor a poll could have ended them
    const leaderBurst = await lead
    for (const b of [...bursts, leaderBurst]) {
      expect(b.fulfilled).toBe(0)
      expect(b.errors.every((e) => e.name === 'OriginError' && e.code === 'E_ORIGIN' && e.message === `origin failed for ${key}`)).toBe(true)
    }
    expect(origin.calls(key)).toBe(1)
    const again = await followers[0]!.send<Burst>('getOrSet', { key, n: 1 })
    expect(again.errors[0]).toMatchObject({ message: `origin failed for ${key}` })
    expect(origin.calls(key)).toBe(1) // negative-cached in Redis, no new origin call
  })

  it('SF-36: delete in process A invalidates process B\u2019s L1 over pub/sub', async () => {
    const key = `sf36-${lib}-${target.topology}`
    const [a, b] = await spawnWorkers(2, { L1: '1' })
    await a!.send('getOrSet', { key, n: 1 })
    await b!.send('getOrSet', { key, n: 1 }) // now in both L1s
    expect(origin.calls(key)).toBe(1)
    await until(async () => (await subscribers(redis, 'test:invalidate')) >= 2, 'both to listen for invalidations') // pub/sub has no history
    await a!.send('delete', { key })
    await until(async () => (await b!.send('get', { key })) === null, 'B\u2019s L1 to be invalidated')
    const next = await b!.send<Burst>('getOrSet', { key, n: 1 })
    expect(JSON.parse(next.values[0]!)).toMatchObject({ call: 2 })
  })

  it('lost update: 4 processes × 25 read-await-write increments end at exactly 100 under RedisKeyedLock', async () => {
    const ws = await spawnWorkers(4)
    await Promise.all(ws.map((w) => w.send('increment', { n: 25, locked: false })))
    const unprotected = Number(await redis.get('counter'))
    expect(unprotected).toBeLessThan(100) // each process reads all its values before it writes any
    await redis.set('counter', 0)
    await Promise.all(ws.map((w) => w.send('increment', { n: 25, locked: true })))
    expect(Number(await redis.get('counter'))).toBe(100)
  })
})

describe.each(['ioredis', 'node-redis'] as Lib[])('%s: many processes, Redis goes down (SF-32)', (lib) => {
  let server: RedisServer
  const pool = new Pool(() => ({ REDIS_LIB: lib, REDIS_TARGET: JSON.stringify({ topology: 'single', port: server.port }) }))
  beforeAll(async () => {
    server = await startRedis()
  })
  afterAll(async () => {
    pool.close()
    await server.stop()
  })

  it('SF-32: Redis stopped → each process makes exactly 1 origin call; after restart, cluster-wide again', async () => {
    const ws = await pool.take(2, { COMMAND_TIMEOUT: '300', BREAKER_MS: '300' })
    await server.stop()
    try {
      const bursts = await Promise.all(ws.map((w) => w.send<Burst>('getOrSet', { key: `sf32-down-${lib}`, n: 100 })))
      expect(origin.calls(`sf32-down-${lib}`)).toBe(2)
      expect(bursts.every((b) => b.fulfilled === 100)).toBe(true)
    } finally {
      await server.start()
    }
    // once Redis answers and the breaker has closed, one load cluster-wide again
    await until(async () => (await Promise.all(ws.map((w) => w.send<boolean>('healthy')))).every(Boolean), 'workers to reach Redis again')
    await Promise.all(ws.map((w) => w.send<Burst>('getOrSet', { key: `sf32-up-${lib}`, n: 50 })))
    expect(origin.calls(`sf32-up-${lib}`)).toBe(1)
  })
})
