"""Live state in Redis: read records with their versions, build plans, run with retries.

Every command reads what it needs (with versions), decides with pure rules,
and applies one plan that checks those versions. If another hub changed a
record meanwhile, the plan does nothing and the command is decided again.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from redis.asyncio import Redis

from protocol.codec import event_decoder
from protocol.codes import ErrorCode
from protocol.events import AlarmUpdated, Event, UnitStatusChanged
from protocol.state import TRAFFIC_MODE_ID, Alarm, Incident, Position, TimelineEntry, TrafficMode, UnitState
from server.agency.policy import Policy
from server.bus.log import Bus, Conflict, Plan
from server.bus.topics import Topic, topic_named

__all__ = [
    "ALARMS",
    "INCIDENTS",
    "POSITIONS",
    "RADIO",
    "UNITS",
    "CommandError",
    "Live",
    "Reply",
    "incident_id",
    "now_ms",
    "status_entered",
]

T = TypeVar("T")
# What a desk's command answers: the topic it wrote to, the event's offset there, and the ack's
# result fields (or None).
Reply = tuple[str, str, dict[str, str] | None]


def _topic(name: str) -> Topic:
    topic = topic_named(name)
    assert topic is not None
    return topic


ALARMS, INCIDENTS, UNITS, RADIO, POSITIONS = (_topic(n) for n in ("alarms", "incidents", "units", "radio", "positions"))
TIMELINE_KEEP = 1000

_incident = msgspec.msgpack.Decoder(Incident)
_unit = msgspec.msgpack.Decoder(UnitState)
_alarm = msgspec.msgpack.Decoder(Alarm)
_position = msgspec.msgpack.Decoder(Position)
_timeline = msgspec.msgpack.Decoder(TimelineEntry)
_mode = msgspec.msgpack.Decoder(TrafficMode)


class CommandError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def now_ms() -> int:
    return int(time.time() * 1000)


def incident_id(day: dt.date, number: int) -> str:
    """An incident's id: its day and its number, which counts on across days (I261203-00042)."""
    return f"I{day:%y%m%d}-{number:05d}"


def status_entered(plan: Plan, before: UnitState, after: UnitState) -> None:
    """Write a unit that entered a status (``rules.enter_status``) and tell the boards, with the
    status it left."""
    plan.write(UNITS, after.id, after)
    plan.emit(UNITS, UnitStatusChanged(ts=after.since, by=after.updated_by, unit=after, previous=before.status))


class Live:
    """Typed reads of the live records, and the retry loop for optimistic plans."""

    def __init__(self, bus: Bus, redis: Redis, policy: Policy) -> None:
        self.bus = bus
        self.redis = redis
        self.policy = policy

    async def _read(self, topic: Topic, ids: list[str]) -> list[tuple[bytes | None, int]]:
        if not ids:
            return []
        async with self.redis.pipeline(transaction=True) as pipe:
            keys = self.bus.keys(topic)
            pipe.hmget(keys.state, ids)
            pipe.hmget(keys.versions, ids)
            values, versions = await pipe.execute()
        return [(v, int(n or 0)) for v, n in zip(values, versions, strict=True)]

    async def incident(self, incident_id: str) -> tuple[Incident, int]:
        ((raw, version),) = await self._read(INCIDENTS, [incident_id])
        if raw is None:
            raise CommandError(ErrorCode.NOT_FOUND, f"no open incident {incident_id}")
        return _incident.decode(raw), version

    async def incident_or_none(self, incident_id: str) -> tuple[Incident | None, int]:
        ((raw, version),) = await self._read(INCIDENTS, [incident_id])
        return (_incident.decode(raw) if raw is not None else None), version

    async def incidents(self, incident_ids: list[str]) -> list[Incident | None]:
        return [(_incident.decode(r) if r is not None else None) for r, _ in await self._read(INCIDENTS, incident_ids)]

    async def unit(self, unit_id: str) -> tuple[UnitState, int]:
        ((raw, version),) = await self._read(UNITS, [unit_id])
        if raw is None:
            raise CommandError(ErrorCode.NOT_FOUND, f"no unit {unit_id} on the roster")
        return _unit.decode(raw), version

    async def unit_or_none(self, unit_id: str) -> tuple[UnitState | None, int]:
        ((raw, version),) = await self._read(UNITS, [unit_id])
        return (_unit.decode(raw) if raw is not None else None), version

    async def units(self, unit_ids: list[str]) -> list[tuple[UnitState | None, int]]:
        return [((_unit.decode(r) if r is not None else None), v) for r, v in await self._read(UNITS, unit_ids)]

    async def all_units(self) -> list[UnitState]:
        raws: Any = await self.redis.hvals(self.bus.keys(UNITS).state)
        return [_unit.decode(raw) for raw in raws]

    async def alarm(self, alarm_id: str) -> tuple[Alarm, int]:
        ((raw, version),) = await self._read(ALARMS, [alarm_id])
        if raw is None:
            raise CommandError(ErrorCode.NOT_FOUND, f"no active alarm {alarm_id}")
        return _alarm.decode(raw), version

    async def alarm_exists(self, alarm_ids: list[str]) -> dict[str, int]:
        """Versions of those alarms that are active now."""
        return {a: v for a, (raw, v) in zip(alarm_ids, await self._read(ALARMS, alarm_ids), strict=True) if raw}

    async def resolve_alarms(self, plan: Plan, alarm_ids: list[str], by: str, at: int) -> None:
        """Take non-latching alarms whose cause is gone off the boards. Each is version-checked,
        present or not, so a timer that raises one between our read and our apply makes the
        command try again (and resolve it) rather than leave it up."""
        for alarm_id, (raw, version) in zip(alarm_ids, await self._read(ALARMS, alarm_ids), strict=True):
            plan.check(ALARMS, alarm_id, version)
            if raw is not None:
                alarm = _alarm.decode(raw)
                plan.delete(ALARMS, alarm_id)
                plan.emit(
                    ALARMS,
                    AlarmUpdated(
                        ts=at, by=by, alarm=msgspec.structs.replace(alarm, state="resolved"), action="resolved"
                    ),
                )

    async def positions(self, unit_ids: list[str]) -> dict[str, Position]:
        if not unit_ids:
            return {}
        raws: Any = await self.redis.hmget(self.bus.keys(POSITIONS).state, unit_ids)
        return {u: _position.decode(r) for u, r in zip(unit_ids, raws, strict=True) if r is not None}

    async def near(self, lat: float, lon: float, radius_m: float) -> list[tuple[str, float]]:
        """Units whose last position is within the radius: (unit, metres), nearest first."""
        found: Any = await self.redis.geosearch(
            self.bus.keys(POSITIONS).geo,
            longitude=lon,
            latitude=lat,
            radius=radius_m,
            unit="m",
            sort="ASC",
            withdist=True,
            count=500,
        )
        return [(m.decode() if isinstance(m, bytes) else str(m), float(d)) for m, d in found]

    async def timeline(self, incident_id: str) -> list[TimelineEntry]:
        raws: Any = await self.redis.lrange(self.bus.part.timeline(incident_id), 0, -1)
        return [_timeline.decode(r) for r in raws]

    async def traffic_mode(self) -> tuple[TrafficMode | None, int]:
        ((raw, version),) = await self._read(ALARMS, [TRAFFIC_MODE_ID])
        if raw is None:
            return None, version
        return _mode.decode(raw), version

    async def event_at(self, topic: Topic, offset: str) -> Event | None:
        """The event at an offset of a topic, while its stream still keeps it."""
        entries: Any = await self.redis.xrange(self.bus.part.stream(topic), min=offset, max=offset, count=1)
        for _, fields in entries:
            return event_decoder.decode(fields[b"e"])
        return None

    async def retrying(self, attempt: Callable[[], Awaitable[T]], what: str, tries: int = 8) -> T:
        """Run a read-decide-apply attempt until its version checks hold."""
        for _ in range(tries):
            try:
                return await attempt()
            except Conflict:
                continue
        raise CommandError(ErrorCode.CONFLICT, f"{what} kept changing; try again")
