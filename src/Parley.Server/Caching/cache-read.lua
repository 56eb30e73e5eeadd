-- KEYS[1] epoch key, KEYS[2] scope generation key; ARGV[1] entry name. Returns {stamp, entry or nil}.
-- The entry's key is derived here, so this cache is for a single Redis, not Redis Cluster.
local e = redis.call('GET', KEYS[1]) or '0'
local g = redis.call('GET', KEYS[2]) or '0'
local stamp = e .. '.' .. g
return {stamp, redis.call('GET', KEYS[2] .. ':' .. stamp .. ':' .. ARGV[1])}
