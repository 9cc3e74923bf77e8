#!/usr/bin/env node
// The built site, checked in a real browser (Debian's headless Chromium driven by playwright-core):
//  - every page reachable from the home page renders, with no console error and no page error
//  - every internal link (href and src) resolves to a file of the build
//  - the local search finds "stampede"
//  - the charts load and draw (an <img> of an SVG with plotted paths)
// Run after `pnpm docs:build`. Needs /usr/bin/chromium (`apt-get install chromium`) or CHROMIUM=path.
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { resolveFile, serve } from './serve.mjs'

const docs = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(docs, '.vitepress', 'dist')
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium'
if (!existsSync(join(dist, 'index.html'))) fail('no built site: run `pnpm docs:build` first')
if (!existsSync(executablePath)) fail(`no Chromium at ${executablePath}: \`apt-get install -y chromium\` (Debian) or set CHROMIUM`)

function fail(message) {
  console.error(`✗ docs browser check: ${message}`)
  process.exit(1)
}

const started = performance.now()
const site = await serve(dist)
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
})
const problems = []
try {
  const context = await browser.newContext()
  // Nothing leaves 127.0.0.1: a page that needs the network is a page that breaks offline.
  await context.route(
    (url) => !url.href.startsWith(site.url),
    (route) => route.abort(),
  )

  // 1. render every page reachable from "/". The first is a full load; the others are client-side
  //    navigations, as a reader clicking through gets them (VitePress's router renders each page's
  //    component): a render error or a console error on any page is caught, at a fraction of the
  //    cost of reloading the bundle for each page.
  const tab = await context.newPage()
  const errors = []
  let current = '/'
  tab.on('console', (m) => m.type() === 'error' && errors.push(`${current}: console: ${m.text()}`))
  tab.on('pageerror', (e) => errors.push(`${current}: page error: ${e.message}`))
  tab.on(
    'response',
    (r) => r.url().startsWith(site.url) && r.status() >= 400 && errors.push(`${current}: HTTP ${r.status()} ${r.url().slice(site.url.length)}`),
  )
  const seen = new Set(['/'])
  const queue = ['/']
  const links = new Map() // link → first page that has it
  let pages = 0
  const first = await tab.goto(`${site.url}/`, { waitUntil: 'load' })
  if (first?.status() !== 200) fail(`/ answered HTTP ${first?.status()}`)
  for (let path; (path = queue.shift()) !== undefined; ) {
    current = path
    if (path !== '/' || pages > 0) {
      const before = await tab.evaluate(() => document.title + (document.querySelector('main h1')?.textContent ?? ''))
      await tab.evaluate((p) => {
        const a = document.createElement('a')
        a.href = p
        document.body.append(a)
        a.click()
        a.remove()
      }, path)
      const rendered = await tab
        .waitForFunction(
          ([p, b]) =>
            location.pathname === p && document.title + (document.querySelector('main h1')?.textContent ?? '') !== b && !!document.querySelector('main h1'),
          [path, before],
          { timeout: 10_000 },
        )
        .then(
          () => true,
          () => false,
        )
      if (!rendered) errors.push(`${path}: did not render (no new <h1> after navigating to it)`)
    }
    pages++
    const found = await tab.$$eval('a[href], img[src]', (els) => els.map((e) => e.getAttribute('href') ?? e.getAttribute('src')))
    for (const raw of found) {
      if (!raw || /^(https?:|mailto:|#)/.test(raw)) continue
      const url = new URL(raw, site.url + path)
      if (url.origin !== site.url) continue
      const target = url.pathname
      if (!links.has(target)) links.set(target, path)
      if (!/\.(svg|png|ico|js|css|json|xml|txt|woff2)$/.test(target) && !seen.has(target)) {
        seen.add(target)
        queue.push(target)
      }
    }
  }
  problems.push(...errors)

  // 2. every internal link resolves to a built file
  for (const [link, from] of links) if (!resolveFile(dist, link)) problems.push(`${from}: broken link ${link}`)

  // 3. the local search finds "stampede"
  await tab.goto(`${site.url}/`, { waitUntil: 'load' })
  await tab.click('.DocSearch-Button, .VPNavBarSearch button')
  await tab.fill('.VPLocalSearchBox input', 'stampede')
  const hit = await tab.waitForSelector('.VPLocalSearchBox .results a[href*="/guide/stampede"]', { timeout: 15_000 }).then(
    () => true,
    () => false,
  )
  if (!hit) problems.push('search: "stampede" does not find /guide/stampede')

  // 4. the charts load and draw
  await tab.goto(`${site.url}/charts/`, { waitUntil: 'load' })
  const charts = await tab.$$eval('img.yp-chart', (imgs) => imgs.map((i) => ({ src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0 })))
  if (charts.length < 3) problems.push(`charts: ${charts.length} charts on /charts/, expected 3`)
  for (const c of charts) {
    if (!c.ok) problems.push(`charts: ${c.src} did not load`)
    const svg = await (await tab.request.get(site.url + c.src)).text()
    if ((svg.match(/class="series"/g) ?? []).length < 4) problems.push(`charts: ${c.src} has no plotted series`)
  }
  if (problems.length === 0)
    console.log(
      `✓ docs browser check: ${pages} pages rendered without console errors, ${links.size} internal links resolve, ` +
        `search finds "stampede", ${charts.length} charts draw (${((performance.now() - started) / 1000).toFixed(1)} s)`,
    )
} finally {
  await browser.close()
  await site.close()
}
if (problems.length) fail(`${problems.length} problem(s):\n  ${problems.join('\n  ')}`)
