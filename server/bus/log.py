"""The bus: one atomic Redis step per command, history, snapshots, resume.

``commit`` runs one Lua script that (optionally) checks the version of the
state record, writes it, (optionally) moves the unit on the GEO index, and
appends the event to the topic's stream, all at once, returning the stream
id (the offset) and the topic's epoch. The epoch is made when a stream is
first written; if Redis loses the stream, it loses the epoch beside it, and
the next write makes a new one, so clients can tell a gap from continuity.

Live dispatch state is marked present by the partition's ``live`` key (holding the id of the records store it
was built from). A plan that emits dispatch events is refused while the mark is missing (Redis
came back empty): ``Bus.apply`` then awaits ``on_empty`` (the hub's rebuild of the live state
from the records store, ``server/dispatch/recovery.py``) and applies the plan again, so no
command writes into an empty Redis and no id is handed out twice.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import msgspec
from redis.asyncio import Redis

from protocol.codec import event_decoder, event_encoder
from protocol.events import Event, RadioLogged
from protocol.messages import SnapshotItem
from server.bus.luapack import pack
from server.bus.partition import Partition, hash_tag
from server.bus.scripts import APPLY, FIRE_TIMERS
from server.bus.topics import Family, Lane, Topic, parse_offset
from server.config import Settings

__all__ = [
    "Bus",
    "BusEmpty",
    "Conflict",
    "Duplicate",
    "current_command",
    "History",
    "Plan",
    "Snapshot",
    "Unconfirmed",
    "history_length",
]

# The one atomic step is ``lua/plan.lua``: ``apply`` runs one plan, ``fire_timers`` claims due
# timers and applies the plan each one carries, in the same step, so a timer fires exactly once
# however many hubs poll.


class BusEmpty(Exception):
    """Redis has no live dispatch state (it came back empty) and none was rebuilt yet."""


class _PlanParts:
    __slots__ = (
        "cancels",
        "checks",
        "deletes",
        "events",
        "expires",
        "geo",
        "guard",
        "lists",
        "once",
        "timers",
        "writes",
    )

    def __init__(self) -> None:
        self.guard: str = ""  # refused (EMPTY) while this key is missing
        self.once: tuple[str, int] | tuple[()] = ()
        self.checks: list[tuple[str, str, int]] = []
        self.writes: list[tuple[str, str, str, bytes]] = []
        self.deletes: list[tuple[str, str, str]] = []
        self.lists: list[tuple[str, bytes, int]] = []
        self.geo: list[tuple[str, float, float, str]] = []
        self.expires: list[tuple[str, int]] = []
        self.timers: list[tuple[str, str, str, int, bytes]] = []
        self.cancels: list[tuple[str, str, str]] = []
        self.events: list[tuple[str, str, int, str, bytes]] = []


_record_encoder = msgspec.msgpack.Encoder()


class Plan:
    """What one command changes, applied by ``Bus.apply`` in one atomic step."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._wire = _PlanParts()
        self.topics: list[Topic] = []

    def check(self, topic: Topic, field: str, version: int) -> Plan:
        """Apply only if the record is still at this version (0: it never existed)."""
        self._wire.checks.append((self._bus.keys(topic).versions, field, version))
        return self

    def write(self, topic: Topic, field: str, record: Any) -> Plan:
        data = record if isinstance(record, bytes) else _record_encoder.encode(record)
        keys = self._bus.keys(topic)
        self._wire.writes.append((keys.state, keys.versions, field, data))
        return self

    def delete(self, topic: Topic, field: str) -> Plan:
        keys = self._bus.keys(topic)
        self._wire.deletes.append((keys.state, keys.versions, field))
        return self

    def append(self, key: str, record: Any, keep: int) -> Plan:
        """Append to a list (an incident's timeline), keeping the newest ``keep``."""
        self._wire.lists.append((key, _record_encoder.encode(record), keep))
        return self

    def expire(self, key: str, seconds: int) -> Plan:
        """Let a key go after ``seconds`` (0: keep it for good again)."""
        self._wire.expires.append((key, seconds))
        return self

    def geo(self, topic: Topic, member: str, lon: float, lat: float) -> Plan:
        self._wire.geo.append((self._bus.keys(topic).geo, lon, lat, member))
        return self

    def timer(self, timer_id: str, due_ms: int, then: Plan) -> Plan:
        """Schedule ``then`` to be applied once at ``due_ms`` (replacing a timer of that id).

        ``fire_timers.lua`` applies it with the timers' keys alone in KEYS, so it must keep to
        their slot (the partition's dispatch tag), which is checked here."""
        part = self._bus.part
        tag = part.tag(Family.DISPATCH)
        strays = [k for k in then.keys() if hash_tag(k) != tag]
        if strays:
            raise ValueError(f"a timer's plan keeps to the {tag} slot; it touches {strays}")
        self._wire.timers.append((part.timers, part.timer_plans, timer_id, due_ms, then.encode()))
        return self

    def cancel_timer(self, timer_id: str) -> Plan:
        part = self._bus.part
        self._wire.cancels.append((part.timers, part.timer_plans, timer_id))
        return self

    def timers_set(self) -> list[tuple[str, int]]:
        """(timer id, due ms) of the timers this plan sets."""
        return [(t[2], t[3]) for t in self._wire.timers]

    def drop_timer(self, timer_id: str) -> Plan:
        """Set no timer of this id after all (its cancel stays)."""
        self._wire.timers = [t for t in self._wire.timers if t[2] != timer_id]
        return self

    def emit(self, topic: Topic, event: Event) -> Plan:
        keys = self._bus.keys(topic)
        self._wire.events.append(
            (
                keys.stream,
                keys.epoch,
                self._bus.maxlen(topic),
                secrets.token_hex(6),
                event_encoder.encode(event),
            )
        )
        self.topics.append(topic)
        return self

    def encode(self) -> bytes:
        w = self._wire
        parts = {name: getattr(w, name) for name in w.__slots__ if getattr(w, name)}
        return pack(parts)

    def keys(self) -> list[str]:
        w = self._wire
        found = [k for c in w.checks for k in (c[0],)]
        found += [k for x in w.writes for k in (x[0], x[1])] + [k for x in w.deletes for k in (x[0], x[1])]
        found += (
            [x[0] for x in w.lists]
            + [x[0] for x in w.geo]
            + [x[0] for x in w.expires]
            + [k for x in w.events for k in (x[0], x[1])]
        )
        if w.timers or w.cancels:
            found += [self._bus.part.timers, self._bus.part.timer_plans]
        if w.once:
            found.append(w.once[0])
        if w.guard:
            found.append(w.guard)
        return list(dict.fromkeys(found))


def history_length(settings: Settings, topic: Topic) -> int:
    """Events kept per topic for resume (once archived)."""
    return settings.history_maxlen if topic.replay else settings.positions_maxlen


class Duplicate(Exception):
    """This command id was applied before (within the window): nothing was done again."""

    def __init__(self, offset: str) -> None:
        super().__init__(f"already applied at {offset}")
        self.offset = offset


# The command being handled (user, command id), so that its one plan carries
# the idempotency key. Set by the command router for the duration of a command.
current_command: ContextVar[tuple[str, str] | None] = ContextVar("current_command", default=None)
ONCE_TTL_S = 600


class Unconfirmed(Exception):
    """Applied on the primary, but no replica said it holds it within the wait: a failover now
    could lose it. The client is told so, and may send the command again (it applies once)."""

    def __init__(self, offset: str, wait_ms: int) -> None:
        super().__init__(f"applied at {offset}; no replica confirmed it within {wait_ms} ms")
        self.offset = offset


class Conflict(Exception):
    """A record changed since it was read (an optimistic check failed)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"record {field} changed")
        self.field = field


@dataclass(slots=True)
class Snapshot:
    topic: str
    epoch: str
    offset: str
    items: list[SnapshotItem]


@dataclass(slots=True)
class History:
    """What a client missed, or None entries when it must resync."""

    epoch: str
    entries: list[tuple[str, Event]]


_record_decoder: msgspec.msgpack.Decoder[SnapshotItem] = msgspec.msgpack.Decoder(SnapshotItem)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _applied(reply: Any) -> list[tuple[str, str]]:
    """What ``apply.lua`` answered: (offset, epoch) per event; or a refusal, raised."""
    if reply and isinstance(reply[0], bytes | str):  # a refusal is {reason, detail}; events are pairs
        reason, detail = _s(reply[0]), _s(reply[1])
        if reason == "CONFLICT":
            raise Conflict(detail)
        if reason == "DUPLICATE":
            raise Duplicate(detail)
        if reason == "EMPTY":
            raise BusEmpty(detail)
        raise RuntimeError(f"apply.lua answered {reply!r}")
    return [(_s(offset), _s(epoch)) for offset, epoch in reply]


class Bus:
    def __init__(self, redis: Redis, settings: Settings, part: Partition | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.part = part if part is not None else Partition(settings.partition)
        self.keys = self.part.keys
        # Replicas the primary has (the least of any primary, on a cluster): kept by the
        # topology watch (``server/bus/topology.py``); 0: nothing waits for one.
        self.replicas = 0
        self.waited = 0  # commands that waited for a replica
        self.unconfirmed = 0  # ...of which no replica confirmed in time
        # Set when no replica confirmed a command: the topology watch looks again at once (the
        # primary may have changed, and have none yet).
        self.look_again = asyncio.Event()
        # Rebuilds the live state when Redis came back empty (set by the app); None: nothing
        # to rebuild from, plans apply as they come.
        self.on_empty: Callable[[], Awaitable[None]] | None = None

    async def ensure_live(self) -> None:
        """Before reading epochs: if Redis lost the live state, have it rebuilt first (so the
        subscribers' resync that follows shows it)."""
        if self.on_empty is not None and not await self.redis.exists(self.part.live):
            await self.on_empty()

    def maxlen(self, topic: Topic) -> int:
        """The hard cap on a stream: only reached if the archiver stops for long."""
        return history_length(self.settings, topic) * self.settings.history_hard_cap_factor

    def plan(self) -> Plan:
        return Plan(self)

    async def apply(self, plan: Plan) -> list[tuple[str, str]]:
        """Apply the plan atomically. -> (offset, epoch) of each event, in order.

        Raises Conflict (a checked record changed) or Duplicate (this command id was
        applied already). Dispatch commands are idempotent by (user, command id) for
        ONCE_TTL_S: a client that retries after a lost connection changes nothing twice.
        Positions are not: a repeated report is harmless and they are the bulk of traffic."""
        command = current_command.get()
        dispatch = bool(plan.topics) and all(t.family is Family.DISPATCH for t in plan.topics)
        if command is not None and dispatch:
            user, command_id = command
            plan._wire.once = (self.part.once(user, command_id), ONCE_TTL_S)
        if dispatch and self.on_empty is not None:
            plan._wire.guard = self.part.live
        wait = self._waits(plan)
        try:
            return await self._run(plan, wait)
        except BusEmpty:
            if self.on_empty is None:
                raise
            await self.on_empty()  # rebuilt (or refused, raising); then this plan once more
            return await self._run(plan, wait)

    def _waits(self, plan: Plan) -> bool:
        """Whether this plan waits for a replica before it is acked (``replica_wait``)."""
        if self.replicas <= 0 or self.settings.replica_wait == "off" or not plan.topics:
            return False
        if self.settings.replica_wait == "dispatch":
            return any(t.family is Family.DISPATCH for t in plan.topics)
        return any(t.lane is Lane.ALARM for t in plan.topics)

    async def _run(self, plan: Plan, wait: bool) -> list[tuple[str, str]]:
        keys, args = plan.keys(), (plan.encode(),)
        if not wait:
            return _applied(await APPLY(self.redis, keys, args))
        reply, held = await APPLY.run_and_wait(self.redis, keys, args, self.settings.replica_wait_ms)
        self.waited += 1
        try:
            applied = _applied(reply)
        except Duplicate as done:  # a retry: the first may not be on a replica either
            if held < 1:
                self.unconfirmed += 1
                self.look_again.set()
                raise Unconfirmed(done.offset, self.settings.replica_wait_ms) from None
            raise
        if held < 1:
            self.unconfirmed += 1
            self.look_again.set()
            raise Unconfirmed(applied[0][0] if applied else "", self.settings.replica_wait_ms)
        return applied

    async def fire_due_timers(self, now_ms: int, limit: int = 100) -> list[str]:
        """Claim and apply every timer due by ``now_ms``; each fires on exactly one hub."""
        fired = await FIRE_TIMERS(self.redis, (self.part.timers, self.part.timer_plans), (now_ms, limit))
        return [_s(f) for f in fired]

    async def commit(
        self,
        topic: Topic,
        event: Event,
        *,
        record: tuple[str, Any] | None = None,
        expect_version: int | None = None,
        geo: tuple[float, float] | None = None,
    ) -> tuple[str, str]:
        """One record (optional) and one event. -> (offset, epoch)."""
        plan = self.plan()
        if record is not None:
            field, value = record
            if expect_version is not None:
                plan.check(topic, field, expect_version)
            plan.write(topic, field, value)
            if geo is not None:
                plan.geo(topic, field, geo[0], geo[1])
        plan.emit(topic, event)
        return (await self.apply(plan))[0]

    async def read_record(self, topic: Topic, field: str) -> tuple[bytes | None, int]:
        """A state record and its version (0 when absent)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            keys = self.keys(topic)
            pipe.hget(keys.state, field)
            pipe.hget(keys.versions, field)
            value, version = await pipe.execute()
        return value, int(version or 0)

    async def epoch(self, topic: Topic) -> str:
        value = await self.redis.get(self.keys(topic).epoch)
        return _s(value) if value is not None else ""

    async def epochs(self, topics: Sequence[Topic]) -> dict[str, str]:
        """Each topic's epoch, made now for a topic that has none yet: one transaction per family,
        as a family's keys share one slot and no read may span two."""
        out: dict[str, str] = {}
        for family in Family:
            group = [t for t in topics if t.family is family]
            if not group:
                continue
            epochs = [self.keys(t).epoch for t in group]
            async with self.redis.pipeline(transaction=True) as pipe:
                for key in epochs:
                    pipe.set(key, secrets.token_hex(6), nx=True)
                for key in epochs:
                    pipe.get(key)  # not MGET, which a cluster's pipeline refuses
                values = (await pipe.execute())[len(epochs) :]
            out.update((t.name, _s(v) if v is not None else "") for t, v in zip(group, values, strict=True))
        return out

    async def last_offsets(self, topics: Sequence[Topic]) -> dict[str, str]:
        """The newest id in each stream ("0-0" if empty): where a fresh reader starts."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for t in topics:
                pipe.xrevrange(self.keys(t).stream, count=1)
            results = await pipe.execute()
        return {t.name: (_s(r[0][0]) if r else "0-0") for t, r in zip(topics, results, strict=True)}

    async def snapshot(self, topic: Topic) -> Snapshot:
        """Current state and the offset it is current as of, read in one transaction."""
        keys = self.keys(topic)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.epoch)
            pipe.xrevrange(keys.stream, count=max(1, self.settings.radio_snapshot))
            pipe.hvals(keys.state)
            epoch, recent, values = await pipe.execute()
        offset = _s(recent[0][0]) if recent else "0-0"
        items: list[SnapshotItem] = [_record_decoder.decode(v) for v in values]
        if not items and topic.name == "radio":
            # The radio log has no state records: its snapshot is the recent tail.
            for _, fields in reversed(recent):
                event = event_decoder.decode(fields[b"e"])
                if isinstance(event, RadioLogged):
                    items.append(event.entry)
        return Snapshot(topic.name, _s(epoch) if epoch is not None else "", offset, items)

    async def history(self, topic: Topic, after: str, epoch: str | None, limit: int) -> History | None:
        """Events after ``after``, in order, or None if the client must resync: its epoch is
        not this stream's, its offset is past what was trimmed, or it missed more than ``limit``."""
        mark = parse_offset(after)
        keys = self.keys(topic)
        async with self.redis.pipeline(transaction=True) as pipe:
            # One transaction: the trim check and the read see the same stream.
            pipe.get(keys.epoch)
            pipe.xinfo_stream(keys.stream)
            pipe.xrange(keys.stream, min=f"({after}", max="+", count=limit + 1)
            raw_epoch, info, batch = await pipe.execute()
        current = _s(raw_epoch) if raw_epoch is not None else ""
        if not current or epoch != current:
            return None  # no epoch given with an offset cannot be trusted either
        if mark > parse_offset(_s(info.get("last-generated-id", "0-0"))):
            return None  # an offset from another life of the stream
        # MAXLEN trimming does not move max-deleted-entry-id, so count instead:
        # if anything was trimmed and the client's entry is older than the first
        # one kept, what lay between may be gone. Resync rather than guess.
        trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        first = info.get("first-entry")
        first_id = parse_offset(_s(first[0])) if first else None
        if trimmed and (first_id is None or mark < first_id):
            return None
        if len(batch) > limit:
            return None
        entries = [(_s(sid), event_decoder.decode(fields[b"e"])) for sid, fields in batch]
        return History(current, entries)
