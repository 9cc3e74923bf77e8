// The pictures and the report are generated code: test what they must show.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { sample, type RunRecord } from '../../tooling/demo-kit/src/record'
// @ts-expect-error plain JS module without types
import { pickPair, renderChart } from '../scripts/charts.mjs'
// @ts-expect-error plain JS module without types
import { resolveFile } from '../scripts/serve.mjs'

const record = (): RunRecord => {
  const naive = sample(
    {
      requests: [
        [0, 100],
        [0, 100],
        [10, 120],
      ],
      upstream: [
        [1, 90],
        [2, 95],
        [12, 110],
      ],
    },
    120,
  )
  const fixed = sample(
    {
      requests: [
        [0, 50],
        [0, 50],
        [10, 50],
      ],
      upstream: [[1, 49]],
    },
    50,
  )
  const row = (strategy: string, upstreamCalls: number, series: typeof naive) => ({
    strategy,
    requests: 3,
    ok: 3,
    upstreamCalls,
    elapsedMs: 100,
    p50: 50,
    p99: 90,
    series,
  })
  return {
    app: 'test-app',
    title: 'three requests',
    recordedAt: '2026-01-01T00:00:00.000Z',
    node: 'v20',
    strategies: [row('naive', 3, naive), row('coalesce', 1, fixed), row('warm', 0, fixed)],
  }
}

describe('sample()', () => {
  it('counts waiting requests and upstream calls at each instant', () => {
    const s = sample(
      {
        requests: [
          [0, 10],
          [5, 20],
        ],
        upstream: [
          [1, 3],
          [6, 30],
        ],
      },
      40,
    )
    const at = (t: number) => s.t.findIndex((x) => x >= t)
    expect(s.waiting[at(6)]).toBe(2)
    expect(s.waiting[at(25)]).toBe(0)
    expect(s.upstreamTotal[at(6)]).toBe(2)
    expect(s.upstreamInFlight[at(10)]).toBe(1)
    expect(s.upstreamTotal.at(-1)).toBe(2)
  })
})

describe('charts', () => {
  it('compares the naive run with the cold fixed run (not the warm one)', () => {
    const { naive, fixed } = pickPair(record())
    expect([naive.strategy, fixed.strategy]).toEqual(['naive', 'coalesce'])
  })

  it('draws both sides as a standalone SVG: two panels, four plotted series, the counts in the text', () => {
    const svg: string = renderChart(record())
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.match(/class="panel"/g)).toHaveLength(2)
    expect(svg.match(/class="series"/g)).toHaveLength(4)
    expect(svg).toContain('3 upstream calls')
    expect(svg).toContain('1 upstream call ')
  })

  it('report.mjs writes one page with a chart per record', () => {
    const dir = mkdtempSync(join(tmpdir(), 'yp-report-'))
    const file = join(dir, 'test-app.json')
    writeFileSync(file, JSON.stringify(record()))
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'scripts', 'report.mjs'), '--out', join(dir, 'out'), file], { encoding: 'utf8' })
    expect(r.status).toBe(0)
    const html = readFileSync(join(dir, 'out', 'index.html'), 'utf8')
    expect(html.match(/<svg /g)).toHaveLength(1)
    expect(html).toContain('<b>3</b> upstream calls')
  })
})

describe('the static server of the browser check', () => {
  it('resolves clean URLs and never leaves the site folder', () => {
    const root = join(import.meta.dirname, '..', 'errors')
    expect(resolveFile(root, '/ERR_YP_TIMEOUT')).toBeUndefined() // .md, not .html: nothing to serve
    expect(resolveFile(root, '/ERR_YP_TIMEOUT.md')).toBe(join(root, 'ERR_YP_TIMEOUT.md'))
    expect(resolveFile(root, '/../package.json')).toBeUndefined()
    expect(resolveFile(root, '/%2e%2e/package.json')).toBeUndefined()
  })
})
