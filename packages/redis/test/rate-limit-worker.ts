// A rate-limit test worker: takes N tokens from one shared RedisRateLimiter as fast as it is
// allowed and records each grant's Redis time in a Redis list, so the test can count grants per
// window across processes. Waits for a "go" key so all processes start together.
import { Redis } from 'ioredis'
import { RedisRateLimiter } from '../src'

const env = process.env
const client = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: 0, enableOfflineQueue: false })
client.on('error', () => {})
await new Promise((r) => client.once('ready', r))
const limiter = new RedisRateLimiter({
  client,
  key: env.LIMIT_KEY ?? 'partner',
  tokensPerInterval: Number(env.PER_INTERVAL),
  interval: Number(env.INTERVAL),
  ...(env.BURST ? { burst: Number(env.BURST) } : {}),
})
await client.incr('ready')
while ((await client.get('go')) === null) await new Promise((r) => setTimeout(r, 5))
const n = Number(env.N)
await Promise.all(
  Array.from({ length: n }, async () => {
    const at = await limiter.acquire()
    await client.rpush('grants', String(at))
  }),
)
process.stdout.write(JSON.stringify(limiter.statistics()))
client.disconnect()
