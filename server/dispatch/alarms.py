"""OfficerSafety: panic alarms that latch, acknowledgement, cancel with reason,
police support requests, and emergency-traffic-only mode."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from typing import Any

import msgspec
from redis.exceptions import RedisError

from protocol.codes import ErrorCode
from protocol.events import AlarmRaised, AlarmUpdated, Notified, RadioLogged, TrafficModeChanged
from protocol.messages import AlarmAcknowledge, AlarmCancel, AlarmPolice, TrafficEmergency, UnitPanic
from protocol.state import TRAFFIC_MODE_ID, Alarm, CoreUnitStatus, Position, RadioEntry, TrafficMode
from server.access.roles import Principal, Role
from server.bus.log import Duplicate, Plan, Unconfirmed
from server.dispatch.incidents import IncidentDesk
from server.dispatch.live import (
    ALARMS,
    RADIO,
    UNITS,
    CommandError,
    Live,
    Reply,
    _alarm,
    now_ms,
    status_entered,
)
from server.dispatch.rules import enter_status
from server.dispatch.timers import restart_unit_timers

__all__ = ["OfficerSafety"]

_replace = msgspec.structs.replace
log = logging.getLogger("dispatch.safety")
_alarm_or_mode = msgspec.msgpack.Decoder(Alarm | TrafficMode)
EMERGENCY = CoreUnitStatus.EMERGENCY


class OfficerSafety:
    def __init__(self, live: Live, incidents: IncidentDesk) -> None:
        self.live = live
        self.bus = live.bus
        self.incidents = incidents
        self._covering: set[asyncio.Task[list[str]]] = set()

    async def panic(self, who: Principal, cmd: UnitPanic) -> Reply:
        """Raise a latching alarm with the unit's last position at once; the unit goes to
        emergency (it stays on its call and is not offered for others). The nearest cover
        units follow as ``alarm.updated`` (``cover``): the alarm never waits on a search of
        the whole fleet, and a failing search cannot hold it back."""
        position = (await self.live.positions([cmd.unit])).get(cmd.unit)

        async def attempt() -> Reply:
            unit, version = await self.live.unit_or_none(cmd.unit)
            now = now_ms()
            alarm = Alarm(
                id=f"panic:{cmd.unit}:{now}",
                unit=cmd.unit,
                reason=cmd.reason,
                raised_at=now,
                raised_by=who.user,
                position=position,
                alarm="panic",
                latching=True,
                incident=unit.incident if unit else None,
                previous_status=unit.status if unit is not None and unit.status != EMERGENCY else "",
            )
            plan = self.bus.plan().write(ALARMS, alarm.id, alarm)
            plan.emit(ALARMS, AlarmRaised(ts=now, by=who.user, alarm=alarm))
            plan.emit(
                ALARMS,
                Notified(
                    ts=now, by=who.user, role="supervisor", text=f"PANIC {cmd.unit}: {cmd.reason}", alarm=alarm.id
                ),
            )
            self._log(
                plan, now, who.user, "emergency", f"PANIC raised by {cmd.unit}: {cmd.reason}", cmd.unit, alarm.incident
            )
            if unit is not None and unit.status != EMERGENCY:
                # Its timers run on: the alarm is the escalation now.
                distress = enter_status(self.live.policy, unit, EMERGENCY, at=now, by=who.user)
                plan.check(UNITS, unit.id, version)
                status_entered(plan, unit, distress)
            offset, _ = (await self.bus.apply(plan))[0]
            return ALARMS.name, offset, {"alarm": alarm.id}

        # A panic must get through: retry as long as it takes the unit record to hold still.
        try:
            topic, offset, detail = await self.live.retrying(attempt, f"panic for {cmd.unit}", tries=50)
        except Duplicate as dup:
            # A resent press (its answer was lost): the alarm is up; make sure its cover follows
            # (a no-op when the first press's cover went on already).
            with contextlib.suppress(RedisError):
                raised = await self.live.event_at(ALARMS, dup.offset)
                if isinstance(raised, AlarmRaised):
                    await self._cover(raised.alarm.id, cmd.unit, raised.alarm.position)
            raise
        alarm_id = (detail or {})["alarm"]
        cover = await self._cover(alarm_id, cmd.unit, position)
        return topic, offset, {"alarm": alarm_id, "cover": ",".join(cover)}

    async def _cover(self, alarm_id: str, unit_id: str, position: Position | None) -> list[str]:
        # Its own task, outside the command (a fresh context carries no idempotency key), and
        # shielded: an officer whose connection drops right after the press still gets cover.
        task = asyncio.create_task(self._send_cover(alarm_id, unit_id, position), context=contextvars.Context())
        self._covering.add(task)
        task.add_done_callback(self._covering.discard)
        return await asyncio.shield(task)

    async def settle(self, timeout: float) -> None:
        """Let cover searches under way finish (on shutdown, before the store closes)."""
        if self._covering:
            await asyncio.wait(set(self._covering), timeout=timeout)

    async def _send_cover(self, alarm_id: str, unit_id: str, position: Position | None) -> list[str]:
        """Put the nearest available units on a raised alarm (best effort: the alarm is out already)."""
        if position is None:
            return []
        try:
            rec = await self.incidents.recommend_near(unit_id, position.lat, position.lon, [], exclude={unit_id})
            cover = [r.unit for r in rec.units]
            if not cover:
                return []

            async def attempt() -> None:
                alarm, version = await self.live.alarm(alarm_id)
                if alarm.state != "active" or alarm.cover:
                    return
                now = now_ms()
                covered = _replace(alarm, cover=cover)
                plan = self.bus.plan().check(ALARMS, alarm.id, version).write(ALARMS, alarm.id, covered)
                plan.emit(ALARMS, AlarmUpdated(ts=now, by="system", alarm=covered, action="cover"))
                await self.bus.apply(plan)

            await self.live.retrying(attempt, f"cover for {alarm_id}", tries=50)
            return cover
        except CommandError as exc:  # closed meanwhile (nothing to add to), or it kept changing
            log.info("no cover added to %s: %s", alarm_id, exc)
        except Unconfirmed:  # added on the primary; no replica said so in time
            log.warning("cover %s added to %s, not yet on a replica", cover, alarm_id)
            return cover
        except Exception:
            log.exception("cover units for %s could not be found; the alarm stands without them", alarm_id)
        return []

    async def missed_check_in(self, unit_id: str) -> None:
        """A missed check-in is a panic: its alarm (raised by the timer) gets the unit's last
        position and cover units, the unit goes to emergency, and it goes on the radio log."""
        position = (await self.live.positions([unit_id])).get(unit_id)
        cover: list[str] = []
        if position is not None:
            rec = await self.incidents.recommend_near(unit_id, position.lat, position.lon, [], exclude={unit_id})
            cover = [r.unit for r in rec.units]

        async def attempt() -> None:
            raws: Any = await self.live.redis.hgetall(self.live.bus.keys(ALARMS).state)
            missed = [
                a
                for a in (_alarm_or_mode.decode(r) for r in raws.values())
                if isinstance(a, Alarm)
                and a.alarm == "welfare_missed"
                and a.unit == unit_id
                and a.state == "active"
                and a.position is None
            ]
            if not missed:
                return
            alarm = missed[0]
            ((_, alarm_version),) = await self.live._read(ALARMS, [alarm.id])
            unit, unit_version = await self.live.unit_or_none(unit_id)
            now = now_ms()
            detailed = _replace(alarm, position=position, cover=cover)
            plan = self.bus.plan().check(ALARMS, alarm.id, alarm_version).write(ALARMS, alarm.id, detailed)
            plan.emit(ALARMS, AlarmUpdated(ts=now, by="system", alarm=detailed, action="located"))
            text = f"MISSED CHECK-IN {unit_id}: treat as officer in distress"
            self._log(plan, now, "system", "emergency", text, unit_id, alarm.incident)
            if unit is not None and unit.status != EMERGENCY:
                # No contact: the officer did not answer. Its timers run on (one of them raised this).
                distress = enter_status(self.live.policy, unit, EMERGENCY, at=now, by="system", contact=False)
                plan.check(UNITS, unit.id, unit_version)
                status_entered(plan, unit, distress)
            await self.bus.apply(plan)

        await self.live.retrying(attempt, f"missed check-in of {unit_id}", tries=50)

    def _log(
        self, plan: Plan, now: int, by: str, channel: str, text: str, unit: str | None, incident: str | None
    ) -> None:
        entry = RadioEntry(channel=channel, text=text, at=now, by=by, unit=unit, incident=incident)
        plan.emit(RADIO, RadioLogged(ts=now, by=by, entry=entry))

    async def _close_alarm(self, who: Principal, alarm_id: str, state: str, action: str, **fields: object) -> Reply:
        async def attempt() -> Reply:
            alarm, version = await self.live.alarm(alarm_id)
            if state == "cancelled" and who.role is Role.OFFICER and (alarm.unit != who.unit or alarm.alarm != "panic"):
                raise CommandError(ErrorCode.FORBIDDEN, "an officer may cancel only its own unit's panic")
            now = now_ms()
            done = _replace(alarm, state=state, **fields)
            if state == "acknowledged":
                done = _replace(done, acked_by=who.user, acked_at=now)
            plan = self.bus.plan().check(ALARMS, alarm.id, version).delete(ALARMS, alarm.id)
            plan.emit(ALARMS, AlarmUpdated(ts=now, by=who.user, alarm=done, action=action))
            if state == "cancelled" and alarm.unit and alarm.previous_status:
                # A false alarm: the unit goes back to what it was doing.
                unit, unit_version = await self.live.unit_or_none(alarm.unit)
                if unit is not None and unit.status == EMERGENCY:
                    back = enter_status(self.live.policy, unit, alarm.previous_status, at=now, by=who.user)
                    call = (await self.live.incident_or_none(unit.incident))[0] if unit.incident else None
                    back = restart_unit_timers(plan, self.bus, self.live.policy, back, call)
                    plan.check(UNITS, unit.id, unit_version)
                    status_entered(plan, unit, back)
            return ALARMS.name, (await self.bus.apply(plan))[0][0], None

        return await self.live.retrying(attempt, f"alarm {alarm_id}")

    async def acknowledge(self, who: Principal, cmd: AlarmAcknowledge) -> Reply:
        return await self._close_alarm(who, cmd.alarm, "acknowledged", "acknowledged")

    async def cancel(self, who: Principal, cmd: AlarmCancel) -> Reply:
        return await self._close_alarm(
            who, cmd.alarm, "cancelled", "cancelled", cancelled_by=who.user, cancel_reason=cmd.reason
        )

    async def request_police(self, who: Principal, cmd: AlarmPolice, archived: Alarm | None = None) -> Reply:
        """Log a request for police support and notify the supervisors. Works on an active alarm
        (it stays up) and on one already acknowledged (the request is logged against it)."""

        async def attempt() -> Reply:
            ((raw, version),) = await self.live._read(ALARMS, [cmd.alarm])
            alarm = _alarm.decode(raw) if raw is not None else archived
            if alarm is None:
                raise CommandError(ErrorCode.NOT_FOUND, f"no alarm {cmd.alarm}")
            if raw is None and alarm.state == "active":
                # Closed a moment ago and not in the records store yet: do not bring back the older copy.
                raise CommandError(ErrorCode.CONFLICT, f"alarm {cmd.alarm} is still being recorded; try again")
            now = now_ms()
            asked = _replace(alarm, police_requested_by=who.user, police_requested_at=now)
            text = f"Police support requested for {alarm.unit or alarm.id} by {who.user}" + (
                f": {cmd.note}" if cmd.note else ""
            )
            plan = self.bus.plan().check(ALARMS, alarm.id, version)
            if raw is not None:
                plan.write(ALARMS, alarm.id, asked)
            plan.emit(ALARMS, AlarmUpdated(ts=now, by=who.user, alarm=asked, action="police_requested"))
            plan.emit(ALARMS, Notified(ts=now, by=who.user, role="supervisor", text=text, alarm=alarm.id))
            self._log(plan, now, who.user, "emergency", text, alarm.unit, alarm.incident)
            return ALARMS.name, (await self.bus.apply(plan))[0][0], None

        return await self.live.retrying(attempt, f"alarm {cmd.alarm}")

    async def emergency_traffic(self, who: Principal, cmd: TrafficEmergency) -> Reply:
        async def attempt() -> Reply:
            current, version = await self.live.traffic_mode()
            now = now_ms()
            mode = TrafficMode(emergency_only=cmd.on, set_by=who.user, set_at=now, unit=cmd.unit, reason=cmd.reason)
            plan = self.bus.plan().check(ALARMS, TRAFFIC_MODE_ID, version)
            if cmd.on:
                plan.write(ALARMS, TRAFFIC_MODE_ID, mode)
            elif current is not None:
                plan.delete(ALARMS, TRAFFIC_MODE_ID)
            else:
                raise CommandError(ErrorCode.INVALID_TRANSITION, "emergency traffic is not on")
            plan.emit(ALARMS, TrafficModeChanged(ts=now, by=who.user, mode=mode))
            text = (
                f"EMERGENCY TRAFFIC ONLY{' for ' + cmd.unit if cmd.unit else ''}"
                if cmd.on
                else "Emergency traffic cleared: resume normal traffic"
            )
            plan.emit(
                RADIO,
                RadioLogged(
                    ts=now,
                    by=who.user,
                    entry=RadioEntry(
                        channel="main",
                        text=text + (f" ({cmd.reason})" if cmd.reason else ""),
                        at=now,
                        by=who.user,
                        unit=cmd.unit,
                    ),
                ),
            )
            return ALARMS.name, (await self.bus.apply(plan))[0][0], None

        return await self.live.retrying(attempt, "emergency traffic mode")
