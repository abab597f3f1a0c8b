-- Queue one intake submission once per idempotency key, handing out its reference
-- (server/intake/lane.py).
-- KEYS[1]: door key, KEYS[2]: sequence, KEYS[3]: stream, KEYS[4]: receipts
-- ARGV[1]: door ttl, ARGV[2]: ref prefix, ARGV[3]: ref width, ARGV[4]: receipt value ('' for
-- none), ARGV[5]: content digest, then field/value pairs of the entry
-- -> {outcome, ref}: 1 new, 0 seen before, -1 no sequence (Redis lost it: set its floor
--    first), -2 the key was used before for other content
local prior = redis.call('GET', KEYS[1])
if prior then
  local ref, digest = string.match(prior, '^(.*)|(.*)$')
  if digest ~= ARGV[5] then return {-2, ref} end
  -- A write of its own (the door's week renewed): a WAIT after a resend then waits for a replica
  -- to hold it, and so the first submission before it.
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
  return {0, ref}
end
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, ''} end
local n = redis.call('INCR', KEYS[2])
local ref = ARGV[2] .. string.format('%0' .. ARGV[3] .. 'd', n)
redis.call('SET', KEYS[1], ref .. '|' .. ARGV[5], 'EX', tonumber(ARGV[1]))
local fields = {'ref', ref}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[3], '*', unpack(fields))
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], ref, ARGV[4]) end
return {1, ref}
