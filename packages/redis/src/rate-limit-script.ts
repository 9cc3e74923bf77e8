// The rate limiter's one Lua script, atomic on the Redis server. Both keys share the limit's
// {hash tag}, so a Redis Cluster keeps them in one slot.

/**
 * A sliding log plus an optional smoothing bucket, timed by Redis's clock (TIME), so every
 * process and host agrees on "now".
 *
 * KEYS: log (sorted set, one member per token, scored by grant time), bucket (hash)
 * ARGV: interval ms, tokensPerInterval, burst, tokens wanted, a unique id for this grant
 * → { 1, now } granted (the tokens are logged), or { 0, ms } to wait before asking again.
 *
 * A token taken at t comes back at t + interval, so no window of `interval` ms holds more than
 * `tokensPerInterval` grants. Keys expire one interval after their last grant.
 * @internal
 */
export const RATE_ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
redis.call('zremrangebyscore', KEYS[1], '-inf', now - interval)
local used = redis.call('zcard', KEYS[1])
local wait = 0
if used + n > limit then
  local oldest = redis.call('zrange', KEYS[1], used + n - limit - 1, used + n - limit - 1, 'WITHSCORES')
  wait = tonumber(oldest[2]) + interval - now
end
local bucket = burst
if burst < limit then
  local b = redis.call('hmget', KEYS[2], 'b', 't')
  if b[1] then bucket = math.min(burst, tonumber(b[1]) + (now - tonumber(b[2])) * limit / interval) end
  if bucket + 1e-9 < n then wait = math.max(wait, math.ceil((n - bucket) * interval / limit)) end
end
if wait > 0 then return { 0, math.ceil(wait) } end
for i = 1, n do redis.call('zadd', KEYS[1], now, ARGV[5] .. ':' .. i) end
redis.call('pexpire', KEYS[1], math.ceil(interval) + 1)
if burst < limit then
  redis.call('hset', KEYS[2], 'b', tostring(bucket - n), 't', now)
  redis.call('pexpire', KEYS[2], math.ceil(interval) + 1)
end
return { 1, now }`

/**
 * Gives back a grant whose caller stopped waiting before the answer arrived (abort, timeout):
 * removes its log entries and, with a bucket, returns its tokens (capped at burst).
 * KEYS: log, bucket · ARGV: the grant's id, tokens, burst, tokensPerInterval → members removed.
 * @internal
 */
export const RATE_REFUND = `
local removed = 0
for i = 1, tonumber(ARGV[2]) do removed = removed + redis.call('zrem', KEYS[1], ARGV[1] .. ':' .. i) end
if removed > 0 and tonumber(ARGV[3]) < tonumber(ARGV[4]) then
  local b = redis.call('hget', KEYS[2], 'b')
  if b then redis.call('hset', KEYS[2], 'b', tostring(math.min(tonumber(ARGV[3]), tonumber(b) + removed))) end
end
return removed`
