// `node src/instructions.mjs <impl> <scenario> <ops>` runs one scenario for one implementation
// and nothing else, so `valgrind --tool=callgrind` can count its instructions: unlike wall time,
// an instruction count is repeatable on a busy machine. Cost per op = (count at 2·ops − count at
// ops) / ops, which cancels start-up and JIT warm-up. See README.md ("Instruction counts").
import { adapters } from './adapters.mjs'

const [impl, scenario, opsArg] = process.argv.slice(2)
const a = adapters[impl]
const m = await import(`./scenarios.mjs?impl=${impl}`)
const ops = Number(opsArg)
// Warm up the same way for every run (so the difference between two sizes is pure steady state).
const warm = 20_000
if (scenario === 'A') {
  const lock = a.create(1)
  await m.uncontended(a, lock, warm)
  await m.uncontended(a, lock, ops)
} else if (scenario === 'B10' || scenario === 'B1000' || scenario === 'C') {
  const n = scenario === 'B10' ? 10 : scenario === 'B1000' ? 1000 : 1000
  const permits = scenario === 'C' ? 10 : 1
  for (let i = 0; i < warm / n; i++) await m.contended(a, a.create(permits), n, permits, 1e9)
  for (let i = 0; i < ops / n; i++) await m.contended(a, a.create(permits), n, permits, 1e9)
} else if (scenario === 'D') {
  for (let i = 0; i < 2; i++) await m.counterRace(a, a.create(1), 10_000)
  for (let i = 0; i < ops / 10_000; i++) await m.counterRace(a, a.create(1), 10_000)
} else {
  console.error('scenario: A | B10 | B1000 | C | D')
  process.exit(2)
}
