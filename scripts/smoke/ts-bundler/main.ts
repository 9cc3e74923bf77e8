// TypeScript, moduleResolution bundler (an ESM package, the .d.ts types), typechecked by tsc and
// run through esbuild (tsx), as a bundler would: @yieldpoint/core, /rxjs and /express on Express 5.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { Semaphore, SingleFlight } from '@yieldpoint/core'
import { coalesce } from '@yieldpoint/express'
import { permitMap } from '@yieldpoint/rxjs'
import express, { type Request, type Response } from 'express'
import { from, lastValueFrom, toArray } from 'rxjs'

const sem = new Semaphore(2)
let running = 0
let peak = 0
const work = async (x: number): Promise<number> => {
  running++
  peak = Math.max(peak, running)
  await new Promise((r) => setImmediate(r))
  running--
  return x * 2
}
const doubled = await lastValueFrom(from([1, 2, 3, 4, 5, 6]).pipe(permitMap(sem, work), toArray()))
assert.equal(doubled.length, 6)
assert.equal(peak, 2)

const flights = new SingleFlight<string, number>()
let runs = 0
const results = await Promise.all(
  Array.from({ length: 10 }, () =>
    flights.run('k', async () => {
      runs++
      await new Promise((r) => setImmediate(r))
      return 42
    }),
  ),
)
assert.equal(runs, 1)
assert.ok(results.every((r) => r === 42))

let handled = 0
const app = express()
app.get('/p/:id', coalesce({ ttl: 5_000 }), async (req: Request<{ id: string }>, res: Response) => {
  handled++
  await new Promise((r) => setImmediate(r))
  res.json({ id: req.params.id })
})
const server = app.listen(0, '127.0.0.1')
await new Promise((r) => server.once('listening', r))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/p/3`
await Promise.all(Array.from({ length: 20 }, () => fetch(url).then((r) => r.json())))
server.close()
assert.equal(handled, 1)
console.log('ts-bundler: core, rxjs, express 5 ok')
