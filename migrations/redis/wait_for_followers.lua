-- Layout 2: how long a revoke that has just been written must wait before it
-- answers: until every instance's view read before it is no longer trusted
-- (see 0002_revocation_log.md). Forgets instances silent for a minute.
-- KEYS[1] = <p>:{rev}:followers (hash: instance id -> trusted-until, ms)
-- Returns the wait in ms.
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local wait = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local until_ms = tonumber(all[i + 1])
  if until_ms + 60000 < now_ms then
    redis.call('HDEL', KEYS[1], all[i])
  elseif until_ms - now_ms > wait then
    wait = until_ms - now_ms
  end
end
return wait
