-- Layout 1: raise a bulk-revocation watermark, never lower it.
-- KEYS[1] = <prefix>:{wm}:marks (hash)   ARGV[1] = field   ARGV[2] = revoked-before (unix s)
-- Returns the watermark in force after the call.
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local wanted = tonumber(ARGV[2])
if wanted > current then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return wanted
end
return current
