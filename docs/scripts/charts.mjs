// Draws a demo run's record (tooling/demo-kit's recordRun → JSON) as an SVG: the naive strategy
// and the fixed one side by side, on the same scales — upstream calls made over time above,
// requests still waiting for an answer below. Plain string building: no browser, no dependency.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const W = 920
const PANEL_W = 420
const PLOT_H = 130
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const fmt = (n) => Math.round(n).toLocaleString('en-US')

/** The two strategies to compare: the first (naive) and the cold run with the fewest upstream calls. */
export function pickPair(record) {
  const [naive, ...rest] = record.strategies
  const cold = rest.filter((s) => s.upstreamCalls > 0)
  const fixed = cold.reduce((a, b) => (b.upstreamCalls < a.upstreamCalls ? b : a), cold[0] ?? rest[0])
  return { naive, fixed }
}

function niceMax(n) {
  if (n <= 1) return 1
  const p = 10 ** Math.floor(Math.log10(n))
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= n)
}

function plot({ x0, y0, series, key, tMax, yMax, color, fill, label }) {
  const sx = (t) => x0 + (t / tMax) * PANEL_W
  const sy = (v) => y0 + PLOT_H - (v / yMax) * PLOT_H
  const pts = series.t.map((t, i) => `${sx(t).toFixed(1)},${sy(series[key][i]).toFixed(1)}`)
  const path = `M${pts.join(' L')}`
  const area = fill
    ? `<path d="${path} L${sx(series.t.at(-1)).toFixed(1)},${sy(0)} L${sx(0)},${sy(0)} Z" fill="${color}" fill-opacity="0.18" stroke="none"/>`
    : ''
  const grid = [0, 0.5, 1]
    .map(
      (f) =>
        `<line x1="${x0}" x2="${x0 + PANEL_W}" y1="${sy(yMax * f)}" y2="${sy(yMax * f)}" class="grid"/><text ` +
        `x="${x0 - 6}" y="${sy(yMax * f) + 4}" class="tick" text-anchor="end">${fmt(yMax * f)}</text>`,
    )
    .join('')
  return (
    `<g>${grid}${area}<path d="${path}" fill="none" stroke="${color}" stroke-width="2" class="series" ` +
    `data-series="${key}"/><text x="${x0 + 4}" y="${y0 + 12}" class="label">${esc(label)}</text></g>`
  )
}

/** Renders one run record as a standalone SVG document (string). */
export function renderChart(record) {
  const { naive, fixed } = pickPair(record)
  const tMax = Math.max(naive.series.t.at(-1), fixed.series.t.at(-1))
  const callsMax = niceMax(Math.max(...naive.series.upstreamTotal, ...fixed.series.upstreamTotal))
  const waitMax = niceMax(Math.max(...naive.series.waiting, ...fixed.series.waiting))
  const H = 95 + 2 * PLOT_H + 40 + 50
  const panels = [naive, fixed].map((s, i) => {
    const x0 = 50 + i * (PANEL_W + 50)
    const head =
      `<text x="${x0}" y="62" class="head">${i === 0 ? 'naive' : 'fixed'}: ` +
      `${esc(s.strategy)}</text><text x="${x0}" y="80" class="sub">${fmt(s.upstreamCalls)} ` +
      `upstream call${s.upstreamCalls === 1 ? '' : 's'} · p50 ${fmt(s.p50)} ms · p99 ${fmt(s.p99)} ms · ${fmt(s.ok)}/${fmt(s.requests)} ok</text>`
    const calls = plot({ x0, y0: 95, series: s.series, key: 'upstreamTotal', tMax, yMax: callsMax, color: '#c0392b', label: 'upstream calls made' })
    const waits = plot({
      x0,
      y0: 95 + PLOT_H + 40,
      series: s.series,
      key: 'waiting',
      tMax,
      yMax: waitMax,
      color: '#2e6fbd',
      fill: true,
      label: 'requests waiting',
    })
    const axisY = 95 + 2 * PLOT_H + 40
    const ticks = [0, 0.25, 0.5, 0.75, 1]
      .map((f) => `<text x="${x0 + f * PANEL_W}" y="${axisY + 16}" class="tick" text-anchor="middle">${fmt(tMax * f)}</text>`)
      .join('')
    return (
      `<g class="panel" data-strategy="${esc(s.strategy)}">${head}${calls}${waits}${ticks}<text ` +
      `x="${x0 + PANEL_W / 2}" y="${axisY + 34}" class="tick" text-anchor="middle">ms since the burst began</text></g>`
    )
  })
  const title = `${esc(record.title)}: ${esc(naive.strategy)} made ${naive.upstreamCalls} upstream calls, ${esc(fixed.strategy)} made ${fixed.upstreamCalls}`
  const recorded = `recorded ${esc(record.recordedAt.slice(0, 16).replace('T', ' '))} UTC on Node ${esc(record.node)}`
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}"
  role="img" aria-labelledby="t-${record.app}" class="yp-chart">
<title id="t-${record.app}">${title}</title>
<style>text{font-family:system-ui,-apple-system,Segoe UI,sans-serif;fill:#333}.title{font-size:15px;font-weight:600}
.head{font-size:13px;font-weight:600}.sub,.label{font-size:11px;fill:#555}.tick{font-size:10px;fill:#777}.grid{stroke:#ddd;stroke-width:1}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="50" y="28" class="title">${esc(record.title)}</text>
<text x="50" y="44" class="sub">${recorded} — same scales on both sides</text>
${panels.join('\n')}
</svg>
`
}

/** Renders every `*.json` record in `dataDir` to `outDir/<app>.svg`; returns the files written. */
export function writeCharts({ dataDir, outDir }) {
  mkdirSync(outDir, { recursive: true })
  const written = []
  for (const file of readdirSync(dataDir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const record = JSON.parse(readFileSync(join(dataDir, file), 'utf8'))
    const out = join(outDir, `${record.app}.svg`)
    writeFileSync(out, renderChart(record))
    written.push(out)
  }
  return written
}
