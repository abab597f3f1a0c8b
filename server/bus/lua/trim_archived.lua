-- Run by the archiver after each batch: trim a stream to its history length, but never past
-- what the archiver group has acknowledged, so that no event leaves Redis before it is in
-- the records store.
-- KEYS[1]: the stream; ARGV[1]: history length, ARGV[2]: the group
-- -> how many entries were trimmed
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1])
if excess <= 0 then return 0 end
local pending = redis.call('XPENDING', KEYS[1], ARGV[2])
local upto
if tonumber(pending[1]) > 0 then
  upto = '(' .. pending[2]
else
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local name, last
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] end
      if g[i] == 'last-delivered-id' then last = g[i + 1] end
    end
    if name == ARGV[2] then upto = last end
  end
end
if not upto then return 0 end
local old = redis.call('XRANGE', KEYS[1], '-', upto, 'COUNT', excess + 1)
if #old <= 1 then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', old[#old][1])
