import { coalesce } from '@yieldpoint/express'
import express, { type Express } from 'express'

/**
 * Two routes over the same upstream:
 * - `/naive/products/:id` — the seed's check-then-act cache: every request that arrives before
 *   the first upstream answer sees a miss and calls the upstream too (the stampede);
 * - `/products/:id` — the same handler behind `coalesce({ ttl })`: one upstream call per key.
 */
export function createApp(upstreamUrl: string): Express {
  const app = express()
  const fetchProduct = async (id: string): Promise<unknown> => (await fetch(`${upstreamUrl}/products/${encodeURIComponent(id)}`)).json()

  const naiveCache = new Map<string, unknown>()
  app.get('/naive/products/:id', async (req, res) => {
    const id = String(req.params.id)
    if (!naiveCache.has(id)) naiveCache.set(id, await fetchProduct(id)) // read … await … write
    res.json(naiveCache.get(id))
  })

  app.get('/products/:id', coalesce({ ttl: 5_000, staleWhileRevalidate: 30_000 }), async (req, res) => {
    res.json(await fetchProduct(String(req.params.id)))
  })
  return app
}
