"""Which unit to send, as pure functions: ranking candidates by availability, capability and
distance, units that may be pulled from a less urgent call, and the coverage a move leaves."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from protocol.messages import PullableUnit, RankedUnit
from protocol.state import Availability, CoreUnitStatus, Position, UnitState
from server.agency.policy import Policy
from server.dispatch.rules.lifecycle import availability_of

__all__ = ["Candidate", "coverage_warnings", "pullable_units", "rank_units"]

_NEVER_PULLED = frozenset({CoreUnitStatus.EMERGENCY, CoreUnitStatus.OFF_DUTY, CoreUnitStatus.OUT_OF_SERVICE})


@dataclass(frozen=True, slots=True)
class Candidate:
    unit: UnitState
    position: Position | None
    distance_m: float | None  # None: the unit has no position, or the call has no coordinates


def _capable(c: Candidate, needs: Sequence[str]) -> bool:
    return set(needs) <= {*c.unit.capabilities, *c.unit.equipment}


def _distance_key(c: Candidate) -> float:
    return c.distance_m if c.distance_m is not None else float("inf")


def rank_units(policy: Policy, candidates: Iterable[Candidate], needs: Sequence[str], now_ms: int) -> list[RankedUnit]:
    """Units to send, best first: available before conditionally available, fresh
    positions before stale, then nearest. Units lacking a needed capability,
    not available, or beyond the distance limit are left out. A call with no
    coordinates ranks no one by distance (every distance is unknown, never 0)."""
    stale_ms = policy.positions.stale_after_s * 1000
    ranked = []
    for c in candidates:
        availability = availability_of(policy, c.unit.status)
        if availability == Availability.NOT_AVAILABLE:
            continue
        if c.distance_m is not None and c.distance_m > policy.recommend.max_distance_m:
            continue  # a unit with no position at all is still listed, last, as stale
        if not _capable(c, needs):
            continue
        stale = c.position is None or now_ms - c.position.at > stale_ms
        key = (availability != Availability.AVAILABLE, stale, _distance_key(c))
        ranked.append(
            (
                key,
                RankedUnit(
                    unit=c.unit.id,
                    distance_m=round(c.distance_m, 1) if c.distance_m is not None else None,
                    status=c.unit.status,
                    availability=availability,
                    stale=stale,
                    district=c.unit.district,
                    capabilities=sorted({*c.unit.capabilities, *c.unit.equipment}),
                ),
            )
        )
    ranked.sort(key=lambda pair: pair[0])
    return [r for _, r in ranked[: policy.recommend.count]]


def pullable_units(
    policy: Policy,
    candidates: Iterable[Candidate],
    needs: Sequence[str],
    call_priority: int,
    priority_of: dict[str, int],
    limit: int = 3,
) -> list[PullableUnit]:
    """Units committed to a lower-priority call (a larger number) that could be pulled to this
    one, nearest first: what a dispatcher reaches for when nothing is free. ``priority_of``
    maps the open incidents the candidates are on to their priorities."""
    found = []
    for c in candidates:
        on = c.unit.incident
        if on is None or on not in priority_of or priority_of[on] <= call_priority:
            continue
        if c.unit.status in _NEVER_PULLED or not _capable(c, needs):
            continue
        if c.distance_m is not None and c.distance_m > policy.recommend.max_distance_m:
            continue
        found.append(
            PullableUnit(
                unit=c.unit.id,
                incident=on,
                priority=priority_of[on],
                status=c.unit.status,
                distance_m=round(c.distance_m, 1) if c.distance_m is not None else None,
                district=c.unit.district,
            )
        )
    # nearest first; among equals, the least urgent call gives its unit up first
    found.sort(key=lambda p: (p.distance_m if p.distance_m is not None else float("inf"), -p.priority))
    return found[:limit]


def coverage_warnings(policy: Policy, units: Iterable[UnitState], sending: str) -> list[str]:
    """Warn when sending this unit leaves its district with no available unit."""
    units = list(units)
    chosen = next((u for u in units if u.id == sending), None)
    if chosen is None or not chosen.district:
        return []
    left = [
        u
        for u in units
        if u.id != sending
        and u.district == chosen.district
        and availability_of(policy, u.status) == Availability.AVAILABLE
    ]
    if left:
        return []
    return [f"sending {sending} leaves {chosen.district} with no available unit"]
