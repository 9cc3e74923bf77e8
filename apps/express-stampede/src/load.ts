import { spawnServer } from '@yieldpoint/demo-kit'
import { fileURLToPath } from 'node:url'

/** Starts the upstream and the Express app (src/server.ts) in a child process. */
export function startServers(latencyMs = 100) {
  return spawnServer<{ app: string; upstream: string }>(fileURLToPath(new URL('./server.ts', import.meta.url)), { UPSTREAM_LATENCY_MS: String(latencyMs) })
}

export { httpStampede as stampede } from '@yieldpoint/demo-kit'
