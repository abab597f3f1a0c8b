"""Early warning on officers (the IAPro way): thresholds of allegations naming one officer in a
window of months, overall or by allegation type or tier, and the top percentile of a service.
Pure: what is counted and when a threshold is crossed.

A threshold fires once when it is crossed, and again only after the officer has fallen below it
and crossed it anew: the caller keeps which thresholds each officer is above.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Crossing", "Mark", "Threshold", "assess", "counted", "top_percentile", "window_start"]


@dataclass(frozen=True, slots=True)
class Threshold:
    name: str  # a stable key, also what the team lead reads: "3 in 12 months"
    count: int
    months: int
    tier: int | None = None  # only allegations of this tier
    type: str | None = None  # only allegations of this type


@dataclass(frozen=True, slots=True)
class Mark:
    """One allegation naming the officer, dated by when its file was received."""

    at: int  # ms
    file_number: str
    type: str
    tier: int


@dataclass(frozen=True, slots=True)
class Crossing:
    threshold: Threshold
    marks: tuple[Mark, ...]


def window_start(now_ms: int, months: int) -> int:
    """The same day ``months`` months before now (the last day of a shorter month), in ms."""
    at = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
    month = at.month - 1 - months
    year = at.year + month // 12
    month = month % 12 + 1
    start = at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))
    return int(start.timestamp() * 1000)


def counted(threshold: Threshold, marks: Iterable[Mark], now_ms: int) -> list[Mark]:
    since = window_start(now_ms, threshold.months)
    return [
        m
        for m in marks
        if since <= m.at <= now_ms
        and (threshold.tier is None or m.tier == threshold.tier)
        and (threshold.type is None or m.type == threshold.type)
    ]


def assess(
    thresholds: Iterable[Threshold], marks: list[Mark], now_ms: int, above: frozenset[str]
) -> tuple[list[Crossing], frozenset[str]]:
    """-> (the thresholds newly crossed, which to flag now; the thresholds the officer is above
    now, which the caller keeps for next time)."""
    crossed: list[Crossing] = []
    now_above: set[str] = set()
    for t in thresholds:
        within = counted(t, marks, now_ms)
        if len(within) >= max(1, t.count):
            now_above.add(t.name)
            if t.name not in above:
                crossed.append(Crossing(t, tuple(within)))
    return crossed, frozenset(now_above)


def top_percentile(counts: Mapping[int, int], percent: float) -> list[int]:
    """The officers in the top ``percent`` of a service by allegations (at least one officer when
    any has one; ties at the cut are all in), most first."""
    ranked = sorted(((n, o) for o, n in counts.items() if n > 0), reverse=True)
    if not ranked or percent <= 0:
        return []
    keep = max(1, math.ceil(len(counts) * percent / 100))
    cut = ranked[min(keep, len(ranked)) - 1][0]
    return [o for n, o in ranked if n >= cut]
