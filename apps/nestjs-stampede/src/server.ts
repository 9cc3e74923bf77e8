// Child process: the upstream and the Nest app. Prints one JSON line with both URLs.
import 'reflect-metadata'
import { NestFactory } from '@nestjs/core'
import { startUpstream } from '@yieldpoint/demo-kit'
import { createAppModule } from './app.module'

const upstream = await startUpstream(Number(process.env.UPSTREAM_LATENCY_MS ?? 100))
const app = await NestFactory.create(createAppModule(upstream.url), { logger: false })
await app.listen(0, '127.0.0.1')
const { port } = app.getHttpServer().address() as { port: number }
console.log(JSON.stringify({ app: `http://127.0.0.1:${port}`, upstream: upstream.url }))
