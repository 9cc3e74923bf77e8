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

/**
 * The leader's fenced write. KEYS: value, lock, seq · ARGV: token, fence, payload, keepMs,
 * channel, message. Writes only if no newer leader, set() or delete() bumped seq since this
 * leader's grant; frees the lock if still ours; announces the result. → 1 written, 0 fenced out.
 */
export const COMMIT = `
local written = 0
if tonumber(redis.call('get', KEYS[3]) or '0') == tonumber(ARGV[2]) then
  redis.call('set', KEYS[1], ARGV[3], 'PX', ARGV[4])
  written = 1
end
if redis.call('get', KEYS[2]) == ARGV[1] then redis.call('del', KEYS[2]) end
if written == 1 then redis.call('publish', ARGV[5], ARGV[6]) end
return written`

/** An explicit set(): bumps the fence so running loads cannot overwrite it. KEYS: value, seq · ARGV: payload, keepMs, channel, message. */
export const SET = `
redis.call('incr', KEYS[2])
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('publish', ARGV[3], ARGV[4])
return 1`

/** An explicit delete(): bumps the fence too. KEYS: value, seq · ARGV: channel, message. */
export const DELETE = `
redis.call('incr', KEYS[2])
redis.call('del', KEYS[1])
redis.call('publish', ARGV[1], ARGV[2])
return 1`

/** KEYS: value → { payload, pttl } in one round trip. */
export const READ = `
local v = redis.call('get', KEYS[1])
if not v then return false end
return { v, redis.call('pttl', KEYS[1]) }`
