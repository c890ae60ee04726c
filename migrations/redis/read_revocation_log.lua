-- Layout 2: read the revocation log beyond what an instance has applied, with
-- the log's own counters, in one atomic step (see 0002_revocation_log.md).
-- KEYS[1] = <prefix>:{rev}:log (stream)   ARGV[1] = last id applied   ARGV[2] = count
-- Returns {entries-added, last-generated-id, entries after ARGV[1]}; an absent
-- log reads as {0, '0-0', {}}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, '0-0', {}}
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local added, last = 0, '0-0'
for i = 1, #info, 2 do
  if info[i] == 'entries-added' then added = info[i + 1] end
  if info[i] == 'last-generated-id' then last = info[i + 1] end
end
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
return {added, last, entries}
