// Lua scripts of RedisStore, each atomic on the server. Every key of one cache key shares a
// {hash tag}, so a script's keys land in one Redis Cluster slot.
//
// A stored value is `<fence>\n<payload>`: the fence of the write that made it, so a process can
// tell "the entry I read" from "an entry someone committed since" inside one script.
//
// Fences come from the server's clock (microseconds) and the key's last fence, whichever is
// larger: strictly increasing even after a restart of a Redis without persistence, and the
// `:seq` key expires with what it protects instead of living forever.

/** Lua: the next fence for KEYS[seq], kept for ARGV ms (at least). */
const NEXT_FENCE = (seq: string, keepMs: string) => `
local t = redis.call('time')
local clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
local fence = math.max(tonumber(redis.call('get', ${seq}) or '0') + 1, clock)
local keep = math.max(tonumber(${keepMs}), redis.call('pttl', ${seq}))
redis.call('set', ${seq}, string.format('%d', fence), 'PX', keep)`

/**
 * The conditional lease. KEYS: value, lock, seq · ARGV: token, lockTtl, foundFence ('0': none).
 * → {0, value, pttl}: an entry other than the one the caller read is there — take it, load nothing;
 *   {1, fence}: the lease is ours; {2, holderToken}: another process holds it.
 */
export const ACQUIRE = `
local v = redis.call('get', KEYS[1])
if v then
  local f = string.match(v, '^(%d+)\\n') or '0'
  if f ~= ARGV[3] then return { 0, v, redis.call('pttl', KEYS[1]) } end
end
if redis.call('set', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  ${NEXT_FENCE('KEYS[3]', 'ARGV[2]')}
  return { 1, string.format('%d', fence) }
end
return { 2, redis.call('get', KEYS[2]) }`

/**
 * A follower's poll. KEYS: value, lock, outcome (of the lease it waits on) · ARGV: foundFence.
 * → {0, value, pttl}: a newer entry; {3, message}: the lease's announced outcome (kept briefly,
 *   for followers whose pub/sub message has not arrived yet); {1}: a lease is still held;
 *   {2}: no lease and nothing new (the holder crashed or gave up: take over).
 */
export const POLL = `
local v = redis.call('get', KEYS[1])
if v then
  local f = string.match(v, '^(%d+)\\n') or '0'
  if f ~= ARGV[1] then return { 0, v, redis.call('pttl', KEYS[1]) } end
end
local o = redis.call('get', KEYS[3])
if o then return { 3, o } end
if redis.call('exists', KEYS[2]) == 1 then return { 1 } end
return { 2 }`

/** The watchdog. KEYS: lock, seq · ARGV: token, ttlMs → 1 if still ours and extended, else 0. */
export const EXTEND = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  if redis.call('pttl', KEYS[2]) < tonumber(ARGV[2]) then redis.call('pexpire', KEYS[2], ARGV[2]) end
  return 1
end
return 0`

/**
 * The end of a lease, whatever the outcome. KEYS: value, lock, seq, outcome · ARGV: token, fence,
 * payload ('' to write nothing), keepMs, channel, message, fencedOutMessage, outcomeMs.
 * Writes only if no newer lease, set() or delete() took a fence since this lease's grant; frees
 * the lock if still ours; then announces `message` if written (or, still ours, nothing was to
 * be written), `fencedOutMessage` (a retry) if ours but the write was refused, and nothing if a
 * newer leader owns the key now (it will announce). The announcement is also kept under the
 * lease's outcome key for `outcomeMs`. → 1 written, 0 not.
 */
export const FINISH = `
local written = 0
local current = redis.call('get', KEYS[3]) == ARGV[2]
if ARGV[3] ~= '' and current then
  redis.call('set', KEYS[1], ARGV[2] .. '\\n' .. ARGV[3], 'PX', ARGV[4])
  if redis.call('pttl', KEYS[3]) < tonumber(ARGV[4]) then redis.call('pexpire', KEYS[3], ARGV[4]) end
  written = 1
end
local mine = redis.call('get', KEYS[2]) == ARGV[1]
if mine then redis.call('del', KEYS[2]) end
local announced = false
if written == 1 or (mine and ARGV[3] == '') then announced = ARGV[6]
elseif mine then announced = ARGV[7] end
if announced then
  redis.call('publish', ARGV[5], announced)
  -- The same outcome, for a follower whose poll runs before the message reaches it.
  redis.call('set', KEYS[4], announced, 'PX', ARGV[8])
end
return written`

/** An explicit set(): takes a fence so running loads cannot overwrite it. KEYS: value, seq · ARGV: payload, keepMs, channel, message. */
export const SET = `
${NEXT_FENCE('KEYS[2]', 'ARGV[2]')}
redis.call('set', KEYS[1], string.format('%d', fence) .. '\\n' .. ARGV[1], 'PX', ARGV[2])
redis.call('publish', ARGV[3], ARGV[4])
return string.format('%d', fence)`

/** An explicit delete(): takes a fence too. KEYS: value, seq · ARGV: lockTtl, channel, message. */
export const DELETE = `
${NEXT_FENCE('KEYS[2]', 'ARGV[1]')}
redis.call('del', KEYS[1])
redis.call('publish', ARGV[2], ARGV[3])
return 1`

/** KEYS: value → { value, pttl } in one round trip. */
export const READ = `
local v = redis.call('get', KEYS[1])
if not v then return false end
return { v, redis.call('pttl', KEYS[1]) }`
