-- A shared rate limit (server/realtime/ratelimit.py), GCRA: the key holds the "theoretical
-- arrival time" (ms) of the next request; a request is allowed while that time is at most
-- burst - 1 intervals ahead of now, on Redis's own clock. The key expires once the bucket
-- would be full again, so idle clients cost Redis nothing.
-- KEYS[1]: the bucket; ARGV[1]: interval (ms per token), ARGV[2]: burst
-- -> 0 allowed, or the ms to wait
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local interval = tonumber(ARGV[1])
local ahead = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < t then tat = t end
if tat - t > ahead then return math.ceil(tat - t - ahead) end
local after = tat + interval
redis.call('SET', KEYS[1], tostring(after), 'PX', math.ceil(after - t))
return 0
