// Lua scripts, each one atomic on the Redis server. Keys use a {hash tag} so all keys of one
// cache key land in the same Redis Cluster slot (every script touches one tag only).

/**
 * A Lua function, prepended to the scripts that grant or bump a fence: the next fence of a key is
 * the server's clock in microseconds (`TIME`), or one more than the key's last fence if that is
 * not lower. So fences increase strictly for ever without a counter kept for ever: the `seq` key
 * only lives as long as a lease or a load it protects (`keepMs`), and after it expires — or after
 * a restart of a Redis without persistence, or a failover — the clock has moved past every fence
 * already granted (assuming server clocks agree to within the time a restart or failover takes;
 * keep them on NTP). Microseconds since 1970 stay below 2^53 until the year 2255, so fences are
 * exact JavaScript numbers.
 */
export const NEXT_FENCE = `
local function next_fence(seq_key, keep_ms)
  local t = redis.call('time')
  local fence = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('get', seq_key) or '0')
  if last >= fence then fence = last + 1 end
  redis.call('set', seq_key, string.format('%.0f', fence), 'PX', keep_ms)
  return fence
end
`

/** KEYS: lock, seq · ARGV: token, ttlMs → the fencing token if taken, else 0. */
export const ACQUIRE = `${NEXT_FENCE}
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return next_fence(KEYS[2], ARGV[2])
end
return 0`

/** KEYS: lock, seq · ARGV: token, ttlMs → 1 if still ours and extended (the fence lives as long as the lease), else 0. */
export const EXTEND = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[2], ARGV[2])
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0`

/**
 * KEYS: lock, waiters · ARGV: token, channel, message → 1 if it was ours (deleted), else 0.
 * Announces the release only if someone waits (the waiters counter), so an uncontended lock
 * costs no pub/sub traffic.
 */
export const RELEASE = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1])
  if tonumber(redis.call('get', KEYS[2]) or '0') > 0 then redis.call('publish', ARGV[2], ARGV[3]) end
  return 1
end
return 0`

/** KEYS: waiters · ARGV: delta, ttlMs — a waiter arrives (+1) or leaves (-1); the key expires if a process dies. */
export const WAITERS = `
local n = redis.call('incrby', KEYS[1], ARGV[1])
if n <= 0 then redis.call('del', KEYS[1]) else redis.call('pexpire', KEYS[1], ARGV[2]) end
return n`

/** KEYS: lock → 1 if held, else 0. */
export const EXISTS = `return redis.call('exists', KEYS[1])`
