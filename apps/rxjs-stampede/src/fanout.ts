import { Semaphore, SingleFlightCache } from '@yieldpoint/core'
import { upstreamTimeline, type Interval, type StampedeRow } from '@yieldpoint/demo-kit'
import { flightMap, permitMap } from '@yieldpoint/rxjs'
import { defer, from, lastValueFrom, mergeMap, Subject, toArray, type OperatorFunction } from 'rxjs'

interface Lookup {
  id: string
  at: number
}
interface Answer {
  id: string
  latency: number
}

/** One upstream fetch, cancellable. */
const fetchProduct = (upstream: string, id: string, signal?: AbortSignal) =>
  defer(async () => (await fetch(`${upstream}/products/${id}`, { signal })).json() as Promise<unknown>)

/**
 * A websocket fan-out / typeahead burst: `events` lookups for `keys` hot products arrive at once
 * on a Subject and each is answered through `strategy`. Returns the table row.
 */
export async function burst(name: string, upstream: string, events: number, keys: number, strategy: OperatorFunction<Lookup, Answer>): Promise<StampedeRow> {
  await fetch(`${upstream}/reset`, { method: 'POST' })
  const lookups = new Subject<Lookup>()
  const done = lastValueFrom(lookups.pipe(strategy, toArray()))
  const started = performance.now()
  for (let i = 0; i < events; i++) lookups.next({ id: `hot-${i % keys}`, at: performance.now() })
  lookups.complete()
  const answers = await done
  const elapsedMs = performance.now() - started
  const upstreamCalls = Number(await (await fetch(`${upstream}/calls`)).text())
  // every lookup arrived at once (t ≈ 0) and waited `latency` for its answer
  const timeline = { requests: answers.map((a): Interval => [0, a.latency]), upstream: await upstreamTimeline(upstream, started) }
  return { strategy: name, requests: events, ok: answers.length, upstreamCalls, latencies: answers.map((a) => a.latency), elapsedMs, timeline }
}

/** The reflex: `mergeMap` to the upstream — one call per event. */
export const naive = (upstream: string): OperatorFunction<Lookup, Answer> =>
  mergeMap((e: Lookup) => from(lastValueFrom(fetchProduct(upstream, e.id))).pipe(mergeMap(async () => ({ id: e.id, latency: performance.now() - e.at }))))

/** `flightMap` over a SingleFlightCache: one call per key per burst, later bursts are hits. */
export const coalesced = (upstream: string, cache = new SingleFlightCache<string, unknown>({ ttl: 5_000 })): OperatorFunction<Lookup, Answer> => {
  const answer: OperatorFunction<Lookup, Answer> = (source) =>
    source.pipe(
      mergeMap((e) =>
        from([e]).pipe(
          flightMap(
            cache,
            (x) => x.id,
            (x, signal) => fetchProduct(upstream, x.id, signal),
          ),
          mergeMap(async () => ({ id: e.id, latency: performance.now() - e.at })),
        ),
      ),
    )
  return answer
}

/** `permitMap`: the naive fan-out, but never more than `limit` upstream calls in flight. */
export const limited = (upstream: string, limit: number): OperatorFunction<Lookup, Answer> => {
  const sem = new Semaphore(limit)
  return permitMap(sem, (e: Lookup) => fetchProduct(upstream, e.id).pipe(mergeMap(async () => ({ id: e.id, latency: performance.now() - e.at }))))
}
