"""Lua scripts run inside Redis: each cache operation is one atomic round trip.

Atomicity is what makes the cache safe under concurrency: a lookup reads the entry and takes the
fill lease in one step (no two callers both see "miss, no lease"), a store writes the entry, its
index and tag memberships and gives the lease back in one step (no reader sees half of it).

Every key a script touches belongs to one tenant and so carries that tenant's hash tag: on a
Redis Cluster they all hash to one slot. Keys read back from the tenant's own index (tag keys,
entry keys built from the entry prefix) are in that same slot.

Time comes from the Redis server (`TIME`), so every replica of the service agrees on when an
entry expires, when a lease was issued and when a tenant was invalidated.
"""

from __future__ import annotations

# The value a lease takes after its holder found the answer not cacheable: lookups seeing it
# go upstream at once. Lease tokens start with a digit, so they never equal it.
UNCACHEABLE_MARKER = "!uncacheable"

# Expired entries pruned from a tenant's index per store; bounds the work one store does.
PRUNE_PER_STORE = 100
PRUNE_PER_STATS = 1000

_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Microseconds (exact in a Lua number until the year 2255): orders a lease against an
-- invalidation even when both happen within one millisecond.
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- Push a key's expiry out to at least ttl_ms from now (never shorten it).
local function extend(key, ttl_ms)
  local current = redis.call('PTTL', key)
  if current ~= -2 and current < ttl_ms then
    redis.call('PEXPIRE', key, ttl_ms)
  end
end

-- Drop an entry's bookkeeping: its size from the byte count, its tag memberships, its meta.
local function forget(meta, bytes, hash)
  local m = redis.call('HGET', meta, hash)
  if not m then return end
  local d = cjson.decode(m)
  redis.call('DECRBY', bytes, d.s)
  for _, tag_key in ipairs(d.t) do
    redis.call('ZREM', tag_key, hash)
  end
  redis.call('HDEL', meta, hash)
end

-- Remove index members whose entries have expired (at most `limit` of them).
local function prune(idx, meta, bytes, now, limit)
  local expired = redis.call('ZRANGEBYSCORE', idx, '-inf', '(' .. now, 'LIMIT', 0, limit)
  for _, hash in ipairs(expired) do
    forget(meta, bytes, hash)
    redis.call('ZREM', idx, hash)
  end
  if redis.call('ZCARD', idx) == 0 then
    redis.call('DEL', bytes, meta)
  end
  return #expired
end
"""

# KEYS: entry, lease, stats
# ARGV: acquire ('1'/'0'), lease nonce, lease ttl ms, count a held lease as a miss ('1'/'0')
# Returns {state, payload}: 1 hit (the entry), 2 lease taken (the token), 3 lease held by
# another caller (its remaining ms), 4 miss without lease, 5 uncacheable marker.
# Counting and the lease are written with pcall: when Redis refuses writes (memory full under
# noeviction), a lookup still reads.
LOOKUP = (
    _PRELUDE
    + """
local value = redis.call('GET', KEYS[1])
if value then
  redis.pcall('HINCRBY', KEYS[3], 'hits', 1)
  return {1, value}
end
local holder = redis.call('GET', KEYS[2])
if holder then
  if holder == '__MARKER__' then
    redis.pcall('HINCRBY', KEYS[3], 'misses', 1)
    return {5, ''}
  end
  if ARGV[4] == '1' then
    redis.pcall('HINCRBY', KEYS[3], 'misses', 1)
  end
  return {3, tostring(redis.call('PTTL', KEYS[2]))}
end
redis.pcall('HINCRBY', KEYS[3], 'misses', 1)
if ARGV[1] == '1' then
  local token = string.format('%.0f', now_us()) .. '-' .. ARGV[2]
  local taken = redis.pcall('SET', KEYS[2], token, 'PX', ARGV[3])
  if type(taken) == 'table' and taken.ok then
    return {2, token}
  end
end
return {4, ''}
""".replace("__MARKER__", UNCACHEABLE_MARKER)
)

# KEYS: entry, idx, meta, bytes, lease, invalidations, tag keys...
# ARGV: hash, value, ttl ms, lease token ('' when none)
# Returns {1} stored, or {0} when the lease was issued before an invalidation of the tenant or
# of one of the entry's tags (the answer may rest on what was invalidated; it is not stored).
STORE = (
    _PRELUDE
    + """
local hash, value, ttl, token = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local now = now_ms()
prune(KEYS[2], KEYS[3], KEYS[4], now, __PRUNE__)

if token ~= '' then
  local issued = tonumber(string.match(token, '^(%d+)-'))
  if issued then
    local fields = {'*'}
    for i = 7, #KEYS do fields[#fields + 1] = KEYS[i] end
    for _, at in ipairs(redis.call('HMGET', KEYS[6], unpack(fields))) do
      if at and tonumber(at) >= issued then
        if redis.call('GET', KEYS[5]) == token then redis.call('DEL', KEYS[5]) end
        return {0}
      end
    end
  end
end

forget(KEYS[3], KEYS[4], hash)
local expires = now + ttl
redis.call('SET', KEYS[1], value, 'PX', ttl)
redis.call('ZADD', KEYS[2], expires, hash)
local tag_keys = {}
for i = 7, #KEYS do
  redis.call('ZADD', KEYS[i], expires, hash)
  extend(KEYS[i], ttl)
  tag_keys[#tag_keys + 1] = KEYS[i]
end
redis.call('HSET', KEYS[3], hash, cjson.encode({s = string.len(value), t = tag_keys}))
redis.call('INCRBY', KEYS[4], string.len(value))
for i = 2, 4 do extend(KEYS[i], ttl) end
if token ~= '' and redis.call('GET', KEYS[5]) == token then
  redis.call('DEL', KEYS[5])
end
return {1}
""".replace("__PRUNE__", str(PRUNE_PER_STORE))
)

# KEYS: lease
# ARGV: token, hold ms ('0': delete the lease so a waiting caller takes it over at once;
#       otherwise leave the uncacheable marker for that long)
# Returns 1 when the lease was still this token's, else 0.
RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], '__MARKER__', 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
""".replace("__MARKER__", UNCACHEABLE_MARKER)

# KEYS: idx, meta, bytes, invalidations
# ARGV: entry key prefix, batch size, first batch ('1'/'0'), invalidation record ttl ms
# Returns {entries removed, entries left in the index}.
INVALIDATE_TENANT = (
    _PRELUDE
    + """
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[4], '*', string.format('%.0f', now_us()))
  extend(KEYS[4], tonumber(ARGV[4]))
end
local removed = 0
for _, hash in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
  removed = removed + redis.call('DEL', ARGV[1] .. hash)
  forget(KEYS[2], KEYS[3], hash)
  redis.call('ZREM', KEYS[1], hash)
end
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then
  -- Every entry's tag memberships went with it, so no tag set is left behind.
  redis.call('DEL', KEYS[3], KEYS[2])
end
return {removed, left}
"""
)

# KEYS: tag key, idx, meta, bytes, invalidations
# ARGV: entry key prefix, batch size, first batch ('1'/'0'), invalidation record ttl ms
# Returns {entries removed, entries left with the tag}.
INVALIDATE_TAG = (
    _PRELUDE
    + """
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[5], KEYS[1], string.format('%.0f', now_us()))
  extend(KEYS[5], tonumber(ARGV[4]))
end
local removed = 0
for _, hash in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
  removed = removed + redis.call('DEL', ARGV[1] .. hash)
  forget(KEYS[3], KEYS[4], hash)
  redis.call('ZREM', KEYS[2], hash)
  redis.call('ZREM', KEYS[1], hash)
end
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[4], KEYS[3])
end
return {removed, redis.call('ZCARD', KEYS[1])}
"""
)

# KEYS: idx, meta, bytes, stats
# ARGV: prune limit
# Returns {hits, misses, live entries, bytes, expired entries pruned now}.
STATS = (
    _PRELUDE
    + """
local pruned = prune(KEYS[1], KEYS[2], KEYS[3], now_ms(), tonumber(ARGV[1]))
local counts = redis.call('HMGET', KEYS[4], 'hits', 'misses')
return {
  tonumber(counts[1]) or 0,
  tonumber(counts[2]) or 0,
  redis.call('ZCARD', KEYS[1]),
  tonumber(redis.call('GET', KEYS[3])) or 0,
  pruned,
}
"""
)
