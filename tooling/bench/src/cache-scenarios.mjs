// Imported once per cache (`cache-scenarios.mjs?impl=NAME`), like scenarios.mjs.

/** A burst of `callers` concurrent gets on a cold key; the origin answers after one macrotask. */
export async function coldBurst(a, cache, key, callers) {
  let calls = 0
  const load = (k) => {
    calls++
    return new Promise((resolve) => setImmediate(() => resolve({ k })))
  }
  const start = performance.now()
  const all = new Array(callers)
  for (let i = 0; i < callers; i++) all[i] = a.get(cache, key, load)
  const values = await Promise.all(all)
  const ms = performance.now() - start
  const identical = values.every((v) => v === values[0])
  return { ms, calls, identical }
}

/** Sequential gets of one warm key. */
export async function hits(a, cache, ops) {
  const load = async (k) => ({ k })
  await a.get(cache, 'hot', load)
  const start = performance.now()
  for (let i = 0; i < ops; i++) await a.get(cache, 'hot', load)
  return performance.now() - start
}

/** 90% hits on 100 warm keys, 10% misses on new keys (origin answers at once). */
export async function mixed(a, cache, ops, round) {
  const load = async (k) => ({ k })
  for (let i = 0; i < 100; i++) await a.get(cache, `hot${i}`, load)
  const start = performance.now()
  for (let i = 0; i < ops; i++) {
    const key = i % 10 === 9 ? `cold:${round}:${i}` : `hot${i % 100}`
    await a.get(cache, key, load)
  }
  return performance.now() - start
}

/** A million distinct keys through the cache, in waves of concurrent gets. */
export async function distinct(a, cache, total) {
  const load = async (k) => k
  for (let base = 0; base < total; base += 1000) {
    const wave = new Array(1000)
    for (let i = 0; i < 1000; i++) wave[i] = a.get(cache, `key:${base + i}`, load)
    await Promise.all(wave)
  }
}
