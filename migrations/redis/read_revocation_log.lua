-- Layout 2: read the revocation log beyond what an instance has applied, in
-- one atomic step (see 0002_revocation_log.md).
-- KEYS[1] = <p>:{rev}:log (stream)   KEYS[2] = <p>:{rev}:since   KEYS[3] = <p>:{rev}:followers (hash)
-- ARGV[1] = last id applied   ARGV[2] = count   ARGV[3] = instance id   ARGV[4] = lease (ms)
-- Returns {entries-added, last-generated-id, complete-from, entries after ARGV[1]}:
-- complete-from (unix s) is the first second from which the log holds every
-- revocation; entries-added is -1 while the layout is not migrated.
local log, since, followers = KEYS[1], KEYS[2], KEYS[3]
if not redis.call('GET', since) then
  return {-1, '0-0', 0, {}}
end
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
-- What this instance reads may be trusted until now + its lease: a revoke
-- waits until every follower's has lapsed (wait_for_followers.lua).
redis.call('HSET', followers, ARGV[3], now_ms + tonumber(ARGV[4]))
if redis.call('EXISTS', log) == 0 then
  -- The log is gone (deleted, evicted): it is complete from now on.
  redis.call('XADD', log, '*', 'from', math.floor(now_ms / 1000) + 1)
end
local info = redis.call('XINFO', 'STREAM', log)
local field = {}
for i = 1, #info, 2 do field[info[i]] = info[i + 1] end
local function second_after(id)
  return math.floor(tonumber(string.match(id, '^(%d+)')) / 1000) + 1
end
local first = field['first-entry']
local from
if first and first[2][1] == 'from' then
  from = tonumber(first[2][2])
elseif first then
  from = second_after(first[1])
else
  from = second_after(field['last-generated-id'])
end
-- Entries deleted (trimmed, or by hand): revocations up to the last of them
-- may be missing.
if field['max-deleted-entry-id'] ~= '0-0' then
  from = math.max(from, second_after(field['max-deleted-entry-id']))
end
local entries = redis.call('XRANGE', log, '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
return {field['entries-added'], field['last-generated-id'], from, entries}
