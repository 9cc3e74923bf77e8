import { Pool } from '@yieldpoint/core'
import { Connection } from './partner'

export interface Outcome {
  ok: number
  failed: number
  /** Connections the client opened (attempts, accepted or not). */
  opened: number
}

/** The race: every request opens its own connection. A burst opens more than the partner allows. */
export async function withoutPool(port: number, requests: number): Promise<Outcome> {
  let opened = 0
  const one = async (): Promise<void> => {
    opened++
    const conn = await Connection.connect(port)
    try {
      await conn.query()
    } finally {
      conn.close()
    }
  }
  const results = await Promise.allSettled(Array.from({ length: requests }, one))
  return { ok: results.filter((r) => r.status === 'fulfilled').length, failed: results.filter((r) => r.status === 'rejected').length, opened }
}

/** The fix: a Pool of at most `max` connections; requests queue FIFO for one and reuse it. */
export async function withPool(port: number, requests: number, max: number): Promise<Outcome & { peakSize: number }> {
  let opened = 0
  let peakSize = 0
  const pool = new Pool({
    create: () => (opened++, Connection.connect(port)),
    destroy: (conn) => conn.close(),
    max,
    name: 'partner-db',
  })
  const one = async (): Promise<void> => {
    using conn = await pool.acquire({ timeout: 30_000 })
    peakSize = Math.max(peakSize, pool.statistics().size)
    await conn.resource.query()
  }
  const results = await Promise.allSettled(Array.from({ length: requests }, one))
  await pool.drain()
  return { ok: results.filter((r) => r.status === 'fulfilled').length, failed: results.filter((r) => r.status === 'rejected').length, opened, peakSize }
}
