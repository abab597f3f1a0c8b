"""IncidentDesk: calls from any source, through their life cycle, on one timeline.

Every change is stamped with operator and time, written to the incident's
timeline, and applied in one atomic plan with the unit changes it implies.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from protocol.codes import ErrorCode
from protocol.events import IncidentCreated, IncidentUpdated, Notified, UnitStatusChanged
from protocol.messages import (
    IncidentAssign,
    IncidentCancel,
    IncidentClose,
    IncidentCreate,
    IncidentLink,
    IncidentMerge,
    IncidentNote,
    IncidentPolice,
    IncidentReopen,
    IncidentUnassign,
    IncidentUpdate,
    Recommend,
    Recommendation,
)
from protocol.state import (
    Assignment,
    Availability,
    CoreUnitStatus,
    Incident,
    IncidentStatus,
    Location,
    TimelineEntry,
    UnitState,
)
from server.access.permissions import officer_on
from server.access.roles import Principal, Role
from server.agency.geography import distance_m
from server.bus.log import Plan
from server.bus.scripts import TAKE_NUMBER
from server.dispatch.live import (
    ALARMS,
    INCIDENTS,
    TIMELINE_KEEP,
    UNITS,
    CommandError,
    Live,
    Reply,
    incident_id,
    now_ms,
    status_entered,
)
from server.dispatch.rules import (
    Candidate,
    availability_of,
    coverage_warnings,
    enter_status,
    incident_transition_allowed,
    is_open,
    pullable_units,
    rank_units,
)
from server.dispatch.timers import restart_unit_timers, schedule_unassigned, unassigned_timer

__all__ = ["IncidentDesk"]


_replace = msgspec.structs.replace
CLOSED_TIMELINE_TTL_S = 24 * 3600
_S = IncidentStatus
_WAITING = (_S.PENDING, _S.REOPENED)  # a call waiting for a unit


class IncidentDesk:
    def __init__(self, live: Live) -> None:
        self.live = live
        self.bus = live.bus
        self.policy = live.policy

    # ---- helpers -------------------------------------------------------------

    def _locate(self, location: Location) -> Location:
        if location.lat is None or location.lon is None or self.policy.area is None:
            return _replace(location, inside=None, district=None)
        found = self.policy.area.locate(location.lat, location.lon)
        return _replace(location, inside=found.inside, district=found.district)

    def _entry(
        self, plan: Plan, incident: Incident, at: int, by: str, action: str, detail: str = "", unit: str | None = None
    ) -> TimelineEntry:
        entry = TimelineEntry(at=at, by=by, action=action, detail=detail, unit=unit)
        plan.append(self.bus.part.timeline(incident.id), entry, TIMELINE_KEEP)
        return entry

    def _store(self, plan: Plan, incident: Incident) -> None:
        """Open incidents live in Redis; closed and cancelled ones only in the records store
        (their live timeline lingers a while for late readers, then goes)."""
        if is_open(incident.status):
            plan.write(INCIDENTS, incident.id, incident)
            plan.expire(self.bus.part.timeline(incident.id), 0)
        else:
            plan.delete(INCIDENTS, incident.id)
            plan.expire(self.bus.part.timeline(incident.id), CLOSED_TIMELINE_TTL_S)

    async def _resolve_alarm(self, plan: Plan, alarm_id: str, by: str, at: int) -> None:
        await self.live.resolve_alarms(plan, [alarm_id], by, at)

    async def _next_id(self) -> str:
        bus = self.live.bus
        for _ in range(3):
            seq = int(await TAKE_NUMBER(self.live.redis, (self.bus.part.live, self.bus.part.incident_seq), ()))
            if seq >= 0:
                return incident_id(dt.date.today(), seq)
            if bus.on_empty is None:  # no records to floor it from: the sequence starts here
                await self.live.redis.set(self.bus.part.live, "", nx=True)
            else:
                await bus.on_empty()  # the live state and this sequence rebuilt from the records
        raise CommandError(ErrorCode.UNAVAILABLE, "the live state is being rebuilt; try again")

    def _priority_for(self, call_type: str, given: int | None) -> int:
        if given is not None:
            return given
        ct = self.policy.call_types.get(call_type.upper())
        return ct.priority if ct is not None else 3

    def _needs_for(self, call_type: str, given: list[str]) -> list[str]:
        if given:
            return list(given)
        ct = self.policy.call_types.get(call_type.upper())
        return list(ct.needs) if ct is not None else []

    # ---- commands ----------------------------------------------------------

    async def create(self, who: Principal, cmd: IncidentCreate, *, incident_id: str | None = None) -> Reply:
        """A new call. ``incident_id``: a given id (a 311 referral's), made at most once (else Conflict)."""
        if self._priority_for(cmd.call_type, cmd.priority) not in self.policy.priorities:
            raise CommandError(ErrorCode.INVALID_FRAME, f"priority {cmd.priority} is not in the policy")
        others = [await self._linkable(who, other) for other in dict.fromkeys(cmd.linked)]
        now = now_ms()
        location = self._locate(cmd.location)
        incident = Incident(
            id=incident_id or await self._next_id(),
            call_type=cmd.call_type.upper(),
            priority=self._priority_for(cmd.call_type, cmd.priority),
            status=_S.PENDING,
            location=location,
            narrative=cmd.narrative,
            caller=cmd.caller,
            callback=cmd.callback,
            source=cmd.source,
            needs=self._needs_for(cmd.call_type, cmd.needs),
            linked=list(cmd.linked),
            created_at=now,
            updated_at=now,
            updated_by=who.user,
            created_by=who.user,
        )
        plan = self.bus.plan().check(INCIDENTS, incident.id, 0)
        where = location.address or "no address"
        if location.inside is False:
            where += " (OUTSIDE SERVICE AREA)"
        entry = self._entry(
            plan,
            incident,
            now,
            who.user,
            "created",
            f"{cmd.source}: P{incident.priority} {incident.call_type} at {where}",
        )
        self._store(plan, incident)
        schedule_unassigned(plan, self.bus, self.policy, incident, now)
        plan.emit(INCIDENTS, IncidentCreated(ts=now, by=who.user, incident=incident, entry=entry))
        for other, version in others:  # links go both ways
            linked = _replace(other, linked=sorted({*other.linked, incident.id}), updated_at=now, updated_by=who.user)
            plan.check(INCIDENTS, other.id, version)
            e = self._entry(plan, linked, now, who.user, "linked", f"linked with {incident.id}")
            self._store(plan, linked)
            plan.emit(INCIDENTS, IncidentUpdated(ts=now, by=who.user, incident=linked, changed=["linked"], entry=e))
        offset, _ = (await self.bus.apply(plan))[0]
        result = {"incident": incident.id}
        if location.inside is not None:
            result["inside_service_area"] = "yes" if location.inside else "no"
        if location.district:
            result["district"] = location.district
        return INCIDENTS.name, offset, result

    async def _linkable(self, who: Principal, incident_id: str) -> tuple[Incident, int]:
        """A call a new one may be linked to: any open one for the desk; for an officer, only one its
        unit is on, and the refusal is the same whether the call exists or not (no list of open ids
        to be had by trying)."""
        if who.role is not Role.OFFICER:
            return await self.live.incident(incident_id)
        found, version = await self.live.incident_or_none(incident_id)
        if found is None or not officer_on(who, found):
            raise CommandError(ErrorCode.FORBIDDEN, "an officer may link a new call only to calls its unit is on")
        return found, version

    async def update(self, who: Principal, cmd: IncidentUpdate) -> Reply:
        async def attempt() -> Reply:
            current, version = await self.live.incident(cmd.incident)
            changes: dict[str, Any] = {}
            for name in ("call_type", "priority", "narrative", "caller", "callback", "needs", "status"):
                value = getattr(cmd, name)
                if name == "call_type" and value is not None:
                    value = value.upper()  # call types are codes: NOISE, PARKING
                if value is not None and value != getattr(current, name):
                    changes[name] = value
            if cmd.location is not None:
                located = self._locate(cmd.location)
                if located != current.location:
                    changes["location"] = located
            if "status" in changes and not incident_transition_allowed(current.status, changes["status"]):
                raise CommandError(
                    ErrorCode.INVALID_TRANSITION,
                    f"incident {current.id} cannot go from {current.status} to {changes['status']}",
                )
            if "status" in changes and changes["status"] in (_S.CLOSED, _S.CANCELLED):
                raise CommandError(
                    ErrorCode.INVALID_TRANSITION, "close or cancel with incident.close / incident.cancel"
                )
            if "priority" in changes and changes["priority"] not in self.policy.priorities:
                raise CommandError(ErrorCode.INVALID_FRAME, f"priority {changes['priority']} is not in the policy")
            now = now_ms()
            updated = _replace(current, **changes, updated_at=now, updated_by=who.user)
            plan = self.bus.plan().check(INCIDENTS, current.id, version)
            detail = ", ".join(f"{k}={_show(changes[k])}" for k in sorted(changes))
            entry = self._entry(plan, updated, now, who.user, "updated", detail)
            self._store(plan, updated)
            if "priority" in changes and updated.status in _WAITING:
                since = updated.created_at if updated.status == _S.PENDING else now
                schedule_unassigned(plan, self.bus, self.policy, updated, since)
            plan.emit(
                INCIDENTS,
                IncidentUpdated(ts=now, by=who.user, incident=updated, changed=sorted(changes), entry=entry),
            )
            offset, _ = (await self.bus.apply(plan))[-1]
            return INCIDENTS.name, offset, None

        return await self.live.retrying(attempt, f"incident {cmd.incident}")

    async def assign(self, who: Principal, cmd: IncidentAssign) -> Reply:
        async def attempt() -> Reply:
            incident, iv = await self.live.incident(cmd.incident)
            unit, uv = await self.live.unit(cmd.unit)
            if any(a.unit == unit.id and a.cleared_at is None for a in incident.units):
                raise CommandError(ErrorCode.INVALID_TRANSITION, f"{unit.id} is already on {incident.id}")
            now = now_ms()
            plan = self.bus.plan().check(INCIDENTS, incident.id, iv).check(UNITS, unit.id, uv)
            pulled_from, left = None, ""
            if cmd.from_incident is not None:
                left = await self._pull(plan, who, incident, unit, cmd.from_incident, now)
                pulled_from = cmd.from_incident
            elif unit.incident is not None and unit.incident != incident.id:
                raise CommandError(
                    ErrorCode.INVALID_TRANSITION, f"{unit.id} is on {unit.incident}: clear it before assigning"
                )
            elif availability_of(self.policy, unit.status) == Availability.NOT_AVAILABLE:
                where = f" on {unit.incident}" if unit.incident else ""
                raise CommandError(
                    ErrorCode.INVALID_TRANSITION, f"{unit.id} is {unit.status}{where}: clear it before assigning"
                )
            has_primary = any(a.primary and a.cleared_at is None for a in incident.units)
            primary = cmd.primary or not has_primary
            assignments = [_replace(a, primary=False) if primary and a.primary else a for a in incident.units]
            assignments.append(Assignment(unit=unit.id, assigned_at=now, assigned_by=who.user, primary=primary))
            status = _S.ASSIGNED if incident.status in _WAITING else incident.status
            updated = _replace(
                incident,
                units=assignments,
                status=status,
                updated_at=now,
                updated_by=who.user,
                first_dispatch_at=incident.first_dispatch_at or now,
            )
            sent = enter_status(self.policy, unit, CoreUnitStatus.DISPATCHED, at=now, by=who.user, call=incident.id)
            pulled = f", pulled from {pulled_from}" if pulled_from else ""
            entry = self._entry(
                plan,
                updated,
                now,
                who.user,
                "assigned",
                f"{unit.id}{' (primary)' if primary else ''} dispatched{pulled}",
                unit=unit.id,
            )
            sent = restart_unit_timers(plan, self.bus, self.policy, sent, incident)
            plan.cancel_timer(unassigned_timer(incident.id))
            await self._resolve_alarm(plan, f"unassigned:{incident.id}", who.user, now)
            self._store(plan, updated)
            ours = len(plan.topics)  # a pull emitted the other call's event first
            plan.emit(
                INCIDENTS,
                IncidentUpdated(ts=now, by=who.user, incident=updated, changed=["status", "units"], entry=entry),
            )
            status_entered(plan, unit, sent)
            results = await self.bus.apply(plan)
            result = {"incident": incident.id, "unit": unit.id, "primary": "yes" if primary else "no"}
            if pulled_from:
                result["pulled_from"] = pulled_from
            if left:
                result["left"] = left
            return INCIDENTS.name, results[ours][0], result

        # Coverage is judged before the unit leaves: the warning says what sending it does.
        all_units = await self.live.all_units()
        warnings = coverage_warnings(self.policy, all_units, cmd.unit)
        topic, offset, result = await self.live.retrying(attempt, f"incident {cmd.incident}")
        if result is not None and result.get("left"):
            warnings.append(result.pop("left"))
        if warnings and result is not None:
            result["warning"] = "; ".join(warnings)
        return topic, offset, result

    async def unassign(self, who: Principal, cmd: IncidentUnassign) -> Reply:
        async def attempt() -> Reply:
            incident, iv = await self.live.incident(cmd.incident)
            if not any(a.unit == cmd.unit and a.cleared_at is None for a in incident.units):
                raise CommandError(ErrorCode.NOT_FOUND, f"{cmd.unit} is not on {incident.id}")
            now = now_ms()
            plan = self.bus.plan().check(INCIDENTS, incident.id, iv)
            self._take_off(
                plan, who, incident, cmd.unit, now, f"{cmd.unit} taken off{': ' + cmd.reason if cmd.reason else ''}"
            )
            await self._release_units(plan, who, [cmd.unit], incident.id, now)
            return INCIDENTS.name, (await self.bus.apply(plan))[0][0], None

        return await self.live.retrying(attempt, f"incident {cmd.incident}")

    def _take_off(
        self, plan: Plan, who: Principal, incident: Incident, unit_id: str, now: int, detail: str
    ) -> Incident:
        """Clear a unit's assignment on an incident (in ``plan``); with none left it waits again."""
        units = [
            _replace(a, cleared_at=now, primary=False) if a.unit == unit_id and a.cleared_at is None else a
            for a in incident.units
        ]
        active = [a for a in units if a.cleared_at is None]
        if active and not any(a.primary for a in active):
            units = [_replace(a, primary=True) if a is active[0] else a for a in units]
        status = incident.status if active else _S.PENDING
        updated = _replace(incident, units=units, status=status, updated_at=now, updated_by=who.user)
        entry = self._entry(plan, updated, now, who.user, "unassigned", detail, unit=unit_id)
        if not active:
            schedule_unassigned(plan, self.bus, self.policy, updated, now)
        self._store(plan, updated)
        plan.emit(
            INCIDENTS,
            IncidentUpdated(ts=now, by=who.user, incident=updated, changed=["units", "status"], entry=entry),
        )
        return updated

    async def _pull(self, plan: Plan, who: Principal, to: Incident, unit: UnitState, from_id: str, now: int) -> str:
        """A reassignment: take ``unit`` off ``from_id`` (a call of lower priority than ``to``) in ``plan``.
        Returns what the dispatcher should know of the call it leaves ("" if it still has units)."""
        if unit.incident != from_id:
            where = f"on {unit.incident}" if unit.incident else "on no call"
            raise CommandError(ErrorCode.INVALID_TRANSITION, f"{unit.id} is {where}, not {from_id}")
        if unit.status == CoreUnitStatus.EMERGENCY:
            raise CommandError(ErrorCode.INVALID_TRANSITION, f"{unit.id} is in an emergency: it cannot be pulled")
        source, sv = await self.live.incident(from_id)
        if source.priority <= to.priority:
            raise CommandError(
                ErrorCode.INVALID_TRANSITION,
                f"{unit.id} is on P{source.priority} {from_id}: only a unit on a lower-priority call can be "
                f"pulled to this P{to.priority}; clear it first",
            )
        plan.check(INCIDENTS, from_id, sv)
        left = self._take_off(plan, who, source, unit.id, now, f"{unit.id} pulled to P{to.priority} {to.id}")
        if not any(a.cleared_at is None for a in left.units):
            return f"{from_id} (P{source.priority}) waits again with no unit"
        return ""

    async def _release_units(self, plan: Plan, who: Principal, unit_ids: list[str], incident_id: str, now: int) -> None:
        """Units leaving an incident become available (if they were on it)."""
        for unit, version in await self.live.units(unit_ids):
            if unit is None or unit.incident != incident_id:
                continue
            freed = enter_status(self.policy, unit, CoreUnitStatus.AVAILABLE, at=now, by=who.user, call=None)
            freed = restart_unit_timers(plan, self.bus, self.policy, freed, None)
            plan.check(UNITS, unit.id, version)
            status_entered(plan, unit, freed)

    async def _finish(
        self, who: Principal, incident_id: str, status: str, action: str, detail: str, **fields: Any
    ) -> Reply:
        """Close or cancel: clear the units, stop the timers, leave the live board."""

        async def attempt() -> Reply:
            incident, iv = await self.live.incident(incident_id)
            if not incident_transition_allowed(incident.status, status):
                raise CommandError(ErrorCode.INVALID_TRANSITION, f"incident {incident.id} is {incident.status}")
            now = now_ms()
            active = [a.unit for a in incident.units if a.cleared_at is None]
            units = [_replace(a, cleared_at=now) if a.cleared_at is None else a for a in incident.units]
            done = _replace(
                incident, status=status, units=units, closed_at=now, updated_at=now, updated_by=who.user, **fields
            )
            plan = self.bus.plan().check(INCIDENTS, incident.id, iv)
            entry = self._entry(plan, done, now, who.user, action, detail)
            plan.cancel_timer(unassigned_timer(incident.id))
            await self._resolve_alarm(plan, f"unassigned:{incident.id}", who.user, now)
            self._store(plan, done)
            plan.emit(
                INCIDENTS,
                IncidentUpdated(ts=now, by=who.user, incident=done, changed=["status"], entry=entry),
            )
            await self._release_units(plan, who, active, incident.id, now)
            return INCIDENTS.name, (await self.bus.apply(plan))[0][0], None

        return await self.live.retrying(attempt, f"incident {incident_id}")

    async def close(self, who: Principal, cmd: IncidentClose) -> Reply:
        if cmd.disposition not in self.policy.dispositions.codes:
            raise CommandError(
                ErrorCode.INVALID_FRAME, f"disposition must be one of: {', '.join(self.policy.dispositions.codes)}"
            )
        detail = cmd.disposition + (f": {cmd.note}" if cmd.note else "")
        return await self._finish(
            who, cmd.incident, _S.CLOSED, "closed", detail, disposition=cmd.disposition, closing_note=cmd.note
        )

    async def cancel(self, who: Principal, cmd: IncidentCancel) -> Reply:
        return await self._finish(
            who, cmd.incident, _S.CANCELLED, "cancelled", cmd.reason, disposition="cancelled", cancel_reason=cmd.reason
        )

    async def reopen(self, who: Principal, cmd: IncidentReopen, archived: Incident | None) -> Reply:
        """Bring a closed or cancelled call back to the board, from the records store."""

        async def attempt() -> Reply:
            live, version = await self.live.incident_or_none(cmd.incident)
            if live is not None:
                raise CommandError(ErrorCode.INVALID_TRANSITION, f"incident {live.id} is {live.status}, not closed")
            if archived is None:
                raise CommandError(ErrorCode.NOT_FOUND, f"no incident {cmd.incident}")
            if archived.closed_at is None or not incident_transition_allowed(archived.status, _S.REOPENED):
                # The close is not in the records store yet: do not bring back the older copy.
                raise CommandError(ErrorCode.CONFLICT, f"incident {cmd.incident} is still being recorded; try again")
            now = now_ms()
            units = [_replace(a, cleared_at=a.cleared_at or now, primary=False) for a in archived.units]
            back = _replace(
                archived,
                status=_S.REOPENED,
                closed_at=None,
                disposition=None,
                units=units,
                updated_at=now,
                updated_by=who.user,
            )
            plan = self.bus.plan().check(INCIDENTS, archived.id, version)
            entry = self._entry(plan, back, now, who.user, "reopened", cmd.reason)
            schedule_unassigned(plan, self.bus, self.policy, back, now)
            self._store(plan, back)
            plan.emit(INCIDENTS, IncidentUpdated(ts=now, by=who.user, incident=back, changed=["status"], entry=entry))
            return INCIDENTS.name, (await self.bus.apply(plan))[0][0], None

        return await self.live.retrying(attempt, f"incident {cmd.incident}")

    async def merge(self, who: Principal, cmd: IncidentMerge) -> Reply:
        """Close a duplicate into the call it duplicates; its active units move over."""
        if cmd.incident == cmd.into:
            raise CommandError(ErrorCode.INVALID_TRANSITION, "an incident cannot be merged into itself")

        async def attempt() -> Reply:
            dup, dv = await self.live.incident(cmd.incident)
            into, tv = await self.live.incident(cmd.into)
            now = now_ms()
            moving = [
                a
                for a in dup.units
                if a.cleared_at is None and not any(b.unit == a.unit and b.cleared_at is None for b in into.units)
            ]
            closed = _replace(
                dup,
                status=_S.CLOSED,
                disposition="duplicate",
                merged_into=into.id,
                closed_at=now,
                updated_at=now,
                updated_by=who.user,
                units=[_replace(a, cleared_at=now) if a.cleared_at is None else a for a in dup.units],
            )
            moved = [_replace(a, primary=False, assigned_at=now, assigned_by=who.user) for a in moving]
            kept = _replace(
                into,
                units=[*into.units, *moved],
                linked=sorted({*into.linked, dup.id}),
                updated_at=now,
                updated_by=who.user,
            )
            if moved and not any(a.primary and a.cleared_at is None for a in kept.units):
                first = next(a for a in kept.units if a.cleared_at is None)
                kept = _replace(kept, units=[_replace(a, primary=True) if a is first else a for a in kept.units])
            if moved and kept.status in _WAITING:
                kept = _replace(kept, status=_S.ASSIGNED, first_dispatch_at=kept.first_dispatch_at or now)
            plan = self.bus.plan().check(INCIDENTS, dup.id, dv).check(INCIDENTS, into.id, tv)
            e1 = self._entry(plan, closed, now, who.user, "merged", f"duplicate of {into.id}")
            e2 = self._entry(
                plan,
                kept,
                now,
                who.user,
                "merged",
                f"{dup.id} merged in" + (f"; units {', '.join(a.unit for a in moved)} moved" if moved else ""),
            )
            plan.cancel_timer(unassigned_timer(dup.id))
            await self._resolve_alarm(plan, f"unassigned:{dup.id}", who.user, now)
            if moved:
                plan.cancel_timer(unassigned_timer(into.id))
                await self._resolve_alarm(plan, f"unassigned:{into.id}", who.user, now)
            self._store(plan, closed)
            self._store(plan, kept)
            plan.emit(
                INCIDENTS,
                IncidentUpdated(ts=now, by=who.user, incident=closed, changed=["status", "merged_into"], entry=e1),
            )
            plan.emit(
                INCIDENTS,
                IncidentUpdated(ts=now, by=who.user, incident=kept, changed=["linked", "units"], entry=e2),
            )
            for unit, version in await self.live.units([a.unit for a in moved]):
                if unit is not None and unit.incident == dup.id:
                    plan.check(UNITS, unit.id, version)
                    follow = _replace(unit, incident=into.id, updated_by=who.user)
                    plan.write(UNITS, unit.id, follow)
                    plan.emit(UNITS, UnitStatusChanged(ts=now, by=who.user, unit=follow, previous=unit.status))
            return INCIDENTS.name, (await self.bus.apply(plan))[0][0], {"incident": into.id}

        return await self.live.retrying(attempt, f"incidents {cmd.incident} and {cmd.into}")

    async def link(self, who: Principal, cmd: IncidentLink) -> Reply:
        if cmd.incident == cmd.other:
            raise CommandError(ErrorCode.INVALID_TRANSITION, "an incident cannot be linked to itself")

        async def attempt() -> Reply:
            a, av = await self.live.incident(cmd.incident)
            b, bv = await self.live.incident(cmd.other)
            now = now_ms()
            plan = self.bus.plan().check(INCIDENTS, a.id, av).check(INCIDENTS, b.id, bv)
            for this, other in ((a, b), (b, a)):
                linked = _replace(this, linked=sorted({*this.linked, other.id}), updated_at=now, updated_by=who.user)
                entry = self._entry(plan, linked, now, who.user, "linked", f"linked with {other.id}")
                self._store(plan, linked)
                plan.emit(
                    INCIDENTS,
                    IncidentUpdated(ts=now, by=who.user, incident=linked, changed=["linked"], entry=entry),
                )
            return INCIDENTS.name, (await self.bus.apply(plan))[0][0], None

        return await self.live.retrying(attempt, f"incidents {cmd.incident} and {cmd.other}")

    async def note(self, who: Principal, cmd: IncidentNote) -> Reply:
        async def attempt() -> Reply:
            incident, version = await self.live.incident(cmd.incident)
            now = now_ms()
            touched = _replace(incident, updated_at=now, updated_by=who.user)
            plan = self.bus.plan().check(INCIDENTS, incident.id, version)
            action = "observation" if cmd.source == "cctv" else "note"
            entry = self._entry(plan, touched, now, who.user, action, f"{cmd.source}: {cmd.text}")
            self._store(plan, touched)
            plan.emit(INCIDENTS, IncidentUpdated(ts=now, by=who.user, incident=touched, changed=[], entry=entry))
            return INCIDENTS.name, (await self.bus.apply(plan))[0][0], None

        return await self.live.retrying(attempt, f"incident {cmd.incident}")

    async def request_police(self, who: Principal, cmd: IncidentPolice) -> Reply:
        """Police support for a call (no alarm needed): a timeline line, and the supervisors told."""

        async def attempt() -> Reply:
            incident, version = await self.live.incident(cmd.incident)
            now = now_ms()
            touched = _replace(incident, updated_at=now, updated_by=who.user)
            plan = self.bus.plan().check(INCIDENTS, incident.id, version)
            detail = f"police support requested by {who.user}" + (f": {cmd.note}" if cmd.note else "")
            entry = self._entry(plan, touched, now, who.user, "police_requested", detail)
            self._store(plan, touched)
            plan.emit(INCIDENTS, IncidentUpdated(ts=now, by=who.user, incident=touched, changed=[], entry=entry))
            text = (
                f"Police support requested for {incident.id} (P{incident.priority} {incident.call_type}) by {who.user}"
            )
            note = Notified(
                ts=now,
                by=who.user,
                role="supervisor",
                text=text + (f": {cmd.note}" if cmd.note else ""),
                incident=incident.id,
            )
            plan.emit(ALARMS, note)
            return INCIDENTS.name, (await self.bus.apply(plan))[0][0], None

        return await self.live.retrying(attempt, f"incident {cmd.incident}")

    async def recommend(self, who: Principal, cmd: Recommend) -> Recommendation:
        incident, _ = await self.live.incident(cmd.incident)
        return await self.recommend_near(
            incident.id,
            incident.location.lat,
            incident.location.lon,
            incident.needs,
            exclude={a.unit for a in incident.units if a.cleared_at is None},
            priority=incident.priority,
        )

    async def recommend_near(
        self,
        label: str,
        lat: float | None,
        lon: float | None,
        needs: list[str],
        exclude: set[str],
        priority: int | None = None,
    ) -> Recommendation:
        """Available units by distance that have what the call needs, and the coverage they leave;
        with the call's ``priority``, also the units on less urgent calls that could be pulled."""
        units = [u for u in await self.live.all_units() if u.id not in exclude]
        positions = await self.live.positions([u.id for u in units])
        now = now_ms()
        candidates = []
        for u in units:
            pos = positions.get(u.id)
            located = lat is not None and lon is not None and pos is not None
            dist = distance_m(lat, lon, pos.lat, pos.lon) if located else None  # type: ignore[arg-type,union-attr]
            candidates.append(Candidate(u, pos, dist))
        ranked = rank_units(self.policy, candidates, needs, now)
        pullable = []
        if priority is not None:
            on = sorted({u.incident for u in units if u.incident is not None})
            calls = await self.live.incidents(on)
            priority_of = {i.id: i.priority for i in calls if i is not None}
            pullable = pullable_units(self.policy, candidates, needs, priority, priority_of)
        warnings = coverage_warnings(self.policy, units, ranked[0].unit) if ranked else []
        if not ranked:
            warnings.append("no available unit has what this call needs" if needs else "no available unit")
        if lat is None:
            warnings.append("the call has no location: units are not ranked by distance")
        return Recommendation(incident=label, units=ranked, warnings=warnings, pullable=pullable)


def _show(value: Any) -> str:
    if isinstance(value, Location):
        return value.address or f"{value.lat},{value.lon}"
    return str(value)[:80]
