// Issue 11, "Done when": across 4 real processes sharing one real Redis, a leader's outcome reaches
// every follower as itself — a 404 stays a 404, a Nest NotFoundException stays one — and a
// follower that learns a failure by polling never resolves with `undefined`.
// Coordinated on events: the upstream holds every response until the test releases it, and each
// follower reports when it is waiting on the leader's lease.
import { spawnServer } from '@yieldpoint/demo-kit'
import { createServer, type ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis } from '../src/cluster'

type Proc = { url: string; pid: number; child: import('node:child_process').ChildProcess }

/** An upstream that counts calls per path and answers none until released. */
async function heldUpstream() {
  const calls = new Map<string, number>()
  const held = new Map<string, ServerResponse[]>()
  const arrivals: (() => void)[] = []
  const server = createServer((req, res) => {
    const path = req.url!.split('?')[0]!
    calls.set(path, (calls.get(path) ?? 0) + 1)
    held.set(path, [...(held.get(path) ?? []), res])
    for (const wake of arrivals.splice(0)) wake()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    calls: (prefix: string) => [...calls].filter(([p]) => p.startsWith(prefix)).reduce((n, [, c]) => n + c, 0),
    exactly: (path: string) => calls.get(path) ?? 0,
    /** Resolves once `check` holds, re-checked on every upstream arrival. */
    async until(check: () => boolean) {
      while (!check()) await new Promise<void>((r) => arrivals.push(r))
    },
    release(prefix: string, status: number) {
      for (const [path, list] of held) {
        if (!path.startsWith(prefix)) continue
        held.delete(path)
        for (const res of list) res.writeHead(status).end()
      }
    },
    close: () => server.close(),
  }
}

const RUNS = Number(process.env.POLL_RUNS ?? 1_000)
const script = fileURLToPath(new URL('../src/errors-worker.ts', import.meta.url))
let redis: Awaited<ReturnType<typeof startRedis>>
let upstream: Awaited<ReturnType<typeof heldUpstream>>
let procs: Proc[] = []

const busy = async (p: Proc, what: string) => Number(await (await fetch(`${p.url}/busy?what=${what}`)).json())
/** Waits (bounded) until each follower waits on `n` more leases than `before`. */
async function followersWaiting(followers: Proc[], what: string, before: number[], n: number): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    const now = await Promise.all(followers.map((p) => busy(p, what)))
    if (now.every((b, j) => b >= before[j]! + n)) return
    await new Promise((r) => setImmediate(r))
  }
  throw new Error(`followers did not all wait on the leader's lease (${what})`)
}

beforeAll(async () => {
  redis = await startRedis()
  if (!redis) throw new Error('redis-server is not installed (the README test command installs it)')
  upstream = await heldUpstream()
  const prefix = `errors:${Date.now()}:`
  procs = await Promise.all(
    ['leader', 'follower', 'follower', 'follower'].map((role) =>
      spawnServer<{ url: string; pid: number }>(script, { UPSTREAM: upstream.url, REDIS_URL: redis!.url, PREFIX: prefix, ROLE: role }),
    ),
  )
}, 60_000)
afterAll(() => {
  for (const p of procs) p.child.kill('SIGKILL')
  upstream?.close()
  redis?.stop()
})

describe('errors across 4 processes (issue 11)', () => {
  it('coalesce(): a 404 from the leader is a 404, with the same body, for every follower in every process', async () => {
    const [leader, ...followers] = procs
    const before = await Promise.all(followers.map((p) => busy(p, 'express')))
    // As through a load balancer: one public host for every process (coalesce() keys on it).
    const viaBalancer = { headers: { 'x-forwarded-host': 'shop.example', 'x-forwarded-proto': 'https' } }
    const lead = fetch(`${leader!.url}/express/7`, viaBalancer)
    await upstream.until(() => upstream.calls('/hold/express-7') === 1)
    const follow = followers.flatMap((p) => Array.from({ length: 5 }, () => fetch(`${p.url}/express/7`, viaBalancer)))
    await followersWaiting(followers, 'express', before, 1)
    upstream.release('/hold/express-7', 200)
    const responses = await Promise.all([lead, ...follow])
    const bodies = await Promise.all(responses.map((r) => r.text()))
    expect(responses.map((r) => r.status)).toEqual(Array(16).fill(404))
    expect(new Set(bodies)).toEqual(new Set([JSON.stringify({ error: 'no such product', id: '7' })]))
    expect(upstream.calls('/hold/express-7')).toBe(1)
  })

  it('Nest: a NotFoundException thrown in the leader is a NotFoundException (class, status, body) in every follower', async () => {
    const [leader, ...followers] = procs
    const before = await Promise.all(followers.map((p) => busy(p, 'nest')))
    const lead = fetch(`${leader!.url}/nest/9`)
    await upstream.until(() => upstream.calls('/hold/nest-9') === 1)
    const follow = followers.flatMap((p) => Array.from({ length: 5 }, () => fetch(`${p.url}/nest/9`)))
    await followersWaiting(followers, 'nest', before, 1)
    upstream.release('/hold/nest-9', 200)
    const responses = await Promise.all([lead, ...follow])
    const bodies = await Promise.all(responses.map((r) => r.json()))
    expect(responses.map((r) => r.status)).toEqual(Array(16).fill(404))
    for (const body of bodies) {
      expect(body).toEqual({
        class: 'NotFoundException',
        isNotFoundException: true,
        response: { statusCode: 404, message: 'no product 9', error: 'Not Found' },
      })
    }
    expect(upstream.calls('/hold/nest-9')).toBe(1)
  })

  it('the polling path: 1,000 runs (keys) × 3 followers that ignore pub/sub → 0 undefined, every one the leader’s error', async () => {
    const [leader, ...followers] = procs
    let undefinedResults = 0
    let values = 0
    let errors = 0
    const batch = 50
    for (let start = 0; start < RUNS; start += batch) {
      const keys = Array.from({ length: batch }, (_, i) => `r${start + i}`)
      const before = await Promise.all(followers.map((p) => busy(p, 'poll')))
      const lead = fetch(`${leader!.url}/poll?keys=${keys.join(',')}`)
      await upstream.until(() => keys.every((k) => upstream.exactly(`/hold/poll-${k}`) === 1))
      const follow = followers.map((p) => fetch(`${p.url}/poll?keys=${keys.join(',')}`))
      await followersWaiting(followers, 'poll', before, batch)
      upstream.release('/hold/poll-r', 503)
      await lead
      for (const res of await Promise.all(follow)) {
        for (const outcome of (await res.json()) as { value?: unknown; error?: { message: string; status: number } }[]) {
          if (outcome.value === 'undefined' || ('value' in outcome && outcome.value === undefined)) undefinedResults++
          else if ('value' in outcome) values++
          else if (outcome.error?.message.startsWith('origin failed for r') && outcome.error.status === 503) errors++
        }
      }
    }
    expect({ undefinedResults, values, errors }).toEqual({ undefinedResults: 0, values: 0, errors: 3 * RUNS })
    expect(upstream.calls('/hold/poll-r')).toBe(RUNS)
  }, 240_000)
})
