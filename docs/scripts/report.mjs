#!/usr/bin/env node
// `pnpm demo -- --report`: the docs' charts page, for your own run. Reads the records the demo
// apps wrote (apps/*/run-record.json, or the files given) and writes one self-contained HTML page
// with an SVG chart per demo (naive vs fixed, side by side) and its numbers.
//
//   node docs/scripts/report.mjs [--out demo-report] [record.json …]
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pickPair, renderChart } from './charts.mjs'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const args = process.argv.slice(2)
const outAt = args.indexOf('--out')
const outDir = resolve(outAt >= 0 ? args.splice(outAt, 2)[1] : join(repo, 'demo-report'))
const files = args.length
  ? args.map((f) => resolve(f))
  : readdirSync(join(repo, 'apps'))
      .map((a) => join(repo, 'apps', a, 'run-record.json'))
      .filter((f) => existsSync(f))
if (files.length === 0) {
  console.error('✗ no run records found: run the demo first (`pnpm demo`), which writes apps/*/run-record.json')
  process.exit(1)
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const records = files.map((f) => JSON.parse(readFileSync(f, 'utf8'))).sort((a, b) => a.app.localeCompare(b.app))
const sections = records.map((r) => {
  const { naive, fixed } = pickPair(r)
  const rows = r.strategies
    .map((s) => `<tr><td>${esc(s.strategy)}</td><td>${s.requests}</td><td>${s.ok}</td><td>${s.upstreamCalls}</td><td>${s.p50} ms</td><td>${s.p99} ms</td></tr>`)
    .join('')
  return `<section id="${esc(r.app)}"><h2>${esc(r.app)}</h2>
<p>${esc(naive.strategy)}: <b>${naive.upstreamCalls}</b> upstream calls;
${esc(fixed.strategy)}: <b>${fixed.upstreamCalls}</b>.</p>
${renderChart(r)}
<table><thead><tr><th>strategy</th><th>requests</th><th>ok</th><th>upstream calls</th><th>p50</th><th>p99</th></tr></thead>
<tbody>${rows}</tbody></table></section>`
})
mkdirSync(outDir, { recursive: true })
const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>yieldpoint demo report</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#222}
svg{max-width:100%;height:auto;border:1px solid #eee}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}</style></head>
<body><h1>Your demo run</h1><p>Recorded by <code>pnpm demo</code>; the same charts as
<a href="https://yieldpoint.dev/charts/">yieldpoint.dev/charts</a>, from your machine. Upstream calls made over time (top)
and requests still waiting (bottom), naive on the left, fixed on the right, on the same scales.</p>
${sections.join('\n')}
</body></html>
`
const out = join(outDir, 'index.html')
writeFileSync(out, page)
console.log(`• demo report: ${out} (${records.length} run${records.length === 1 ? '' : 's'}: ${records.map((r) => r.app).join(', ')})`)
