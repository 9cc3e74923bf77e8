#!/usr/bin/env node
// "A test that passes with the feature removed is not a test." Removes one rule of
// @yieldpoint/core at a time and checks that the test suite fails. Not part of CI (it runs the
// suite once per mutant); run it after touching a rule: `node scripts/mutants.mjs`.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const core = join(import.meta.dirname, '..', 'packages', 'core')
// A redis mutant runs one test file against one lib × topology (the whole matrix takes minutes).
const REDIS_LOCK = { tests: ['test/keyed-lock.test.ts'], env: { YP_REDIS_MATRIX: 'ioredis/single' } }
const mutants = [
  ['src/condition.ts', '        this.wake(1)\n        reject(error)', '        reject(error)', 'Condition passes a consumed notification on'],
  [
    'src/condition.ts',
    '      const reacquire = (): void => this.lock.reacquire(token, onHeld, onClosed)',
    '      const reacquire = (): void => { held = true; onHeld() }',
    'Condition.wait re-acquires the lock',
  ],
  ['src/barrier.ts', '      w.weight = index++', '      index++', 'Barrier indices stay unique'],
  ['src/barrier.ts', '    queueMicrotask(() => this.drain())', '    this.drain()', 'Barrier drains before the next round'],
  ['src/barrier.ts', '      this.filling.disarm(w)', '      void w', 'Barrier: an abort after the round completed is ignored'],
  ['src/semaphore.ts', '    if (wasHead) this.dispatch()', '    void wasHead', 'Semaphore re-examines the queue when its head aborts'],
  [
    'src/lock.ts',
    '    if (this.held && this.holder === token) this.handOff()',
    '    if (this.held) this.handOff()',
    'a stale guard never releases a later holder',
  ],
  [
    'src/lock.ts',
    '    if (!this.held) {\n      this.held = true\n      return Promise.resolve',
    '    if (!this.held || this.queue.length > 0) {\n      this.held = true\n      return Promise.resolve',
    'no barging',
  ],
  ['src/wait-queue.ts', '      unwatchAbort(waiter.signal, waiter)', '      void 0', 'no abort listener left behind'],
  ['src/wait-queue.ts', '      clearTimeout(waiter.timer)', '      void 0', 'no timer left behind'],
  ['src/options.ts', '    return signal.aborted', '    return false', 'an already-aborted signal rejects at once'],
  [
    'src/abort-watch.ts',
    '  fanout.watchers.add(watcher)',
    "  fanout.watchers.add(watcher); signal.addEventListener('abort', () => {})",
    'one listener per signal',
  ],
  [
    'src/single-flight.ts',
    '    if (this.flights.get(key) === flight) this.flights.delete(key)',
    '    this.flights.delete(key)',
    'a finished flight never removes its successor',
  ],
  ['src/flight.ts', '    if (!insideLoad(this)) return undefined', '    return undefined', 're-entrancy is detected'],
  [
    'src/reentrancy.ts',
    '  return option === undefined ? frameBacked : option !== false',
    '  return option !== false',
    'detectReentrancy is on by default only where AsyncLocalStorage is frame-backed',
  ],
  [
    'src/flight.ts',
    '    if (this.state === 0 && this.waiters.length === 0 && this.plain === 0 && this.abortWhenAbandoned) {',
    '    if (false) {',
    'the work signal aborts when every caller left',
  ],
  ['src/flight.ts', ' && this.plain === 0 && this.abortWhenAbandoned', ' && this.abortWhenAbandoned', 'callers without a signal keep the work alive'],
  [
    'src/single-flight-cache.ts',
    '    flight.discarded = true\n    this.flights.delete(key)',
    '    this.flights.delete(key)',
    'delete/set win over a late result',
  ],
  ['src/single-flight-cache.ts', '    const serveStale = context.share !== false && stale !== undefined &&', '    const serveStale = false &&', 'staleIfError'],
  ['src/single-flight-cache.ts', '    if (keep && this.errorTtl > 0) {', '    if (false) {', 'errorTtl'],
  [
    'src/single-flight-cache.ts',
    "    if (soft === undefined || stale === undefined || stale.kind !== 'value' || flight.state !== 0) return joined",
    '    return joined',
    'softTimeout',
  ],
  [
    'src/single-flight-cache.ts',
    '          this.startFlight(key, loader, found, found, undefined, true)\n        }\n        return Promise.resolve(found.value)',
    '        }\n        return Promise.resolve(found.value)',
    'XFetch early refresh',
  ],
  [
    'src/single-flight-cache.ts',
    '    let written: void | Promise<void>\n    try {',
    '    this.dropFlight(key, flight)\n    let written: void | Promise<void>\n    try {',
    'the flight stays joinable until its write lands',
  ],
  [
    'src/single-flight-cache.ts',
    'Promise<void>, deliver: () => void): void {\n    const fail',
    'Promise<void>, deliver: () => void): void {\n    deliver()\n    const fail',
    'the outcome is written before any caller settles (errorTtl across processes)',
  ],
  [
    'src/single-flight-cache.ts',
    '    if (this.loadTimeout !== Infinity) flight.deadline = startTimer(',
    '    if (false) flight.deadline = startTimer(',
    'loadTimeout bounds a load',
  ],
  ['src/single-flight-cache.ts', '    flight.controller.abort(error)\n    this.settle(', '    this.settle(', "loadTimeout aborts the loader's signal"],
  ['src/single-flight-cache.ts', '    const keep = context.keep !== false && ', '    const keep = ', 'ctx.keep = false stores nothing'],
  [
    'src/single-flight-cache.ts',
    '    if (flight.context.share === false) {\n      flight.settleUnshared',
    '    if (false) {\n      flight.settleUnshared',
    'ctx.share = false reaches nobody else',
  ],
  [
    'src/single-flight-cache.ts',
    '    } catch (error) {\n      return fail(error)\n    }',
    '    } catch (error) {\n      throw error\n    }',
    'a throwing store.set rejects the callers and frees the key',
  ],
  [
    'src/single-flight-cache.ts',
    '      return Promise.reject(error) // a throwing store',
    '      throw error // a throwing store',
    'a throwing store.get rejects instead of throwing',
  ],
  ['src/single-flight-cache.ts', "        ok = result.entry.kind === 'value'", '        ok = true', 'a cached error entry is never handed out as a value'],
  [
    'src/single-flight-cache.ts',
    "          if (result.kind === 'retry') continue",
    "          if (result.kind === 'retry') return this.settle(key, flight, { kind: 'failed', error: new Error('gave up') })",
    'a freed lease is acquired again',
  ],
  ['src/keys.ts', "  return typeof a === typeof b ? 0 : typeof a === 'number' ? -1 : 1", '  return 0', 'the canonical key order tells 1 from 1n'],
  ['src/keyed-lock.ts', '    unique.sort(compareKeys)', '    void compareKeys', 'acquireMany takes keys in canonical order'],
  ['src/keyed-lock.ts', '      if (this.entries.get(key) === lock) this.entries.delete(key)', '      void lock', 'an idle key leaves nothing behind'],
  ['src/lock.ts', '      if (this.onIdle !== undefined) this.onIdle()', '      void 0', 'a key lock reports itself idle (KeyedLock composes Lock)'],
  ['src/errors.ts', '    super(withDocsLink(code, message), options)', '    super(message, options)', 'every error message ends with its docs link'],
  [
    'src/rate-limiter.ts',
    'times[i]! + interval <= now',
    'times[i]! + interval / 2 <= now',
    'RateLimiter: a token comes back only one interval after it was taken',
  ],
  [
    'src/rate-limiter.ts',
    '    if (this.queue.length === 0 && this.available(this.now()) >= n) {',
    '    if (this.available(this.now()) >= n) {',
    'RateLimiter: no barging past queued callers',
  ],
  ['src/rate-limiter.ts', '    else if (wasHead) this.dispatch()', '    else void wasHead', 'RateLimiter: an aborted head unblocks those behind it'],
  ['src/rate-limiter.ts', '    if (this.queue.length === 0) this.clearTimer()', '    void 0', 'RateLimiter: no timer while nobody waits'],
  ['src/rate-limiter.ts', '    return Math.min(windowFree, this.bucket + EPSILON)', '    return windowFree', 'RateLimiter: burst spreads tokens out'],
  [
    'src/pool.ts',
    '    for (; need > 0 && this.size < this.max; need--) {',
    '    for (; need > 0 && this.size <= this.max; need--) {',
    'Pool: size never above max',
  ],
  [
    'src/pool.ts',
    '        if (forWaiter !== undefined && forWaiter.queue === this.queue) this.queue.abandon(forWaiter, error)',
    '        void forWaiter',
    'Pool: a create() failure reaches the caller it was made for',
  ],
  ['src/pool.ts', '    if (broken || this.closedReason !== undefined', '    if (this.closedReason !== undefined', 'Pool: a broken resource is destroyed'],
  ['src/pool.ts', '    for (const slot of this.idle.splice(0)) this.destroySlot(slot)', '    this.idle.splice(0)', 'Pool: close() destroys idle resources'],
  ['src/pool.ts', ' || this.size !== 0 || this.destroying !== 0) return', ' || this.size !== 0) return', 'Pool: drain() waits for destroy() to finish'],
  [
    'src/pool.ts',
    '    if (idleTimeout !== undefined && this.size > this.min) due',
    '    if (idleTimeout !== undefined) due',
    'Pool: no idle timer at or below min',
  ],
  // Adapters (paths relative to packages/core; the suite of the mutated package runs).
  ['../express/src/request-key.ts', "  return `${req.protocol}://${host ?? ''}`", "  return ''", 'express: the coalesce key holds scheme and host'],
  [
    '../express/src/capture.ts',
    '    const sent = head!.headers',
    '    const sent = normalizeHeaders(res.getHeaders())',
    'express: the captured headers describe the captured bytes (compression)',
  ],
  [
    '../express/src/capture.ts',
    '      if (name in before && String(before[name]) === String(value)) continue',
    '      void before',
    'express: each request keeps the headers it had before the handler',
  ],
  ['../express/src/capture.ts', '    if (res.headersSent) fail(', '    if (false) fail(', 'express: a leader whose body broke off releases its followers'],
  [
    '../express/src/coalesce.ts',
    '        buffer: ctx.staleValue !== undefined,',
    '        buffer: false,',
    'express: staleIfError protects the request that leads the refresh',
  ],
  [
    '../express/src/coalesce.ts',
    '          ctx.share = false // this request',
    '          void ctx // this request',
    'express: a non-shareable response reaches nobody else (ctx.share = false)',
  ],
  ['../express/src/coalesce.ts', '  if (unsafe.length && keyOf === undefined) {', '  if (false) {', 'express: non-safe methods need a key'],
  [
    '../express/src/coalesce.ts',
    '  const credentialNames = credentialHeaders.map((h) => h.toLowerCase())',
    "  const credentialNames = ['authorization', 'cookie']",
    'express: credentialHeaders partitions',
  ],
  ['../express/src/request-key.ts', "'range', 'if-range', 'if-match', 'if-unmodified-since'", "'range'", 'express: preconditions bypass coalescing'],
  ['../express/src/byte-budget-store.ts', '    if (!(keepFor > 0)) {', '    if (false) {', 'express: ttl 0 keeps nothing'],
  [
    '../express/src/hold-for-response.ts',
    '  onHandlerDone(res, () => guard.release())',
    "  res.once('close', () => guard.release())",
    'express: a lock/permit is held until the handler is done',
  ],
  [
    '../express/src/request-signal.ts',
    '      if (error === undefined && !this.destroyed && !this.readableEnded) once()',
    '      void once',
    'express: a mid-body error (final handler drops the connection) ends the hold',
  ],
  [
    '../express/src/request-signal.ts',
    '        outer = wrap(next)',
    '        outer = next',
    'express: the hold sees the handler’s own res.end under a later compression()',
  ],
  [
    '../express/src/hold-for-response.ts',
    '    if (signal.aborted) return void res.destroy()',
    '    if (signal.aborted) return',
    'express: a waiter whose client left ends its response (a permit in front comes back)',
  ],
  [
    '../express/src/coalesce.ts',
    '      if (signal.aborted) return void res.destroy()',
    '      if (signal.aborted) return',
    'express: a follower whose client left ends its response (a permit in front comes back)',
  ],
  [
    '../express/src/capture.ts',
    '    else clientGone = true',
    '    else void 0',
    'express: a leader whose client left before the headers still completes a piped body',
  ],
  [
    '../express/src/capture.ts',
    '    const restarted = (clientGone || buffering) && res.statusCode !== statusAtHead',
    '    const restarted = false',
    'express: an error page written over a begun body is never captured',
  ],
  ['../express/src/capture.ts', "wire['set-cookie'] === undefined &&", '', 'express: a Set-Cookie added as the headers go out makes the response unshareable'],
  ['../express/src/byte-budget-store.ts', '  return key.length + bytes + headers + 256', '  return bytes + headers + 256', 'express: maxBytes counts the keys'],
  [
    '../nestjs/src/coalesce.interceptor.ts',
    '        if (isStream(result)) ctx.share = false',
    '        void isStream',
    'nestjs: @Coalesce never shares a stream',
  ],
  [
    '../nestjs/src/coalesce.interceptor.ts',
    '    let key = `coalesce:${handler} ',
    "    let key = `coalesce:${''} ",
    'nestjs: the @Coalesce key holds the handler',
  ],
  [
    '../nestjs/src/hold.ts',
    '          release()\n          return subscriber.error(error)',
    '          throw error',
    'nestjs: a throwing Observable method gives the caller the error and frees the lock',
  ],
  [
    '../nestjs/src/default-key.ts',
    '      if (proto !== Object.prototype && proto !== null) return unkeyable(',
    '      if (false) return unkeyable(',
    'nestjs: the default key refuses what it cannot key faithfully',
  ],
  ['../nestjs/src/request-key.ts', "  return `${scheme}://${host ?? ''}`", "  return ''", 'nestjs: the @Coalesce key holds scheme and host'],
  [
    '../rxjs/src/with-guard.ts',
    '        subscriber.add(relay)\n        source.subscribe(relay)',
    '        source.subscribe(relay)\n        subscriber.add(relay)',
    'rxjs: a guarded source is subscribed with the subscriber itself (sees closed)',
  ],
  [
    '../rxjs/src/with-guard.ts',
    '          withdraw()\n          release()',
    '          withdraw()',
    'rxjs: unsubscribing releases before unsubscribe() returns',
  ],
  ['../rxjs/src/relay.ts', '  if (tearingDown > 0) {', '  if (false) {', 'rxjs: a waiter torn down by the same unsubscribe never starts its source'],
  [
    '../rxjs/src/relay.ts',
    '    this.onEnd()\n    this.target.error(error)',
    '    this.target.error(error)\n    this.onEnd()',
    'rxjs: the guard is released before an error is forwarded',
  ],
  [
    '../rxjs/src/with-guard.ts',
    '            while (!waiting && active < concurrent',
    '            while (active < concurrent',
    'rxjs: permitMap keeps one wait open per stream',
  ],
  [
    '../rxjs/src/flight.ts',
    '    if (value === EMPTY_RESULT) context.keep = false',
    '    void context',
    'rxjs: an empty factory completes empty and caches nothing',
  ],
  // @yieldpoint/redis (issue 11): one file of its suite, one lib × topology, for speed.
  [
    '../redis/src/connection.ts',
    '          if (error instanceof RedisReplyError) return fail(error, false)',
    '          void RedisReplyError',
    'Redis: an error reply is not an outage',
    REDIS_LOCK,
  ],
  [
    '../redis/src/connection.ts',
    '          else late?.(value)',
    '          else void late',
    'Redis: a command that succeeds after its caller left is undone',
    REDIS_LOCK,
  ],
  [
    '../redis/src/connection.ts',
    '      const onAbort = (): void => fail(signal!.reason, false)',
    '      const onAbort = (): void => {}',
    "Redis: the caller's signal bounds a command",
    REDIS_LOCK,
  ],
  [
    '../redis/src/client-ioredis.ts',
    '  if (client.options.enableOfflineQueue !== false) {',
    '  if (false) {',
    'Redis: an ioredis client with an offline queue is refused',
    { tests: ['test/client.test.ts'] },
  ],
  [
    '../redis/src/client-node-redis.ts',
    '  if (!offlineQueueOff) {',
    '  if (false) {',
    'Redis: a node-redis client with an offline queue is refused',
    { tests: ['test/client.test.ts'] },
  ],
  ['../redis/src/codec.ts', "    if (typeof text !== 'string') {", '    if (false) {', 'Redis: a key that is not a string is refused', REDIS_LOCK],
  [
    '../redis/src/codec.ts',
    "  return key === '' ? '%' : key.replace(/[%}]/g, (c) => (c === '%' ? '%25' : '%7D'))",
    '  return key',
    'Redis: every key keeps its own hash tag',
    { ...REDIS_LOCK, env: { YP_REDIS_MATRIX: 'ioredis/cluster' } },
  ],
  [
    '../redis/src/scripts.ts',
    '  local fence = tonumber(t[1]) * 1000000 + tonumber(t[2])',
    '  local fence = 0',
    "Redis: fences come from the server's clock",
    REDIS_LOCK,
  ],
  [
    '../redis/src/redis-keyed-lock.ts',
    '        await guard.releaseAsync().catch((error: unknown) => this.onReleaseError(error, key))',
    '        await guard.releaseAsync()',
    "Redis: runExclusive reports fn's outcome, not the release's",
    REDIS_LOCK,
  ],
  ['../redis/src/connection.ts', '(!allow.integer || Number.isInteger(value))', 'true', 'Redis: lockTtl must be an integer', REDIS_LOCK],
  [
    'src/diagnostics.ts',
    '    this.on = this.active || (this.misuse && (settings.on || settings.perPrimitive))',
    '    this.on = this.misuse && (settings.on || settings.perPrimitive)',
    'diagnostics: a subscriber turns publishing on',
  ],
  [
    'src/diagnostics.ts',
    '              for (const probe of set) probe.refresh()',
    '              for (const probe of set) return void probe.refresh()',
    'diagnostics: every copy of core sees a subscription',
  ],
  ['src/diagnostics.ts', "  probe.events.publish(message(info, 'acquire', 0))\n", '', 'diagnostics: every grant has its start (tryAcquire)'],
  [
    'src/diagnostics-watch.ts',
    '    publishRelease(this.probe, this.info, this.grantedAt)\n    this.timer?.clear()',
    '    this.timer?.clear()',
    'diagnostics: a release is published',
  ],
  [
    'src/diagnostics-watch.ts',
    '          if (this.inner.released) return\n          emit(',
    '          if (this.inner.released) return\n          void (',
    'warnAfter warns',
  ],
  [
    'src/diagnostics-watch.ts',
    '          if (this.inner.released) return\n          emit(',
    '          if (this.inner.released) return\n          this.inner.release()\n          emit(',
    'warnAfter never releases early',
  ],
  ['src/diagnostics-watch.ts', '  if (settings.leakedGuards) leaks.register(guard, { what, site }, h)', '  void h', 'leaked guards warn'],
  ['src/diagnostics-watch.ts', "  process.on('beforeExit', reportAtExit)", '  void reportAtExit', 'holds and waits pending at exit are reported'],
  [
    'src/lock.ts',
    '    if (this.detectDeadlock && holdsHere(this, undefined)) return deadlock(this.queue.api)',
    '    void holdsHere',
    'Lock: DeadlockError instead of hanging',
  ],
  ['src/keyed-lock.ts', ' && this.detectDeadlock && holdsHere(this, key)) {', ' && false) {', 'KeyedLock: DeadlockError instead of hanging'],
  [
    'src/single-flight-cache.ts',
    '    if (opts === undefined || (opts.signal === undefined && (opts.timeout === undefined || opts.timeout === Infinity))) {',
    '    if (true) {',
    "SingleFlightCache: a caller's timeout/signal cover the store's read",
    { tests: ['test/store-read-deadline.test.ts'] },
  ],
  [
    '../redis/src/redis-store.ts',
    '      for await (const keys of c.scan(`${globEscape(this.prefix)}{*}:seq`)) await c.unlink(keys)',
    '      void 0',
    'RedisStore.clear() fences out loads running in other processes',
    { tests: ['test/store-clear.test.ts'], env: { YP_REDIS_MATRIX: 'ioredis/single' } },
  ],
  [
    '../redis/src/redis-store.ts',
    '  private serialize(error: unknown): SerializedError {\n    let reason: unknown',
    '  private serialize(error: unknown): SerializedError {\n    if (error !== 0) return this.serializeError(error)\n    let reason: unknown',
    'RedisStore: a lease ends whatever the loader threw',
    { tests: ['test/store-lease-end.test.ts'], env: { YP_REDIS_MATRIX: 'ioredis/single' } },
  ],
  [
    '../redis/src/pubsub.ts',
    '        try {\n          listener(message)\n        } catch {}',
    '        listener(message)',
    'Redis: a foreign pub/sub message is ignored, never thrown',
    { tests: ['test/store-foreign-messages.test.ts'] },
  ],
]
let missed = 0
for (const [file, from, to, rule, only = {}] of mutants) {
  const path = join(core, file)
  const source = readFileSync(path, 'utf8')
  if (!source.includes(from)) {
    console.log(`?      ${rule}: code moved, update scripts/mutants.mjs`)
    missed++
    continue
  }
  // `--check`: only confirm every mutant still finds its code (fast; run after reformatting).
  if (process.argv.includes('--check')) continue
  writeFileSync(path, source.replace(from, to))
  try {
    const cwd = file.startsWith('../') ? join(core, file.split('/src/')[0]) : core
    const r = spawnSync('npx', ['vitest', 'run', '--testTimeout=3000', '--bail=1', ...(only.tests ?? [])], {
      cwd,
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, ...only.env },
    })
    const caught = r.status !== 0
    if (!caught) missed++
    console.log(`${caught ? 'caught' : 'MISSED'} ${rule}`)
  } finally {
    writeFileSync(path, source)
  }
}
console.log(`\n${mutants.length - missed} passed, ${missed} failed`)
process.exit(missed ? 1 : 0)
