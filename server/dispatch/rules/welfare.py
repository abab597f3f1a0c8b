"""Welfare and status timers as pure functions: when a check-in is due and when it is
critical, and how long a unit may stay in one status."""

from __future__ import annotations

from protocol.state import CoreUnitStatus, UnitState
from server.agency.policy import Policy
from server.dispatch.rules.lifecycle import KEEPS_CALL

__all__ = ["status_limit_s", "welfare_deadlines", "welfare_state"]


def welfare_deadlines(
    policy: Policy, unit: UnitState, call_type: str | None = None, priority: int | None = None
) -> tuple[int, int] | None:
    """(warning at, critical at) for a unit, from its last contact, or None when it is not on duty.

    On a call: the call type's interval (first check, then `welfare_every_s` after a check-in),
    else the priority's, else welfare.on_call_s. Off a call: welfare.idle_s."""
    if unit.status in (CoreUnitStatus.OFF_DUTY, CoreUnitStatus.OUT_OF_SERVICE):
        return None
    if unit.status in KEEPS_CALL and call_type is not None:
        interval = policy.welfare.on_call_s
        level = policy.priorities.get(priority) if priority is not None else None
        if level is not None and level.welfare_s:
            interval = level.welfare_s
        ct = policy.call_types.get(call_type.upper())
        checked_in_since = unit.last_contact > unit.since  # a check-in after the last status change
        if ct is not None and checked_in_since and ct.welfare_every_s:
            interval = ct.welfare_every_s
        elif ct is not None and ct.welfare_s:
            interval = ct.welfare_s
    elif unit.status in KEEPS_CALL:
        interval = policy.welfare.on_call_s
    else:
        interval = policy.welfare.idle_s
    warn = unit.last_contact + interval * 1000
    return warn, warn + policy.welfare.critical_after_s * 1000


def status_limit_s(policy: Policy, status: str, priority: int | None) -> int:
    """How long a unit may stay in a status before an alarm (0: no limit); the call's priority may say."""
    level = policy.priorities.get(priority) if priority is not None else None
    if level is not None and status in level.status_alarm_s:
        return level.status_alarm_s[status]
    rule = policy.unit_statuses.get(status)
    return rule.max_s if rule is not None else 0


def welfare_state(now_ms: int, warn_at: int | None, critical_at: int | None) -> str:
    if warn_at is None or now_ms < warn_at:
        return "green"
    if critical_at is None or now_ms < critical_at:
        return "warning"
    return "critical"
