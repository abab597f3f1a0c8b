-- The next number of a sequence (an incident's), only while the live state is present: after
-- Redis came back empty, the sequence must first be floored from the records store, or numbers
-- already given would be given again.
-- KEYS[1]: the live-state mark, KEYS[2]: the sequence
-- -> the number, or -1 while the mark is missing
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('INCR', KEYS[2])
