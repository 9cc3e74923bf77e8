// Throughput of a coalesced/cached hit against a plain Express route returning the same body,
// measured with autocannon in the same run (routes alternated round by round).
import autocannon from 'autocannon'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { median, table } from './stats.mjs'

export async function httpBench({ quick, verdicts }) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./http-server.mjs', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const [url] = await once(createInterface({ input: child.stdout }), 'line')
    const run = (path, duration) =>
      new Promise((resolve, reject) => autocannon({ url: `${url}${path}`, connections: 32, pipelining: 1, duration }, (err, r) => (err ? reject(err) : resolve(r))))
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
    verdicts.push(['HTTP cached hit', '≥ 0.9× a plain route', `${median(ratios).toFixed(2)}×`, median(ratios) >= 0.9 ? 'PASS' : 'FAIL'])
  } finally {
    child.kill()
  }
}
