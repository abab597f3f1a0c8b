-- Never hand out a reference at or below one already filed (if Redis lost its data).
-- KEYS[1]: the sequence; ARGV[1]: the floor
-- -> 0
local n = redis.call('GET', KEYS[1])
if not n or tonumber(n) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
