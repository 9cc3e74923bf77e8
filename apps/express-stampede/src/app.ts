import { SingleFlightCache } from '@yieldpoint/core'
import { coalesce, type CapturedResponse } from '@yieldpoint/express'
import express, { type Express } from 'express'
import { createMetrics } from './metrics'

/**
 * Two routes over the same upstream:
 * - `/naive/products/:id` — the seed's check-then-act cache: every request that arrives before
 *   the first upstream answer sees a miss and calls the upstream too (the stampede);
 * - `/products/:id` — the same handler behind `coalesce({ ttl })`: one upstream call per key;
 * - `/metrics` — Prometheus text from prom-client, fed by yieldpoint's diagnostics channels.
 */
export function createApp(upstreamUrl: string): Express {
  const app = express()
  const metrics = createMetrics()
  const fetchProduct = async (id: string, route: string): Promise<unknown> => {
    metrics.upstreamCalls.inc({ route })
    return (await fetch(`${upstreamUrl}/products/${encodeURIComponent(id)}`)).json()
  }

  const naiveCache = new Map<string, unknown>()
  app.get('/naive/products/:id', async (req, res) => {
    const id = String(req.params.id)
    if (!naiveCache.has(id)) naiveCache.set(id, await fetchProduct(id, 'naive')) // read … await … write
    res.json(naiveCache.get(id))
  })

  // A named cache: its name labels the yieldpoint_cache_* series.
  const products = new SingleFlightCache<string, CapturedResponse>({ name: 'products', ttl: 5_000, staleWhileRevalidate: 30_000 })
  app.get('/products/:id', coalesce({ cache: products }), async (req, res) => {
    res.json(await fetchProduct(String(req.params.id), 'coalesced'))
  })

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
  return app
}
