"""UnitDesk: the roster, the status machine, acknowledgements, check-ins, positions."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import msgspec

from protocol.codes import ErrorCode
from protocol.events import IncidentUpdated, PositionReported, UnitUpdated
from protocol.messages import UnitAcknowledge, UnitCheckIn, UnitPosition, UnitRoster, UnitStatus
from protocol.state import CoreUnitStatus, Incident, Position, TimelineEntry, UnitState
from server.access.roles import Principal
from server.bus.log import Bus, Plan
from server.dispatch.live import (
    INCIDENTS,
    POSITIONS,
    TIMELINE_KEEP,
    UNITS,
    CommandError,
    Live,
    Reply,
    now_ms,
    status_entered,
)
from server.dispatch.rules import (
    ON_CALL_STATUSES,
    SAME_CALL,
    SameCall,
    enter_status,
    incident_progress,
    unit_transition_allowed,
)
from server.dispatch.timers import restart_unit_timers, schedule_welfare

__all__ = ["PositionBatches", "UnitDesk"]

_replace = msgspec.structs.replace

MAX_POSITION_BATCH = 500


class PositionBatches:
    """Position reports go to Redis together: one script call for all that arrived meanwhile.

    While one batch is being applied, the reports that come in wait and go in the
    next. At low rates a batch is one report and nothing waits longer than it would
    have; at thousands a second one round trip carries hundreds. Positions carry no
    once-only key (a repeated report is harmless), so reports of different users
    and units may share a step; each report still gets its own event and offset.
    Each session has one command in flight at a time, so at most one report per
    session waits here. Latitudes Redis cannot index are refused when the frame
    is decoded (``MappableLat``), so one report cannot fail the others' batch.
    """

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._waiting: list[tuple[Position, str, asyncio.Future[str]]] = []
        self._task: asyncio.Task[None] | None = None

    async def apply(self, pos: Position, by: str) -> str:
        """Apply one report (in the next batch). -> the offset of its event."""
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting.append((pos, by, fut))
        if self._task is None:
            # A context of its own: no command's once-only key may leak into a batch.
            self._task = asyncio.get_running_loop().create_task(self._drain(), context=contextvars.Context())
        return await fut

    async def _drain(self) -> None:
        batch: list[tuple[Position, str, asyncio.Future[str]]] = []
        try:
            while self._waiting:
                batch = self._waiting[:MAX_POSITION_BATCH]
                del self._waiting[:MAX_POSITION_BATCH]
                plan = self.bus.plan()
                for pos, by, _ in batch:
                    plan.write(POSITIONS, pos.unit, pos).geo(POSITIONS, pos.unit, pos.lon, pos.lat)
                    plan.emit(POSITIONS, PositionReported(ts=pos.at, by=by, position=pos))
                try:
                    out = await self.bus.apply(plan)
                except Exception as exc:
                    _fail(batch, exc)
                    continue
                for (_, _, fut), (offset, _) in zip(batch, out, strict=True):
                    if not fut.done():
                        fut.set_result(offset)
                batch = []
        except BaseException as exc:  # cancelled (the hub stopping), or a bug: nobody may wait for good
            _fail(batch + self._waiting, exc if isinstance(exc, Exception) else RuntimeError("position batch stopped"))
            self._waiting = []
            raise
        finally:
            self._task = None


def _fail(batch: list[tuple[Position, str, asyncio.Future[str]]], exc: Exception) -> None:
    for _, _, fut in batch:
        if not fut.done():
            fut.set_exception(exc)


class UnitDesk:
    def __init__(self, live: Live) -> None:
        self.live = live
        self.bus = live.bus
        self.policy = live.policy
        self.positions = PositionBatches(live.bus)

    async def _resolve(self, plan: Plan, alarm_ids: list[str], by: str, at: int) -> None:
        await self.live.resolve_alarms(plan, alarm_ids, by, at)

    async def _incident_of(self, unit: UnitState) -> Incident | None:
        if unit.incident is None:
            return None
        incident, _ = await self.live.incident_or_none(unit.incident)
        return incident

    def _on_incident(
        self,
        plan: Plan,
        who: Principal,
        incident: Incident,
        now: int,
        action: str,
        detail: str,
        unit: str,
        **changes: Any,
    ) -> None:
        """What a unit's change does to its incident: a timeline line, and the changed incident."""
        entry = TimelineEntry(at=now, by=who.user, action=action, detail=detail, unit=unit)
        plan.append(self.bus.part.timeline(incident.id), entry, TIMELINE_KEEP)
        after = _replace(incident, **changes, updated_at=now, updated_by=who.user)
        changed = sorted(k for k, v in changes.items() if getattr(incident, k) != v)
        plan.write(INCIDENTS, incident.id, after)
        plan.emit(INCIDENTS, IncidentUpdated(ts=now, by=who.user, incident=after, changed=changed, entry=entry))

    async def roster(self, who: Principal, cmd: UnitRoster) -> Reply:
        if cmd.status not in self.policy.unit_statuses:
            raise CommandError(ErrorCode.INVALID_TRANSITION, f"unknown unit status {cmd.status!r}")

        async def attempt() -> Reply:
            current, version = await self.live.unit_or_none(cmd.unit)
            now = now_ms()
            details: dict[str, Any] = dict(
                call_sign=cmd.call_sign or cmd.unit,
                district=cmd.district,
                shift=cmd.shift,
                capabilities=sorted(set(cmd.capabilities)),
                officers=list(cmd.officers),
                updated_by=who.user,
            )
            plan = self.bus.plan().check(UNITS, cmd.unit, version)
            if current is None:
                unit = enter_status(
                    self.policy, UnitState(id=cmd.unit, status="", **details), cmd.status, at=now, by=who.user
                )
                unit = restart_unit_timers(plan, self.bus, self.policy, unit, None)
                reason = "added to the roster"
            else:
                unit = _replace(current, **details)
                reason = "roster details changed"
            plan.write(UNITS, unit.id, unit)
            plan.emit(UNITS, UnitUpdated(ts=now, by=who.user, unit=unit, reason=reason))
            return UNITS.name, (await self.bus.apply(plan))[0][0], None

        return await self.live.retrying(attempt, f"unit {cmd.unit}")

    async def status(self, who: Principal, cmd: UnitStatus) -> Reply:
        if cmd.status not in self.policy.unit_statuses:
            raise CommandError(ErrorCode.INVALID_TRANSITION, f"unknown unit status {cmd.status!r}")

        async def attempt() -> Reply:
            unit, uv = await self.live.unit(cmd.unit)
            if not unit_transition_allowed(self.policy, unit.status, cmd.status):
                raise CommandError(
                    ErrorCode.INVALID_TRANSITION, f"{unit.id} cannot go from {unit.status} to {cmd.status}"
                )
            incident_id = cmd.incident or unit.incident
            now = now_ms()
            plan = self.bus.plan().check(UNITS, unit.id, uv)
            incident = None
            call: str | None | SameCall = SAME_CALL
            if incident_id is not None:
                incident, iv = await self.live.incident_or_none(incident_id)
                if incident is not None and not any(a.unit == unit.id and a.cleared_at is None for a in incident.units):
                    if cmd.incident is not None:
                        raise CommandError(ErrorCode.INVALID_TRANSITION, f"{unit.id} is not assigned to {incident_id}")
                    incident = None
                if incident is not None:
                    plan.check(INCIDENTS, incident.id, iv)
            if cmd.status == CoreUnitStatus.EMERGENCY and incident is not None:
                self._on_incident(plan, who, incident, now, "unit status", f"{unit.id} EMERGENCY", unit.id)
                call = incident.id  # in distress at the call: still on it
            elif cmd.status in ON_CALL_STATUSES and incident is not None:
                call = incident.id
                progressed = incident_progress(incident.status, cmd.status)
                self._on_incident(
                    plan, who, incident, now, "unit status", f"{unit.id} {cmd.status}", unit.id, status=progressed
                )
            elif incident is not None:
                # Clear: the unit leaves the call (the call stays until dispatch closes it);
                # if it was the primary, the next unit still on the call becomes primary.
                units = [
                    _replace(a, cleared_at=now) if a.unit == unit.id and a.cleared_at is None else a
                    for a in incident.units
                ]
                active = [a for a in units if a.cleared_at is None]
                if active and not any(a.primary for a in active):
                    units = [_replace(a, primary=True) if a is active[0] else a for a in units]
                self._on_incident(
                    plan, who, incident, now, "unit cleared", f"{unit.id} {cmd.status}", unit.id, units=units
                )
                call = None
            changed = enter_status(self.policy, unit, cmd.status, at=now, by=who.user, call=call)
            on_call = incident if incident is not None and changed.incident else None
            changed = restart_unit_timers(plan, self.bus, self.policy, changed, on_call)
            await self._resolve(plan, [f"status:{unit.id}", f"welfare:{unit.id}"], who.user, now)
            status_entered(plan, unit, changed)
            return UNITS.name, (await self.bus.apply(plan))[-1][0], None

        return await self.live.retrying(attempt, f"unit {cmd.unit}")

    async def acknowledge(self, who: Principal, cmd: UnitAcknowledge) -> Reply:
        async def attempt() -> Reply:
            incident, iv = await self.live.incident(cmd.incident)
            unit, uv = await self.live.unit(cmd.unit)
            mine = [a for a in incident.units if a.unit == unit.id and a.cleared_at is None]
            if not mine:
                raise CommandError(ErrorCode.INVALID_TRANSITION, f"{unit.id} is not assigned to {incident.id}")
            now = now_ms()
            units = [_replace(a, acknowledged_at=now) if a is mine[0] else a for a in incident.units]
            after = _replace(incident, units=units, updated_at=now, updated_by=who.user)
            touched = schedule_welfare(
                plan := self.bus.plan(), self.bus, self.policy, _replace(unit, last_contact=now), incident
            )
            plan.check(INCIDENTS, incident.id, iv).check(UNITS, unit.id, uv)
            entry = TimelineEntry(
                at=now, by=who.user, action="acknowledged", detail=f"{unit.id} has the call", unit=unit.id
            )
            plan.append(self.bus.part.timeline(incident.id), entry, TIMELINE_KEEP)
            plan.write(INCIDENTS, incident.id, after).write(UNITS, unit.id, touched)
            await self._resolve(plan, [f"welfare:{unit.id}"], who.user, now)
            plan.emit(
                INCIDENTS,
                IncidentUpdated(ts=now, by=who.user, incident=after, changed=["units"], entry=entry),
            )
            plan.emit(UNITS, UnitUpdated(ts=now, by=who.user, unit=touched, reason="acknowledged"))
            return INCIDENTS.name, (await self.bus.apply(plan))[0][0], None

        return await self.live.retrying(attempt, f"incident {cmd.incident}")

    async def check_in(self, who: Principal, cmd: UnitCheckIn) -> Reply:
        async def attempt() -> Reply:
            unit, uv = await self.live.unit(cmd.unit)
            now = now_ms()
            plan = self.bus.plan().check(UNITS, unit.id, uv)
            touched = schedule_welfare(
                plan, self.bus, self.policy, _replace(unit, last_contact=now), await self._incident_of(unit)
            )
            await self._resolve(plan, [f"welfare:{unit.id}"], who.user, now)
            plan.write(UNITS, unit.id, touched)
            plan.emit(UNITS, UnitUpdated(ts=now, by=who.user, unit=touched, reason="checked in"))
            return UNITS.name, (await self.bus.apply(plan))[-1][0], None

        return await self.live.retrying(attempt, f"unit {cmd.unit}")

    async def position(self, who: Principal, cmd: UnitPosition) -> Reply:
        now = now_ms()
        pos = Position(
            unit=cmd.unit, lat=cmd.lat, lon=cmd.lon, at=now, heading=cmd.heading, speed=cmd.speed, accuracy=cmd.accuracy
        )
        return POSITIONS.name, await self.positions.apply(pos, who.user), None
