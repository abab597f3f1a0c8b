-- Apply one plan (see plan.lua). ARGV[1]: the plan, msgpack.
-- -> {{offset, epoch}} per event, or {'CONFLICT', field}, or {'DUPLICATE', offset}
return apply(cmsgpack.unpack(ARGV[1]))
