// Attack: clear() in one process while another process's load runs. A delete() takes a fence so
// the running load's late commit is refused; clear() must win the same way ("delete, set and
// clear during a load win over its late result"), or a value computed before the clear lands
// after it and is served for its whole ttl.
import { SingleFlightCache } from '@yieldpoint/core'
import { afterEach, describe, expect, it } from 'vitest'
import { RedisStore, type RedisStoreOptions } from '../src'
import { connect } from './clients'
import { matrix } from './matrix'

describe.each(matrix())('$name: clear() against a remote load', ({ lib, target }) => {
  const closers: (() => void)[] = []
  const run = `${lib}-${target.topology}-${Date.now()}`
  let prefixes = 0

  afterEach(() => {
    for (const c of closers.splice(0)) c()
  })

  async function store(prefix: string, options: Partial<RedisStoreOptions> = {}): Promise<RedisStore<string, unknown>> {
    const { client, close } = await connect(lib, target)
    const s = new RedisStore<string, unknown>({ client, prefix, pollInterval: 20, ...options } as RedisStoreOptions)
    closers.push(() => s.close(), close)
    return s
  }

  it('a load running in another process when clear() ran does not write its result back', async () => {
    const prefix = `clear:${run}:${++prefixes}:`
    const [a, b] = [await store(prefix, { l1: { max: 10 } }), await store(prefix)]
    const cacheA = new SingleFlightCache<string, unknown>({ ttl: 60_000, store: a })
    const cacheB = new SingleFlightCache<string, unknown>({ ttl: 60_000, store: b })
    let release!: () => void
    const released = new Promise<void>((r) => (release = r))
    let loading!: () => void
    const started = new Promise<void>((r) => (loading = r))
    const loadA = cacheA.getOrSet('k', async () => {
      loading()
      await released
      return 'before clear'
    })
    await started
    await cacheB.clear()
    release()
    expect(await loadA).toBe('before clear') // A's callers joined before the clear
    expect(await b.get('k')).toBeUndefined()
    expect(await a.get('k')).toBeUndefined() // nor in A's L1
    expect(await cacheB.getOrSet('k', () => 'after clear')).toBe('after clear')
  })
})
