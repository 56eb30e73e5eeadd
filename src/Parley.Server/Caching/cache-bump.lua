-- KEYS: scope generation keys; ARGV[1] their TTL in seconds. Each generation moves on (INCR), so entries stamped
-- with the old one are never read again.
for i, key in ipairs(KEYS) do redis.call('INCR', key) redis.call('EXPIRE', key, ARGV[1]) end
return #KEYS
