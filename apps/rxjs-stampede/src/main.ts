import { SingleFlightCache } from '@yieldpoint/core'
import { printStampedeTable, recordRun, startUpstream } from '@yieldpoint/demo-kit'
import { burst, coalesced, limited, naive } from './fanout'

const events = Number(process.argv[2] ?? 1000)
const keys = 5
const upstream = await startUpstream(100)
try {
  const cache = new SingleFlightCache<string, unknown>({ ttl: 5_000 })
  const rows = [
    await burst('mergeMap(fetch) — naive', upstream.url, events, keys, naive(upstream.url)),
    await burst('permitMap(Semaphore(20), fetch)', upstream.url, events, keys, limited(upstream.url, 20)),
    await burst('flightMap(cache, id, fetch)', upstream.url, events, keys, coalesced(upstream.url, cache)),
    await burst('flightMap, warm (cache hits)', upstream.url, events, keys, coalesced(upstream.url, cache)),
  ]
  const title = `rxjs-stampede — ${events} lookups for ${keys} hot keys arriving at once, upstream latency 100 ms`
  printStampedeTable(title, rows, 'events')
  recordRun('rxjs-stampede', title, rows)
  console.log(
    `\nmergeMap called the upstream ${rows[0]!.upstreamCalls}×; flightMap ${rows[2]!.upstreamCalls}× ` +
      `(one per key); permitMap bounds the calls in flight but not their number.`,
  )
  if (rows[2]!.upstreamCalls !== keys) process.exitCode = 1
} finally {
  upstream.server.close()
}
