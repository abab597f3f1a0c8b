"""The intake streams and the door that appends to them.

A submission (a 311 referral, a complaint) is validated at its door, then
appended in one atomic step that also hands out its reference (the Open311
request id, the complaint file number) and remembers the submission's
idempotency key: the same submission sent twice (a double click, a retry
after a lost answer) gets the same reference and is queued once. Workers
(``server.intake.worker``) file what is queued.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from redis.asyncio import Redis

from server.bus.partition import Partition
from server.bus.scripts import RAISE_FLOOR, SUBMIT_INTAKE
from server.bus.topics import Family

__all__ = [
    "COMPLAINTS",
    "GROUP",
    "INTAKE_STREAMS",
    "REFERRALS",
    "Door",
    "IntakeStream",
    "KeyReused",
    "NotReplicated",
    "Submitted",
]

GROUP = "intake"
DOOR_TTL_S = 7 * 24 * 3600  # a retried submission is recognised for a week


@dataclass(frozen=True, slots=True)
class IntakeStream:
    name: str
    kind: str  # what its entries are: "referral", "complaint"
    tag: str = "intake"  # the hash tag of its keys: its partition's intake family (``at``)

    def at(self, part: Partition) -> IntakeStream:
        """This lane in a partition (its keys on that partition's intake slot)."""
        return dataclasses.replace(self, tag=part.tag(Family.INTAKE))

    def _key(self, what: str) -> str:
        return f"{{{self.tag}}}:{self.name}:{what}"

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

# A submission is queued by ``server/bus/lua/submit_intake.lua`` (its reference handed out in the
# same step), and a lane's counter raised to what the records hold by ``raise_floor.lua``.


@dataclass(frozen=True, slots=True)
class Submitted:
    ref: str
    new: bool  # False: this submission was queued before; nothing was added


class NotReplicated(Exception):
    """Queued on the primary, but no replica said it holds it in time: a failover now could
    lose it. The sender is told so (503) and may send it again: the same key is queued once."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"{ref} was received, but no replica holds it yet: send it again to be sure it is kept")
        self.ref = ref


class KeyReused(Exception):
    """The idempotency key was used before for different content."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"key already used for {ref}")
        self.ref = ref


Floor = Callable[[IntakeStream], Awaitable[int]]


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _Outcome(IntEnum):
    """What ``submit_intake.lua`` did with a submission."""

    NEW = 1
    SEEN = 0  # queued before under this key: nothing added
    NO_SEQUENCE = -1  # Redis lost the lane's counter: raise its floor, then submit again
    KEY_REUSED = -2  # the key was used before for other content


def _submitted(reply: Any) -> tuple[_Outcome, str]:
    return _Outcome(int(reply[0])), _s(reply[1])


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:32]


class Door:
    """``floor(lane)``: the highest reference filed in the records store, asked for when
    Redis has lost a lane's counter, so that no reference is handed out twice."""

    def __init__(
        self,
        redis: Redis,
        floor: Floor,
        part: Partition | None = None,
        replicas: Callable[[], int] | None = None,
        wait_ms: int = 500,
    ) -> None:
        self.redis = redis
        self.floor = floor
        # How many replicas the primary has (the topology watch's count): with one, a
        # submission is answered only once a replica holds it.
        self.replicas = replicas or (lambda: 0)
        self.wait_ms = wait_ms
        self.part = part if part is not None else Partition()
        self._lanes = {lane.name: lane.at(self.part) for lane in INTAKE_STREAMS}

    def lane(self, lane: IntakeStream) -> IntakeStream:
        """The lane with this door's partition's keys."""
        return self._lanes[lane.name]

    async def submit(
        self,
        lane: IntakeStream,
        key: str,
        fields: Mapping[str, str | bytes],
        *,
        prefix: str = "",
        width: int = 1,
        receipt: str = "",
        content: bytes = b"",
    ) -> Submitted:
        """Queue one submission once per ``key``. -> its reference, and whether it is new.

        ``content`` identifies what was submitted: the same key with other content raises KeyReused."""
        args: list[Any] = [DOOR_TTL_S, prefix, width, receipt, _digest(content)]
        for name, value in fields.items():
            args += [name, value]
        lane = self.lane(lane)
        keys = [lane.door(key), lane.seq, lane.stream, lane.receipts]
        outcome, ref, held = await self._run(keys, args)
        if outcome is _Outcome.NO_SEQUENCE:
            await self.raise_floor(lane, await self.floor(lane))
            outcome, ref, held = await self._run(keys, args)
        if outcome is _Outcome.KEY_REUSED:
            raise KeyReused(ref)
        if held is not None and held < 1:
            raise NotReplicated(ref)
        return Submitted(ref, outcome is _Outcome.NEW)

    async def _run(self, keys: list[str], args: list[Any]) -> tuple[_Outcome, str, int | None]:
        if self.replicas() <= 0:
            outcome, ref = _submitted(await SUBMIT_INTAKE(self.redis, keys, args))
            return outcome, ref, None
        reply, held = await SUBMIT_INTAKE.run_and_wait(self.redis, keys, args, self.wait_ms)
        outcome, ref = _submitted(reply)
        return outcome, ref, held

    async def seen(self, lane: IntakeStream, key: str) -> bool:
        """Was this key queued before (a resend)?"""
        return bool(await self.redis.exists(self.lane(lane).door(key)))

    async def reused(self, lane: IntakeStream, key: str, content: bytes) -> str | None:
        """The reference of an earlier submission with this key and *other* content (what submit
        would refuse with KeyReused), asked before anything is kept for this one."""
        prior = await self.redis.get(self.lane(lane).door(key))
        if prior is None:
            return None
        ref, _, digest = _s(prior).rpartition("|")
        return ref if digest != _digest(content) else None

    async def raise_floor(self, lane: IntakeStream, floor: int) -> None:
        await RAISE_FLOOR(self.redis, (self.lane(lane).seq,), (floor,))

    async def receipt(self, lane: IntakeStream, ref: str) -> str | None:
        raw = await self.redis.hget(self.lane(lane).receipts, ref)  # type: ignore[misc]
        return None if raw is None else _s(raw)
