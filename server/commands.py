"""DispatchService: validates a command, applies it through the bus, answers.

Each command becomes one atomic bus commit. Read-modify-write commands read
the record and its version, compute the new record with pure rules, and
commit only if the version is unchanged (retrying on a conflict).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from protocol.codes import ErrorCode
from protocol.events import (
    AlarmRaised,
    IncidentCreated,
    IncidentUpdated,
    PositionReported,
    RadioLogged,
    UnitStatusChanged,
)
from protocol.messages import (
    Ack,
    Command,
    Error,
    IncidentCreate,
    IncidentUpdate,
    RadioAppend,
    UnitPanic,
    UnitPosition,
    UnitStatus,
)
from protocol.state import Alarm, Incident, Position, RadioEntry, UnitState
from server.auth import Principal, may_command
from server.bus import Bus, Conflict
from server.rules import incident_transition_allowed, parse_unit_status
from server.topics import topic_named

__all__ = ["CommandError", "DispatchService"]

log = logging.getLogger("dispatch.commands")

_T = {name: topic_named(name) for name in ("alarms", "incidents", "units", "radio", "positions")}
_enc = msgspec.msgpack.Encoder()
_incident_dec = msgspec.msgpack.Decoder(Incident)
_unit_dec = msgspec.msgpack.Decoder(UnitState)
_RETRIES = 5


class CommandError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now_ms() -> int:
    return int(time.time() * 1000)


def _topic(name: str) -> Any:
    topic = _T[name]
    assert topic is not None
    return topic


class DispatchService:
    def __init__(self, bus: Bus, redis: Redis) -> None:
        self.bus = bus
        self.redis = redis

    async def handle(self, who: Principal, cmd: Command) -> Ack | Error:
        tag = type(cmd).__struct_config__.tag
        assert isinstance(tag, str)
        if not may_command(who, tag, getattr(cmd, "unit", None)):
            why = "for its own unit only" if who.unit else "not permitted"
            return Error(ErrorCode.FORBIDDEN, f"{who.role.value} may not send {tag}: {why}", cmd.id)
        try:
            topic, offset, result = await self._apply(who, cmd)
        except CommandError as exc:
            return Error(exc.code, exc.message, cmd.id)
        except RedisError as exc:
            log.error("command %s failed on redis: %s", tag, exc)
            return Error(ErrorCode.UNAVAILABLE, "the live store is unavailable; nothing was written", cmd.id)
        return Ack(ref=cmd.id, topic=topic, offset=offset, result=result)

    async def _apply(self, who: Principal, cmd: Command) -> tuple[str, str, dict[str, str] | None]:
        match cmd:
            case IncidentCreate():
                return await self._incident_create(who, cmd)
            case IncidentUpdate():
                return await self._incident_update(who, cmd)
            case UnitStatus():
                return await self._unit_status(who, cmd)
            case UnitPosition():
                return await self._unit_position(who, cmd)
            case RadioAppend():
                return await self._radio_append(who, cmd)
            case UnitPanic():
                return await self._unit_panic(who, cmd)
        raise CommandError(ErrorCode.INVALID_FRAME, "unknown command")  # pragma: no cover

    async def _next_incident_id(self) -> str:
        seq = await self.redis.incr("{incidents}:seq")
        return f"I{dt.date.today():%y%m%d}-{seq:05d}"

    async def _incident_create(self, who: Principal, cmd: IncidentCreate) -> tuple[str, str, dict[str, str]]:
        now = _now_ms()
        incident = Incident(
            id=await self._next_incident_id(),
            call_type=cmd.call_type,
            priority=cmd.priority,
            status="pending",
            location=cmd.location,
            narrative=cmd.narrative,
            caller=cmd.caller,
            callback=cmd.callback,
            source=cmd.source,
            created_at=now,
            updated_at=now,
            updated_by=who.user,
        )
        topic = _topic("incidents")
        offset, _ = await self.bus.commit(
            topic,
            IncidentCreated(ts=now, by=who.user, incident=incident),
            record=(incident.id, _enc.encode(incident)),
            expect_version=0,
        )
        return topic.name, offset, {"incident": incident.id}

    async def _incident_update(self, who: Principal, cmd: IncidentUpdate) -> tuple[str, str, None]:
        topic = _topic("incidents")
        for _ in range(_RETRIES):
            raw, version = await self.bus.read_record(topic, cmd.incident)
            if raw is None:
                raise CommandError(ErrorCode.NOT_FOUND, f"no incident {cmd.incident}")
            current = _incident_dec.decode(raw)
            changes: dict[str, Any] = {}
            for name in ("call_type", "priority", "location", "narrative", "caller", "callback", "status"):
                value = getattr(cmd, name)
                if value is not None and value != getattr(current, name):
                    changes[name] = value
            if "status" in changes and not incident_transition_allowed(current.status, changes["status"]):
                raise CommandError(
                    ErrorCode.INVALID_TRANSITION,
                    f"incident {current.id} cannot go from {current.status} to {changes['status']}",
                )
            now = _now_ms()
            updated = msgspec.structs.replace(current, **changes, updated_at=now, updated_by=who.user)
            try:
                offset, _ = await self.bus.commit(
                    topic,
                    IncidentUpdated(ts=now, by=who.user, incident=updated, changed=sorted(changes)),
                    record=(updated.id, _enc.encode(updated)),
                    expect_version=version,
                )
                return topic.name, offset, None
            except Conflict:
                continue
        raise CommandError(ErrorCode.CONFLICT, f"incident {cmd.incident} is changing too fast; retry")

    async def _unit_status(self, who: Principal, cmd: UnitStatus) -> tuple[str, str, None]:
        status = parse_unit_status(cmd.status)
        if status is None:
            raise CommandError(ErrorCode.INVALID_TRANSITION, f"unknown unit status {cmd.status!r}")
        topic = _topic("units")
        for _ in range(_RETRIES):
            raw, version = await self.bus.read_record(topic, cmd.unit)
            previous = _unit_dec.decode(raw).status if raw is not None else ""
            now = _now_ms()
            unit = UnitState(
                id=cmd.unit, status=status.value, since=now, incident=cmd.incident, updated_by=who.user
            )
            try:
                offset, _ = await self.bus.commit(
                    topic,
                    UnitStatusChanged(ts=now, by=who.user, unit=unit, previous=previous),
                    record=(unit.id, _enc.encode(unit)),
                    expect_version=version,
                )
                return topic.name, offset, None
            except Conflict:
                continue
        raise CommandError(ErrorCode.CONFLICT, f"unit {cmd.unit} is changing too fast; retry")

    async def _unit_position(self, who: Principal, cmd: UnitPosition) -> tuple[str, str, None]:
        now = _now_ms()
        pos = Position(
            unit=cmd.unit, lat=cmd.lat, lon=cmd.lon, at=now,
            heading=cmd.heading, speed=cmd.speed, accuracy=cmd.accuracy,
        )  # fmt: skip
        topic = _topic("positions")
        offset, _ = await self.bus.commit(
            topic,
            PositionReported(ts=now, by=who.user, position=pos),
            record=(pos.unit, _enc.encode(pos)),
            geo=(cmd.lon, cmd.lat),
        )
        return topic.name, offset, None

    async def _radio_append(self, who: Principal, cmd: RadioAppend) -> tuple[str, str, None]:
        now = _now_ms()
        entry = RadioEntry(
            channel=cmd.channel, text=cmd.text, at=now, by=who.user, unit=cmd.unit, incident=cmd.incident
        )
        topic = _topic("radio")
        offset, _ = await self.bus.commit(topic, RadioLogged(ts=now, by=who.user, entry=entry))
        return topic.name, offset, None

    async def _unit_panic(self, who: Principal, cmd: UnitPanic) -> tuple[str, str, dict[str, str]]:
        now = _now_ms()
        raw, _ = await self.bus.read_record(_topic("positions"), cmd.unit)
        position = msgspec.msgpack.decode(raw, type=Position) if raw is not None else None
        alarm = Alarm(
            id=f"A{now}-{cmd.unit}", unit=cmd.unit, reason=cmd.reason,
            raised_at=now, raised_by=who.user, position=position,
        )  # fmt: skip
        topic = _topic("alarms")
        offset, _ = await self.bus.commit(
            topic,
            AlarmRaised(ts=now, by=who.user, alarm=alarm),
            record=(alarm.id, _enc.encode(alarm)),
        )
        return topic.name, offset, {"alarm": alarm.id}
