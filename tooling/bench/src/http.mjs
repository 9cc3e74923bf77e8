// Throughput of a coalesced/cached hit against a plain Express route returning the same body,
// measured with autocannon in the same run (routes alternated round by round).
import autocannon from 'autocannon'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Agent, get } from 'node:http'
import { median, table } from './stats.mjs'

/** 1,000 concurrent requests on a cold key: upstream calls, and p99 latency against the upstream's own time. */
async function coldBurst(url, quick, verdicts) {
  const N = 1000
  // Keep-alive sockets opened beforehand, so the burst measures coalescing, not TCP handshakes.
  const agent = new Agent({ keepAlive: true, maxSockets: N })
  const request = (path) =>
    new Promise((resolve, reject) => {
      const start = performance.now()
      get(`${url}${path}`, { agent }, (res) => {
        res.resume()
        res.on('end', () => resolve({ ms: performance.now() - start, status: res.statusCode }))
      }).on('error', reject)
    })
  const stats = async () =>
    JSON.parse(
      await new Promise((resolve, reject) =>
        get(`${url}/burst-stats`, { agent }, (res) => {
          let text = ''
          res.on('data', (c) => (text += c))
          res.on('end', () => resolve(text))
        }).on('error', reject),
      ),
    )
  await Promise.all(Array.from({ length: N }, () => request('/plain')))
  const rounds = quick ? 2 : 5
  const calls = new Set()
  const ratios = []
  const p99s = []
  const ups = []
  const plainP99s = []
  let errors = 0
  await stats()
  const p99Of = (res) => res.map((x) => x.ms).sort((a, b) => a - b)[Math.ceil(0.99 * N) - 1]
  for (let r = 0; r < rounds; r++) {
    // The same burst on the plain route: what serving 1,000 requests at once costs by itself.
    plainP99s.push(p99Of(await Promise.all(Array.from({ length: N }, () => request('/plain')))))
    const res = await Promise.all(Array.from({ length: N }, () => request(`/burst/${r}`)))
    errors += res.filter((x) => x.status !== 200).length
    const sorted = res.map((x) => x.ms).sort((a, b) => a - b)
    const p99 = sorted[Math.ceil(0.99 * N) - 1]
    const s = await stats()
    calls.add(s.calls)
    const up = Math.max(...s.upstreamMs)
    p99s.push(p99)
    ups.push(up)
    ratios.push(p99 / up)
  }
  agent.destroy()
  console.log('\n### E2 — HTTP: 1,000 concurrent requests on a cold key behind coalesce() (upstream takes 50 ms)\n')
  table(
    ['upstream calls per burst', 'p99 latency (median)', "upstream's own (median)", 'p99 ÷ upstream', 'plain-route burst p99'],
    [
      [
        [...calls].join(', '),
        `${median(p99s).toFixed(1)} ms`,
        `${median(ups).toFixed(1)} ms`,
        `${median(ratios).toFixed(2)}×`,
        `${median(plainP99s).toFixed(1)} ms`,
      ],
    ],
  )
  if (errors) console.log(`\nAnomalies: ${errors} non-200 responses`)
  const one = calls.size === 1 && calls.has(1)
  verdicts.push(['HTTP cold burst of 1,000', '1 upstream call', `${[...calls].join(', ')} per burst`, one ? 'PASS' : 'FAIL'])
  verdicts.push([
    'HTTP cold burst of 1,000',
    "p99 ≤ 1.2× the upstream's own",
    `${median(p99s).toFixed(1)} ms vs ${median(ups).toFixed(1)} ms = ${median(ratios).toFixed(2)}×`,
    median(ratios) <= 1.2 ? 'PASS' : 'FAIL',
  ])
  // The floor under that target: the burst's last responses wait for the server to write 999
  // others, which the plain route measures with no upstream at all.
  const floor = median(ups) + median(plainP99s)
  verdicts.push([
    'HTTP cold burst of 1,000',
    'p99 ≤ 1.2× (upstream + plain-route burst p99)',
    `${median(p99s).toFixed(1)} ms vs ${floor.toFixed(1)} ms = ${(median(p99s) / floor).toFixed(2)}×`,
    median(p99s) <= 1.2 * floor ? 'PASS' : 'FAIL',
  ])
}

export async function httpBench({ quick, verdicts }) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./http-server.mjs', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const [url] = await once(createInterface({ input: child.stdout }), 'line')
    const run = (path, duration) =>
      new Promise((resolve, reject) =>
        autocannon({ url: `${url}${path}`, connections: 32, pipelining: 1, duration }, (err, r) => (err ? reject(err) : resolve(r))),
      )
    await run('/cached', 1) // warm-up: first request fills the cache; JIT
    await run('/plain', 1)
    const rounds = quick ? 2 : 4
    const rate = { plain: [], cached: [] }
    const ratios = []
    let errors = 0
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? ['cached', 'plain'] : ['plain', 'cached']
      const got = {}
      for (const name of order) {
        const res = await run(`/${name}`, quick ? 2 : 4)
        errors += res.errors + res.non2xx
        got[name] = res.requests.average
        rate[name].push(res.requests.average)
      }
      ratios.push(got.cached / got.plain)
    }
    console.log('\n### E — HTTP: cached hit vs plain Express route, same body (autocannon, 32 connections)\n')
    table(
      ['route', 'requests/s (median)', 'vs plain'],
      [
        ['plain res.json(body)', median(rate.plain).toFixed(0), '1.00×'],
        ['coalesce({ ttl }) hit', median(rate.cached).toFixed(0), `${median(ratios).toFixed(2)}×`],
      ],
    )
    if (errors) console.log(`\nAnomalies: ${errors} errors or non-2xx responses`)
    verdicts.push(['HTTP coalesce() hit', '≥ 1.0× a plain route', `${median(ratios).toFixed(2)}×`, median(ratios) >= 1 ? 'PASS' : 'FAIL'])
    await coldBurst(url, quick, verdicts)
  } finally {
    child.kill()
  }
}
