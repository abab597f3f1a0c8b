-- Claim the case clocks whose next turn (warning, overdue) is due: each member moves from the
-- due set to the claimed set with a lease, in one step, so that one hub alone handles it. A
-- claim whose lease ran out (its hub died holding it) is due again first.
-- KEYS[1] the due set (member "file|clock", score: when it turns, ms)
-- KEYS[2] the claimed set (score: when the lease ends, ms)
-- ARGV[1] now (ms)   ARGV[2] the most to claim   ARGV[3] the lease (ms)
-- Returns the members claimed.
local now, most, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, most)
for _, member in ipairs(lapsed) do
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZADD', KEYS[1], 'LT', now, member)  -- LT adds a member that is not there too
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, most)
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZADD', KEYS[2], now + lease, member)
end
return due
