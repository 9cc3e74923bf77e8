import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startOrigin, startWorker, until, type Worker } from './harness'
import { startRedis } from './redis-server'

let redis: Awaited<ReturnType<typeof startRedis>>
let origin: Awaited<ReturnType<typeof startOrigin>>
let admin: Redis
const workers: Worker[] = []

beforeAll(async () => {
  redis = await startRedis()
  origin = await startOrigin()
  admin = new Redis(redis.url)
  admin.on('error', () => {})
})
afterAll(async () => {
  admin.disconnect()
  origin.server.close()
  await redis.stop()
})
afterEach(async () => {
  for (const w of workers.splice(0)) w.kill('SIGKILL')
  await admin.flushall()
  origin.failing.clear()
})

async function spawnWorkers(n: number, env: Record<string, string> = {}): Promise<Worker[]> {
  const started = await Promise.all(Array.from({ length: n }, () => startWorker({ REDIS_URL: redis.url, ORIGIN: origin.url, ...env })))
  workers.push(...started)
  return started
}

type Burst = { values: string[]; fulfilled: number; errors: { name: string; message: string; code?: string }[]; elapsedMs: number }

describe('@yieldpoint/redis — many processes, one real Redis (docs/conformance/single-flight.md SF-28..SF-36)', () => {
  it('SF-28: 4 processes × 250 concurrent callers on a cold key → exactly 1 origin call, one value', async () => {
    const ws = await spawnWorkers(4)
    const bursts = await Promise.all(ws.map((w) => w.send<Burst>('getOrSet', { key: 'sf28', n: 250 })))
    expect(origin.calls('sf28')).toBe(1)
    expect(bursts.every((b) => b.fulfilled === 250 && b.errors.length === 0)).toBe(true)
    expect(new Set(bursts.flatMap((b) => b.values)).size).toBe(1)
  })

  it('SF-29: the leader is SIGKILLed mid-load → one follower takes over within lease + poll; 2 origin calls', async () => {
    const [leader] = await spawnWorkers(1, { LOCK_TTL: '1000', ORIGIN_DELAY: '60000' })
    const leaderBurst = leader!.send('getOrSet', { key: 'sf29', n: 10 }).catch(() => 'killed')
    await until(() => origin.calls('sf29') === 1, 'the leader to call the origin')
    const followers = await spawnWorkers(3, { LOCK_TTL: '1000', POLL: '100', ORIGIN_DELAY: '100' })
    const pending = followers.map((w) => w.send<Burst>('getOrSet', { key: 'sf29', n: 20 }))
    const killedAt = performance.now()
    leader!.kill('SIGKILL')
    expect(await leaderBurst).toBe('killed')
    const bursts = await Promise.all(pending)
    const tookOver = performance.now() - killedAt
    expect(bursts.every((b) => b.fulfilled === 20)).toBe(true)
    expect(new Set(bursts.flatMap((b) => b.values)).size).toBe(1)
    expect(origin.calls('sf29')).toBe(2)
    expect(tookOver).toBeLessThan(1000 + 100 + 1500) // lease + poll + origin + slack
  })

  it('SF-30: a load longer than the lease, with the watchdog → no second leader, lease refreshed', async () => {
    const ws = await spawnWorkers(3, { LOCK_TTL: '1200', POLL: '50', ORIGIN_DELAY: '3500' })
    const first = ws[0]!.send<Burst>('getOrSet', { key: 'sf30', n: 5 })
    await until(() => origin.calls('sf30') === 1, 'the leader to start')
    const started = performance.now()
    const others = ws.slice(1).map((w) => w.send<Burst>('getOrSet', { key: 'sf30', n: 5 }))
    // Past twice the 1.2 s lease the lock is still held: the watchdog has extended it at least twice.
    await until(() => performance.now() - started > 2_600, 'two leases to pass', 5_000)
    expect(await admin.pttl('test:{sf30}:l')).toBeGreaterThan(0)
    const bursts = await Promise.all([first, ...others])
    expect(origin.calls('sf30')).toBe(1)
    expect(bursts.every((b) => b.fulfilled === 5)).toBe(true)
  })

  it('SF-31: a paused leader\u2019s late write is rejected by the fence; the final value is the new leader\u2019s', async () => {
    const [a] = await spawnWorkers(1, { LOCK_TTL: '400', HEARTBEAT: 'false', ORIGIN_DELAY: '1500' })
    const slow = a!.send<Burst>('getOrSet', { key: 'sf31', n: 1 })
    await until(() => origin.calls('sf31') === 1, 'A to start loading')
    await until(async () => (await admin.exists('test:{sf31}:l')) === 0, 'A\u2019s lease to expire')
    const [b] = await spawnWorkers(1, { LOCK_TTL: '400', ORIGIN_DELAY: '50' })
    const fresh = await b!.send<Burst>('getOrSet', { key: 'sf31', n: 1 })
    expect(JSON.parse(fresh.values[0]!)).toMatchObject({ call: 2 })
    const late = await slow // A finishes: its own caller gets v1, but its write is fenced out
    expect(JSON.parse(late.values[0]!)).toMatchObject({ call: 1 })
    const stored = await b!.send('get', { key: 'sf31' })
    expect(stored).toMatchObject({ call: 2 })
  })

  it('SF-32: Redis stopped → each process makes exactly 1 origin call with bounded waits; after restart, cluster-wide again', async () => {
    const ws = await spawnWorkers(2, { COMMAND_TIMEOUT: '300', BREAKER_MS: '300' })
    await redis.stop()
    try {
      const bursts = await Promise.all(ws.map((w) => w.send<Burst>('getOrSet', { key: 'sf32-down', n: 100 })))
      expect(origin.calls('sf32-down')).toBe(2)
      expect(bursts.every((b) => b.fulfilled === 100 && b.elapsedMs < 300 + 300 + 1000)).toBe(true)
    } finally {
      await redis.start()
    }
    // once Redis answers and the breaker has closed, one load cluster-wide again
    await until(async () => (await Promise.all(ws.map((w) => w.send<boolean>('healthy')))).every(Boolean), 'workers to reach Redis again')
    const before = origin.calls()
    await Promise.all(ws.map((w) => w.send<Burst>('getOrSet', { key: 'sf32-up', n: 50 })))
    await until(() => origin.calls('sf32-up') >= 1, 'load')
    expect(origin.calls('sf32-up')).toBe(1)
    expect(origin.calls()).toBeGreaterThan(before)
  })

  it('SF-33: the follower\u2019s subscriber connection is killed (CLIENT KILL) → it still resolves by polling', async () => {
    const [leader] = await spawnWorkers(1, { ORIGIN_DELAY: '800' })
    const lead = leader!.send<Burst>('getOrSet', { key: 'sf33', n: 1 })
    await until(() => origin.calls('sf33') === 1, 'leader loading')
    const [follower] = await spawnWorkers(1, { POLL: '150' })
    const follow = follower!.send<Burst>('getOrSet', { key: 'sf33', n: 5 })
    await until(async () => Number(await admin.pubsub('NUMSUB', 'test:done').then((r) => (r as [string, number])[1])) >= 2, 'both subscribed')
    await admin.client('KILL', 'TYPE', 'pubsub')
    const [l, f] = await Promise.all([lead, follow])
    expect(f.fulfilled).toBe(5)
    expect(f.values).toEqual(l.values)
    expect(origin.calls('sf33')).toBe(1)
  })

  it('SF-34: a result published between the follower\u2019s miss and its wait is not missed (subscribe, then re-check)', async () => {
    const [leader] = await spawnWorkers(1, { ORIGIN_DELAY: '200', LOCK_TTL: '10000' })
    const lead = leader!.send<Burst>('getOrSet', { key: 'sf34', n: 1 })
    await until(() => origin.calls('sf34') === 1, 'leader loading')
    const [follower] = await spawnWorkers(1, { AFTER_MISS_DELAY: '600', POLL: '20000', LOCK_TTL: '10000' })
    const follow = await follower!.send<Burst>('getOrSet', { key: 'sf34', n: 1 })
    await lead
    expect(follow.fulfilled).toBe(1)
    expect(follow.elapsedMs).toBeLessThan(3000) // not the 10 s lease, not the 20 s poll
    expect(origin.calls('sf34')).toBe(1)
  })

  it('SF-35: the leader\u2019s error reaches remote followers fast (same name/message/code); errorTtl then fails fast everywhere', async () => {
    origin.failing.add('sf35')
    const [leader] = await spawnWorkers(1, { ORIGIN_DELAY: '300', LOCK_TTL: '10000', ERROR_TTL: '5000' })
    const lead = leader!.send<Burst>('getOrSet', { key: 'sf35', n: 3 })
    await until(() => origin.calls('sf35') === 1, 'leader loading')
    const followers = await spawnWorkers(2, { POLL: '20000', LOCK_TTL: '10000', ERROR_TTL: '5000' })
    const bursts = await Promise.all(followers.map((w) => w.send<Burst>('getOrSet', { key: 'sf35', n: 10 })))
    const leaderBurst = await lead
    for (const b of [...bursts, leaderBurst]) {
      expect(b.fulfilled).toBe(0)
      expect(b.errors.every((e) => e.name === 'OriginError' && e.code === 'E_ORIGIN' && e.message === 'origin failed for sf35')).toBe(true)
    }
    expect(bursts.every((b) => b.elapsedMs < 2000)).toBe(true) // ≈ origin latency, not the 10 s lease
    expect(origin.calls('sf35')).toBe(1)
    const again = await followers[0]!.send<Burst>('getOrSet', { key: 'sf35', n: 1 })
    expect(again.errors[0]).toMatchObject({ message: 'origin failed for sf35' })
    expect(origin.calls('sf35')).toBe(1) // negative-cached in Redis, no new origin call
  })

  it('SF-36: delete in process A invalidates process B\u2019s L1 over pub/sub', async () => {
    const [a, b] = await spawnWorkers(2, { L1: '1' })
    await a!.send('getOrSet', { key: 'sf36', n: 1 })
    await b!.send('getOrSet', { key: 'sf36', n: 1 }) // now in both L1s
    expect(origin.calls('sf36')).toBe(1)
    await a!.send('delete', { key: 'sf36' })
    await until(async () => (await b!.send('get', { key: 'sf36' })) === null, 'B\u2019s L1 to be invalidated', 3000)
    const next = await b!.send<Burst>('getOrSet', { key: 'sf36', n: 1 })
    expect(JSON.parse(next.values[0]!)).toMatchObject({ call: 2 })
  })

  it('lost update: 4 processes × 1,000 read-await-write increments end at exactly 4,000 under RedisKeyedLock', async () => {
    const ws = await spawnWorkers(4)
    await Promise.all(ws.map((w) => w.send('increment', { n: 1000, locked: false })))
    const unprotected = Number(await admin.get('counter'))
    expect(unprotected).toBeLessThan(4000)
    await admin.set('counter', 0)
    await Promise.all(ws.map((w) => w.send('increment', { n: 1000, locked: true })))
    expect(Number(await admin.get('counter'))).toBe(4000)
  })
})
