-- KEYS: stream, epoch. ARGV: maxlen, then (conversation, type, payload, outbox id) per event.
-- Returns the stream ids; the epoch key is set to the first id when it does not exist.
local ids = {}
local n = (#ARGV - 1) / 4
for i = 0, n - 1 do
  local b = 2 + i * 4
  ids[i + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
    'c', ARGV[b], 't', ARGV[b + 1], 'p', ARGV[b + 2], 'o', ARGV[b + 3])
end
if n > 0 and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], ids[1])
end
return ids
