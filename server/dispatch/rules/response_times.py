"""The response-time report as a pure function: call-handling, turnout and travel times per
priority, day and call type, against the policy's targets."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from server.agency.policy import Policy

__all__ = ["ResponseReport", "ResponseRow", "ResponseSummary", "response_time_report"]


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """One incident, as the report needs it."""

    priority: int
    call_type: str
    created_at: int
    first_dispatch_at: int | None


class ResponseSummary(msgspec.Struct, omit_defaults=True):
    """Calls and the time to their first dispatch (seconds): percentiles, and against a priority's target."""

    calls: int
    dispatched: int
    p50_s: float | None = None
    p90_s: float | None = None
    p95_s: float | None = None
    max_s: float | None = None
    target_s: float | None = None
    within_target: float | None = None  # the share of calls dispatched within the target


class ResponseReport(msgspec.Struct):
    by_priority: dict[str, ResponseSummary]  # "P1", "P2", ...
    by_day: dict[str, ResponseSummary]  # "2026-11-23", ... (UTC)
    by_type: dict[str, ResponseSummary]


def _summary(policy: Policy, rows: list[ResponseRow], priority: int | None) -> ResponseSummary:
    waits = sorted((r.first_dispatch_at - r.created_at) / 1000 for r in rows if r.first_dispatch_at)
    out = ResponseSummary(calls=len(rows), dispatched=len(waits))
    if waits:
        q = statistics.quantiles(waits, n=100, method="inclusive") if len(waits) > 1 else [waits[0]] * 99
        out.p50_s, out.p90_s, out.p95_s = round(q[49], 1), round(q[89], 1), round(q[94], 1)
        out.max_s = round(waits[-1], 1)
    if priority is not None and priority in policy.priorities:
        target = policy.priority(priority).target_dispatch_s
        within = sum(1 for w in waits if w <= target)
        out.target_s = target
        out.within_target = round(within / len(rows), 3) if rows else None
    return out


def response_time_report(policy: Policy, rows: Sequence[ResponseRow]) -> ResponseReport:
    """Time from call to first dispatch, per priority (against its target), per day and per type.

    A call never dispatched counts against the share within target."""
    by_priority: dict[int, list[ResponseRow]] = defaultdict(list)
    by_day: dict[str, list[ResponseRow]] = defaultdict(list)
    by_type: dict[str, list[ResponseRow]] = defaultdict(list)
    for r in rows:
        by_priority[r.priority].append(r)
        by_day[datetime.fromtimestamp(r.created_at / 1000, UTC).date().isoformat()].append(r)
        by_type[r.call_type].append(r)
    return ResponseReport(
        by_priority={f"P{p}": _summary(policy, rs, p) for p, rs in sorted(by_priority.items())},
        by_day={d: _summary(policy, rs, None) for d, rs in sorted(by_day.items())},
        by_type={t: _summary(policy, rs, None) for t, rs in sorted(by_type.items())},
    )
