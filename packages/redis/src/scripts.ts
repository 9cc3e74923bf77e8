// Lua scripts, each one atomic on the Redis server. Keys use a {hash tag} so all keys of one
// cache key land in the same Redis Cluster slot.

/** KEYS: lock, seq · ARGV: token, ttlMs → the fencing token (INCR seq) if taken, else 0. */
export const ACQUIRE = `
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('incr', KEYS[2])
end
return 0`

/** KEYS: lock · ARGV: token, ttlMs → 1 if still ours and extended, else 0. */
export const EXTEND = `
if redis.call('get', KEYS[1]) == ARGV[1] then
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
