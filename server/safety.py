"""OfficerSafety: panic alarms that latch, acknowledgement, cancel with reason,
police support requests, and emergency-traffic-only mode."""

from __future__ import annotations

import msgspec

from protocol.codes import ErrorCode
from protocol.events import AlarmRaised, AlarmUpdated, Notified, RadioLogged, TrafficModeChanged
from protocol.messages import AlarmAcknowledge, AlarmCancel, AlarmPolice, TrafficEmergency, UnitPanic
from protocol.state import Alarm, RadioEntry, TrafficMode
from server.auth import Principal, Role
from server.incidents import IncidentDesk
from server.live import ALARMS, RADIO, TRAFFIC_MODE_ID, CommandError, Live, now_ms

__all__ = ["OfficerSafety"]

Reply = tuple[str, str, dict[str, str] | None]
_replace = msgspec.structs.replace


class OfficerSafety:
    def __init__(self, live: Live, incidents: IncidentDesk) -> None:
        self.live = live
        self.bus = live.bus
        self.incidents = incidents

    async def panic(self, who: Principal, cmd: UnitPanic) -> Reply:
        """Raise a latching alarm with the unit's last position and the nearest cover units."""
        unit, _ = await self.live.unit_or_none(cmd.unit)
        position = (await self.live.positions([cmd.unit])).get(cmd.unit)
        cover: list[str] = []
        if position is not None:
            rec = await self.incidents.recommend_near(cmd.unit, position.lat, position.lon, [], exclude={cmd.unit})
            cover = [r.unit for r in rec.units]
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
            cover=cover,
        )
        plan = self.bus.plan().write(ALARMS, alarm.id, alarm)
        plan.emit(ALARMS, AlarmRaised(ts=now, by=who.user, alarm=alarm))
        plan.emit(
            ALARMS,
            Notified(ts=now, by=who.user, role="supervisor", text=f"PANIC {cmd.unit}: {cmd.reason}", alarm=alarm.id),
        )
        plan.emit(
            RADIO,
            RadioLogged(
                ts=now,
                by=who.user,
                entry=RadioEntry(
                    channel="emergency",
                    text=f"PANIC raised by {cmd.unit}: {cmd.reason}",
                    at=now,
                    by=who.user,
                    unit=cmd.unit,
                    incident=alarm.incident,
                ),
            ),
        )
        offset, _ = (await self.bus.apply(plan))[0]
        return ALARMS.name, offset, {"alarm": alarm.id, "cover": ",".join(cover)}

    async def _close_alarm(self, who: Principal, alarm_id: str, state: str, action: str, **fields: object) -> Reply:
        async def attempt() -> Reply:
            alarm, version = await self.live.alarm(alarm_id)
            if state == "cancelled" and who.role is Role.OFFICER and alarm.unit != who.unit:
                raise CommandError(ErrorCode.FORBIDDEN, "an officer may cancel only its own unit's alarm")
            now = now_ms()
            done = _replace(alarm, state=state, **fields)
            if state == "acknowledged":
                done = _replace(done, acked_by=who.user, acked_at=now)
            plan = self.bus.plan().check(ALARMS, alarm.id, version).delete(ALARMS, alarm.id)
            plan.emit(ALARMS, AlarmUpdated(ts=now, by=who.user, alarm=done, action=action))
            return ALARMS.name, (await self.bus.apply(plan))[0][0], None

        return await self.live.retrying(attempt, f"alarm {alarm_id}")

    async def acknowledge(self, who: Principal, cmd: AlarmAcknowledge) -> Reply:
        return await self._close_alarm(who, cmd.alarm, "acknowledged", "acknowledged")

    async def cancel(self, who: Principal, cmd: AlarmCancel) -> Reply:
        return await self._close_alarm(
            who, cmd.alarm, "cancelled", "cancelled", cancelled_by=who.user, cancel_reason=cmd.reason
        )

    async def request_police(self, who: Principal, cmd: AlarmPolice) -> Reply:
        """Log a request for police support and notify the supervisors; the alarm stays up."""

        async def attempt() -> Reply:
            alarm, version = await self.live.alarm(cmd.alarm)
            now = now_ms()
            asked = _replace(alarm, police_requested_by=who.user, police_requested_at=now)
            text = f"Police support requested for {alarm.unit or alarm.id} by {who.user}" + (
                f": {cmd.note}" if cmd.note else ""
            )
            plan = self.bus.plan().check(ALARMS, alarm.id, version).write(ALARMS, alarm.id, asked)
            plan.emit(ALARMS, AlarmUpdated(ts=now, by=who.user, alarm=asked, action="police_requested"))
            plan.emit(ALARMS, Notified(ts=now, by=who.user, role="supervisor", text=text, alarm=alarm.id))
            plan.emit(
                RADIO,
                RadioLogged(
                    ts=now,
                    by=who.user,
                    entry=RadioEntry(
                        channel="emergency", text=text, at=now, by=who.user, unit=alarm.unit, incident=alarm.incident
                    ),
                ),
            )
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
