import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { defineConfig } from 'vitepress'

const root = join(import.meta.dirname, '..')
// Written by typedoc (scripts/build.mjs runs it first); absent only in `vitepress dev` before a build.
const apiSidebarFile = join(root, 'api', 'typedoc-sidebar.json')
const apiSidebar = existsSync(apiSidebarFile) ? JSON.parse(readFileSync(apiSidebarFile, 'utf8')) : []
const errorCodes = readdirSync(join(root, 'errors'))
  .filter((f) => f.startsWith('ERR_'))
  .map((f) => f.replace(/\.md$/, ''))
  .sort()

export default defineConfig({
  title: 'yieldpoint',
  description: 'Every await is a yield point: asyncio’s primitives, keyed locks and stampede-proof caches for Node.',
  lang: 'en',
  cleanUrls: true,
  lastUpdated: false,
  // Broken internal links fail the build (VitePress's default, stated so nobody turns it off).
  ignoreDeadLinks: false,
  srcExclude: ['README.md', 'scripts/**', 'snippets/**'],
  sitemap: { hostname: 'https://yieldpoint.dev' },
  // The local search index of ~180 pages (the API reference included) is one lazily loaded chunk
  // above Vite's 500 kB hint; it is fetched only when the search box opens.
  vite: { build: { chunkSizeWarningLimit: 2_000 } },
  head: [['meta', { name: 'theme-color', content: '#3c8772' }]],
  themeConfig: {
    search: { provider: 'local' },
    nav: [
      { text: 'Guide', link: '/guide/' },
      { text: 'Primitives', link: '/primitives/' },
      { text: 'Charts', link: '/charts/' },
      { text: 'Migrate', link: '/migrate/' },
      { text: 'Errors', link: '/errors/' },
      { text: 'Packages', link: '/packages/' },
      { text: 'API', link: '/api/' },
    ],
    sidebar: {
      '/guide/': [
        {
          text: 'Every await is a yield point',
          items: [
            { text: 'The idea', link: '/guide/' },
            { text: 'Lost update', link: '/guide/lost-update' },
            { text: 'Check-then-act', link: '/guide/check-then-act' },
            { text: 'The stampede', link: '/guide/stampede' },
            { text: 'The global-lock cache', link: '/guide/global-lock-cache' },
            { text: 'Locking too late', link: '/guide/locking-too-late' },
            { text: 'A blocking lock in async code', link: '/guide/blocking-lock' },
            { text: 'Over-locking', link: '/guide/over-locking' },
            { text: 'A lock that outlives its request', link: '/guide/lock-outlives-request' },
          ],
        },
        { text: 'Pictures', items: [{ text: 'Naive vs fixed, charted', link: '/charts/' }] },
      ],
      '/primitives/': [
        {
          text: 'Primitives',
          items: [
            { text: 'Rules every wait follows', link: '/primitives/' },
            { text: 'Lock', link: '/primitives/lock' },
            { text: 'Event', link: '/primitives/event' },
            { text: 'Condition', link: '/primitives/condition' },
            { text: 'Semaphore', link: '/primitives/semaphore' },
            { text: 'BoundedSemaphore', link: '/primitives/bounded-semaphore' },
            { text: 'Barrier', link: '/primitives/barrier' },
            { text: 'KeyedLock', link: '/primitives/keyed-lock' },
            { text: 'SingleFlight', link: '/primitives/single-flight' },
            { text: 'SingleFlightCache', link: '/primitives/single-flight-cache' },
            { text: 'RateLimiter', link: '/primitives/rate-limiter' },
            { text: 'limit', link: '/primitives/limit' },
            { text: 'Pool', link: '/primitives/pool' },
          ],
        },
        {
          text: 'Conformance',
          items: [
            { text: 'Primitives (numbered cases)', link: '/conformance/primitives' },
            { text: 'SingleFlightCache (SF-01 …)', link: '/conformance/single-flight' },
          ],
        },
      ],
      '/conformance/': [
        {
          text: 'Conformance',
          items: [
            { text: 'Primitives (numbered cases)', link: '/conformance/primitives' },
            { text: 'SingleFlightCache (SF-01 …)', link: '/conformance/single-flight' },
          ],
        },
      ],
      '/migrate/': [
        {
          text: 'Migrating',
          items: [
            { text: 'Overview', link: '/migrate/' },
            { text: 'from async-mutex', link: '/migrate/async-mutex' },
            { text: 'from p-limit', link: '/migrate/p-limit' },
            { text: 'from async-lock', link: '/migrate/async-lock' },
            { text: 'from lru-cache fetch', link: '/migrate/lru-cache-fetch' },
            { text: 'from @nestjs/cache-manager', link: '/migrate/nestjs-cache-manager' },
          ],
        },
      ],
      '/errors/': [{ text: 'Errors', items: [{ text: 'All error codes', link: '/errors/' }, ...errorCodes.map((c) => ({ text: c, link: `/errors/${c}` }))] }],
      '/api/': [{ text: 'API reference', link: '/api/', items: apiSidebar }],
    },
    socialLinks: [{ icon: 'github', link: 'https://github.com/yieldpoint/yieldpoint' }],
    footer: { message: 'MIT licensed' },
  },
})
