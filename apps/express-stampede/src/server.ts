// Child process: the upstream and the Express app, so the load generator does not share their
// event loop. Prints one JSON line with both URLs, then serves until killed.
import type { AddressInfo } from 'node:net'
import { createApp } from './app'
import { startUpstream } from '@yieldpoint/demo-kit'

const upstream = await startUpstream(Number(process.env.UPSTREAM_LATENCY_MS ?? 100))
const server = createApp(upstream.url).listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  console.log(JSON.stringify({ app: `http://127.0.0.1:${port}`, upstream: upstream.url }))
})
server.keepAliveTimeout = 60_000
