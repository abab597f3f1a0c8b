"""The intake streams and the door that appends to them.

A submission (a 311 referral, a complaint) is validated at its door, then
appended in one atomic step that also hands out its reference (the Open311
request id, the complaint file number) and remembers the submission's
idempotency key: the same submission sent twice (a double click, a retry
after a lost answer) gets the same reference and is queued once. Workers
(``server.intake.worker``) file what is queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

__all__ = ["COMPLAINTS", "GROUP", "INTAKE_STREAMS", "REFERRALS", "Door", "IntakeStream", "Submitted"]

GROUP = "intake"
SLOT = "intake"
DOOR_TTL_S = 7 * 24 * 3600  # a retried submission is recognised for a week


@dataclass(frozen=True, slots=True)
class IntakeStream:
    name: str
    kind: str  # what its entries are: "referral", "complaint"

    def _key(self, what: str) -> str:
        return f"{{{SLOT}}}:{self.name}:{what}"

    @property
    def stream(self) -> str:
        return self._key("stream")

    @property
    def seq(self) -> str:
        return self._key("seq")

    @property
    def receipts(self) -> str:
        """ref -> what the door knows before the entry is filed (a status code's hash)."""
        return self._key("receipts")

    def door(self, key: str) -> str:
        return self._key(f"door:{key}")


# Referrals first: they may become calls on the dispatch board.
REFERRALS = IntakeStream("referrals", "referral")
COMPLAINTS = IntakeStream("complaints", "complaint")
INTAKE_STREAMS: tuple[IntakeStream, ...] = (REFERRALS, COMPLAINTS)

# KEYS: door key, sequence, stream, receipts
# ARGV: door ttl, ref prefix, ref width, receipt value ('' for none), then field/value pairs
# -> {1 (new) or 0 (seen before), ref, extra stored with the door key}
_SUBMIT = """
local prior = redis.call('GET', KEYS[1])
if prior then return {0, prior} end
local n = redis.call('INCR', KEYS[2])
local ref = ARGV[2] .. string.format('%0' .. ARGV[3] .. 'd', n)
redis.call('SET', KEYS[1], ref, 'EX', tonumber(ARGV[1]))
local fields = {'ref', ref}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[3], '*', unpack(fields))
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], ref, ARGV[4]) end
return {1, ref}
"""

# Never hand out a reference at or below one already filed (if Redis lost its data).
# KEYS: sequence; ARGV: floor
_FLOOR = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Submitted:
    ref: str
    new: bool  # False: this submission was queued before; nothing was added


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Door:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._submit = redis.register_script(_SUBMIT)
        self._floor = redis.register_script(_FLOOR)

    async def submit(
        self,
        lane: IntakeStream,
        key: str,
        fields: Mapping[str, str | bytes],
        *,
        prefix: str = "",
        width: int = 1,
        receipt: str = "",
    ) -> Submitted:
        """Queue one submission once per ``key``. -> its reference, and whether it is new."""
        args: list[Any] = [DOOR_TTL_S, prefix, width, receipt]
        for name, value in fields.items():
            args += [name, value]
        out = await self._submit(keys=[lane.door(key), lane.seq, lane.stream, lane.receipts], args=args)
        return Submitted(_s(out[1]), bool(int(out[0])))

    async def raise_floor(self, lane: IntakeStream, floor: int) -> None:
        await self._floor(keys=[lane.seq], args=[floor])

    async def receipt(self, lane: IntakeStream, ref: str) -> str | None:
        raw = await self.redis.hget(lane.receipts, ref)  # type: ignore[misc]
        return None if raw is None else _s(raw)
