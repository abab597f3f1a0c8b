-- Claim the timers due and apply the plan each one carries, in the same step, so that a
-- timer fires exactly once however many hubs poll.
-- KEYS[1]: the timers (a sorted set by due time), KEYS[2]: their plans (a hash)
-- ARGV[1]: now (ms), ARGV[2]: at most this many
-- -> the ids of the timers fired
local fired = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))) do
  local plan = redis.call('HGET', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  if plan then
    apply(cmsgpack.unpack(plan))
    table.insert(fired, id)
  end
end
return fired
