-- The one atomic step, shared by apply.lua and fire_timers.lua (the registry puts it first).
-- apply(plan) checks record versions, writes and deletes records, appends to timelines,
-- moves units on the GEO index, sets and cancels timers, and appends events to their
-- streams; or does nothing and answers why. Its plan is msgpack (server/bus/luapack.py):
--   guard   key                             refuse ({'EMPTY', key}) while this key is missing
--   once    {key, ttl}                      the command's idempotency key
--   checks  {{versions, field, version}}    apply only if each record is at its version
--   writes  {{state, versions, field, record}}
--   deletes {{state, versions, field}}
--   lists   {{key, record, keep}}           append, keeping the newest `keep`
--   expires {{key, seconds}}                0 seconds: keep for good again
--   geo     {{key, lon, lat, member}}
--   cancels {{timers, plans, id}}
--   timers  {{timers, plans, id, due_ms, plan}}
--   events  {{stream, epoch_key, maxlen, new_epoch, event}}
-- -> {{offset, epoch}} per event, or {'CONFLICT', field}, or {'DUPLICATE', offset}, or {'EMPTY', key}
local function apply(plan)
  if plan.guard and redis.call('EXISTS', plan.guard) == 0 then return {'EMPTY', plan.guard} end
  if plan.once then
    local prior = redis.call('GET', plan.once[1])
    if prior then
      -- A write of its own (the window renewed), so that a WAIT after a resend waits for a
      -- replica to hold this, and so the first write before it: replication keeps the order.
      redis.call('EXPIRE', plan.once[1], plan.once[2])
      return {'DUPLICATE', prior}
    end
  end
  for _, c in ipairs(plan.checks or {}) do
    local v = tonumber(redis.call('HGET', c[1], c[2]) or '0')
    if v ~= c[3] then return {'CONFLICT', c[2]} end
  end
  for _, w in ipairs(plan.writes or {}) do
    redis.call('HSET', w[1], w[3], w[4])
    redis.call('HINCRBY', w[2], w[3], 1)
  end
  for _, d in ipairs(plan.deletes or {}) do
    redis.call('HDEL', d[1], d[3])
    redis.call('HINCRBY', d[2], d[3], 1)
  end
  for _, l in ipairs(plan.lists or {}) do
    redis.call('RPUSH', l[1], l[2])
    redis.call('LTRIM', l[1], -l[3], -1)
  end
  for _, x in ipairs(plan.expires or {}) do
    if x[2] > 0 then redis.call('EXPIRE', x[1], x[2]) else redis.call('PERSIST', x[1]) end
  end
  for _, g in ipairs(plan.geo or {}) do
    redis.call('GEOADD', g[1], g[2], g[3], g[4])
  end
  -- cancels first: "cancel the old timer, set the new one" may name the same id
  for _, t in ipairs(plan.cancels or {}) do
    redis.call('ZREM', t[1], t[3])
    redis.call('HDEL', t[2], t[3])
  end
  for _, t in ipairs(plan.timers or {}) do
    redis.call('ZADD', t[1], t[4], t[3])
    redis.call('HSET', t[2], t[3], t[5])
  end
  local out = {}
  for _, e in ipairs(plan.events or {}) do
    local epoch = redis.call('GET', e[2])
    if not epoch then
      epoch = e[4]
      redis.call('SET', e[2], epoch)
    end
    local id = redis.call('XADD', e[1], 'MAXLEN', '~', e[3], '*', 'e', e[5])
    table.insert(out, {id, epoch})
  end
  if plan.once and #out > 0 then
    redis.call('SET', plan.once[1], out[1][1], 'EX', plan.once[2])
  end
  return out
end
