"""Timers: unassigned calls, units too long in one status, welfare check-ins.

A timer is a plan stored in Redis with its due time; whichever hub's poll
claims it applies it in the same atomic step, so it fires exactly once. What
a timer does is fixed when it is set: raise an alarm record and its event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import msgspec
from redis.exceptions import RedisError

from protocol.events import AlarmRaised, Notified
from protocol.state import Alarm, AlarmKind, Incident, UnitState
from server.agency.policy import Policy
from server.bus.log import Bus, Plan
from server.bus.stopping import StopSignal
from server.dispatch.live import ALARMS
from server.dispatch.rules import status_limit_s, welfare_deadlines

__all__ = [
    "TimerService",
    "restart_unit_timers",
    "schedule_status",
    "schedule_unassigned",
    "schedule_welfare",
    "status_timer",
    "unassigned_timer",
    "welfare_critical_timer",
    "welfare_warn_timer",
]

log = logging.getLogger("dispatch.timers")


def unassigned_timer(incident_id: str) -> str:
    return f"unassigned:{incident_id}"


def status_timer(unit_id: str) -> str:
    return f"status:{unit_id}"


def welfare_warn_timer(unit_id: str) -> str:
    return f"welfare-warn:{unit_id}"


def welfare_critical_timer(unit_id: str) -> str:
    return f"welfare-critical:{unit_id}"


def _system_alarm(
    alarm_id: str, kind: AlarmKind, unit: str | None, incident: str | None, reason: str, at: int, latching: bool = False
) -> Alarm:
    return Alarm(
        id=alarm_id,
        unit=unit,
        incident=incident,
        alarm=kind,
        latching=latching,
        reason=reason,
        raised_at=at,
        raised_by="system",
    )


def _raise(bus: Bus, alarm: Alarm, notify_supervisor: str | None = None) -> Plan:
    plan = (
        bus.plan()
        .write(ALARMS, alarm.id, alarm)
        .emit(ALARMS, AlarmRaised(ts=alarm.raised_at, by="system", alarm=alarm))
    )
    if notify_supervisor:
        plan.emit(
            ALARMS,
            Notified(ts=alarm.raised_at, by="system", role="supervisor", text=notify_supervisor, alarm=alarm.id),
        )
    return plan


def schedule_unassigned(plan: Plan, bus: Bus, policy: Policy, incident: Incident, since_ms: int) -> None:
    """Alarm if the call is still unassigned past its priority's limit (replaces an earlier timer)."""
    limit = policy.priority(incident.priority).unassigned_alarm_s
    plan.cancel_timer(unassigned_timer(incident.id))
    if limit <= 0:
        return
    due = since_ms + limit * 1000
    reason = f"P{incident.priority} {incident.call_type} waiting unassigned over {limit}s"
    alarm = _system_alarm(f"unassigned:{incident.id}", "unassigned", None, incident.id, reason, due)
    plan.timer(unassigned_timer(incident.id), due, _raise(bus, alarm))


def schedule_status(plan: Plan, bus: Bus, policy: Policy, unit: UnitState, incident: Incident | None = None) -> None:
    """Alarm if the unit stays in this status past its limit (replaces an earlier timer)."""
    plan.cancel_timer(status_timer(unit.id))
    limit = status_limit_s(policy, unit.status, incident.priority if incident is not None else None)
    if limit <= 0:
        return
    due = unit.since + limit * 1000
    reason = f"{unit.id} {unit.status} over {limit}s"
    alarm = _system_alarm(f"status:{unit.id}", "status_overdue", unit.id, unit.incident, reason, due)
    plan.timer(status_timer(unit.id), due, _raise(bus, alarm))


def schedule_welfare(plan: Plan, bus: Bus, policy: Policy, unit: UnitState, incident: Incident | None) -> UnitState:
    """Set the unit's check-in timers from its last contact; returns the unit with its deadlines."""
    plan.cancel_timer(welfare_warn_timer(unit.id))
    plan.cancel_timer(welfare_critical_timer(unit.id))
    on_call = incident if incident is not None and unit.incident == incident.id else None
    deadlines = welfare_deadlines(
        policy, unit, on_call.call_type if on_call else None, on_call.priority if on_call else None
    )
    if deadlines is None:
        return msgspec.structs.replace(unit, welfare_warn_at=None, welfare_critical_at=None)
    warn_at, critical_at = deadlines
    warning = _system_alarm(
        f"welfare:{unit.id}", "welfare_warning", unit.id, unit.incident, f"{unit.id} check-in overdue", warn_at
    )
    missed = _system_alarm(
        f"welfare-missed:{unit.id}:{critical_at}",
        "welfare_missed",
        unit.id,
        unit.incident,
        f"{unit.id} missed check-in",
        critical_at,
        latching=True,
    )
    plan.timer(welfare_warn_timer(unit.id), warn_at, _raise(bus, warning))
    plan.timer(
        welfare_critical_timer(unit.id),
        critical_at,
        _raise(bus, missed, notify_supervisor=f"{unit.id} missed a welfare check-in: treat as officer in distress"),
    )
    return msgspec.structs.replace(unit, welfare_warn_at=warn_at, welfare_critical_at=critical_at)


def restart_unit_timers(plan: Plan, bus: Bus, policy: Policy, unit: UnitState, call: Incident | None) -> UnitState:
    """A unit that entered a status (or joined the roster): its welfare timers run from its last
    contact and its status timer from now, by ``call``'s type and priority when it is on one.
    Returns the unit with its check-in deadlines."""
    unit = schedule_welfare(plan, bus, policy, unit, call)
    schedule_status(plan, bus, policy, unit, call)
    return unit


class TimerService:
    """Polls for due timers; each fires on exactly one hub. The hub that fired one
    (and only it) may then do more with it, through ``after_fired``."""

    def __init__(
        self, bus: Bus, interval_s: float = 0.25, after_fired: Callable[[str], Awaitable[None]] | None = None
    ) -> None:
        self.bus = bus
        self.interval_s = interval_s
        self.after_fired = after_fired
        self.fired = 0
        self.stopping = StopSignal()

    def stop(self) -> None:
        """End ``run`` at its next turn; the caller then awaits it."""
        self.stopping.set()

    async def run(self) -> None:
        """Until ``stop()``: fire what is due, every ``interval_s``."""
        while not self.stopping.is_set():
            try:
                fired = await self.bus.fire_due_timers(int(time.time() * 1000))
                self.fired += len(fired)
                if fired:
                    log.info("timers fired: %s", ", ".join(fired))
                    for timer_id in fired:
                        if self.after_fired is not None:
                            try:
                                await self.after_fired(timer_id)
                            except Exception:  # the alarm itself is up already; this only adds detail
                                log.exception("after timer %s", timer_id)
                    continue  # there may be more due
            except (RedisError, OSError) as exc:
                if self.stopping.is_set():
                    return
                log.error("timers: %s", exc)
            await self.stopping.sleep(self.interval_s)
