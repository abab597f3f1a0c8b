"""Dispatch rules, tested without a server: policy, service area, recommendations, timers, reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.state import Position, UnitState
from server.agency.geography import ServiceArea, distance_m
from server.agency.policy import load_policy
from server.dispatch.rules import (
    Candidate,
    ResponseRow,
    availability_of,
    coverage_warnings,
    incident_progress,
    rank_units,
    response_time_report,
    status_limit_s,
    unit_transition_allowed,
    welfare_deadlines,
    welfare_state,
)

POLICY = load_policy()
NOW = 1_800_000_000_000


def unit(uid: str, status: str = "available", district: str = "Downtown", caps: tuple[str, ...] = ()) -> UnitState:
    return UnitState(id=uid, status=status, district=district, capabilities=list(caps))


def pos(uid: str, age_s: float = 10) -> Position:
    return Position(unit=uid, lat=53.54, lon=-113.49, at=int(NOW - age_s * 1000))


def test_priority_table_defaults() -> None:
    """P1 to P4 plus referral, each with colour, tone, target and unassigned alarm."""
    assert sorted(POLICY.priorities) == [1, 2, 3, 4, 5]
    p1 = POLICY.priority(1)
    assert p1.target_dispatch_s == 60 and p1.unassigned_alarm_s == 90 and p1.colour and p1.tone
    assert POLICY.priority(5).unassigned_alarm_s == 0  # referrals never alarm


def test_operator_policy_file_overrides_defaults(tmp_path: Path) -> None:
    """An operator file changes only what it names; a bad one is refused with a clear message."""
    (tmp_path / "policy.toml").write_text("[priorities.1]\ntarget_dispatch_s = 45\n[welfare]\non_call_s = 300\n")
    policy = load_policy(tmp_path / "policy.toml")
    assert policy.priority(1).target_dispatch_s == 45 and policy.priority(1).colour == POLICY.priority(1).colour
    assert policy.welfare.on_call_s == 300 and policy.welfare.idle_s == POLICY.welfare.idle_s
    (tmp_path / "bad.toml").write_text('[unit_statuses.enroute]\nnext = ["teleporting"]\n')
    with pytest.raises(ValueError, match="teleporting"):
        load_policy(tmp_path / "bad.toml")


def test_service_area_and_districts() -> None:
    """Downtown Edmonton is inside (district Downtown); Sherwood Park and St. Albert are not."""
    area = POLICY.area
    assert area is not None
    assert area.locate(53.5461, -113.4938).inside and area.locate(53.5461, -113.4938).district == "Downtown"
    assert area.locate(53.4716, -113.5896).district == "Southwest"
    assert not area.locate(53.5417, -113.2958).inside  # Sherwood Park
    assert not area.locate(53.6305, -113.6256).inside  # St. Albert


def test_operator_can_replace_the_service_area(tmp_path: Path) -> None:
    """A GeoJSON of the operator's own replaces the default boundary."""
    square = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"role": "service_area"},
                "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]},
            }
        ],
    }
    import json

    (tmp_path / "town.geojson").write_text(json.dumps(square))
    (tmp_path / "policy.toml").write_text('[service_area]\nfile = "town.geojson"\n')
    area = load_policy(tmp_path / "policy.toml").area
    assert area is not None and area.locate(0.5, 0.5).inside and not area.locate(53.5, -113.5).inside
    with pytest.raises(ValueError, match="service_area"):
        ServiceArea.from_geojson('{"type": "FeatureCollection", "features": []}')


def test_distance() -> None:
    """Haversine distance: Edmonton city hall to Calgary city hall is about 281 km in a straight line."""
    assert 279_000 < distance_m(53.5461, -113.4938, 51.0447, -114.0719) < 283_000


def test_unit_status_machine_and_availability() -> None:
    """Statuses map to availability; transitions follow the policy; emergency is always allowed."""
    assert availability_of(POLICY, "available") == "available"
    assert availability_of(POLICY, "busy") == "conditional"
    assert availability_of(POLICY, "onscene") == "not_available"
    assert unit_transition_allowed(POLICY, "dispatched", "enroute")
    assert not unit_transition_allowed(POLICY, "off_duty", "onscene")
    assert unit_transition_allowed(POLICY, "off_duty", "emergency")


def test_incident_status_only_moves_forward() -> None:
    """A unit en route moves the call to en route; a late 'dispatched' does not move it back."""
    assert incident_progress("assigned", "enroute") == "enroute"
    assert incident_progress("onscene", "dispatched") == "onscene"
    assert incident_progress("pending", "busy") == "pending"


def test_recommendation_ranks_available_fresh_nearest_with_capabilities() -> None:
    """Available before conditional, fresh before stale, then nearest; capabilities required."""
    cands = [
        Candidate(unit("far"), pos("far"), 5000),
        Candidate(unit("near"), pos("near"), 800),
        Candidate(unit("busy", "busy"), pos("busy"), 100),
        Candidate(unit("stale"), pos("stale", age_s=3600), 50),
        Candidate(unit("gone", "onscene"), pos("gone"), 10),
        Candidate(unit("beyond"), pos("beyond"), 90_000),
    ]
    ranked = rank_units(POLICY, cands, [], NOW)
    assert [r.unit for r in ranked] == ["near", "far", "stale", "busy"]
    assert ranked[2].stale and ranked[3].availability == "conditional"
    boats = [Candidate(unit("dry"), pos("dry"), 10), Candidate(unit("wet", caps=("boat",)), pos("wet"), 9000)]
    assert [r.unit for r in rank_units(POLICY, boats, ["boat"], NOW)] == ["wet"]


def test_coverage_warning_when_district_left_empty() -> None:
    """Sending the last available unit of a district warns; sending one of two does not."""
    units = [
        unit("A1", district="Northeast"),
        unit("A2", "onscene", district="Northeast"),
        unit("B1", district="Downtown"),
    ]
    assert coverage_warnings(POLICY, units, "A1") == ["sending A1 leaves Northeast with no available unit"]
    assert coverage_warnings(POLICY, [*units, unit("A3", district="Northeast")], "A1") == []


def test_welfare_timers_by_duty_priority_and_call_type() -> None:
    """10 min on a call, 5 on a P1, 60 without a call; a traffic stop at 3 then every 5; none off duty."""
    on_call = UnitState(id="U7", status="onscene", since=NOW, last_contact=NOW, incident="I1")
    warn, crit = welfare_deadlines(POLICY, on_call, "NOISE", 4)  # type: ignore[misc]
    assert warn == NOW + 600_000 and crit == warn + 120_000
    assert welfare_deadlines(POLICY, on_call, "DISORDER", 1)[0] == NOW + 300_000  # type: ignore[index]
    idle = UnitState(id="U7", status="available", since=NOW, last_contact=NOW)
    assert welfare_deadlines(POLICY, idle) == (NOW + 3_600_000, NOW + 3_720_000)
    stop = UnitState(id="U7", status="onscene", since=NOW, last_contact=NOW, incident="I1")
    assert welfare_deadlines(POLICY, stop, "traffic stop", 3)[0] == NOW + 180_000  # type: ignore[index]
    checked = UnitState(id="U7", status="onscene", since=NOW, last_contact=NOW + 60_000, incident="I1")
    assert welfare_deadlines(POLICY, checked, "TRAFFIC STOP", 3)[0] == NOW + 60_000 + 300_000  # type: ignore[index]
    assert welfare_deadlines(POLICY, UnitState(id="U7", status="off_duty")) is None
    assert [welfare_state(t, warn, crit) for t in (NOW, warn, crit)] == ["green", "warning", "critical"]


def test_status_limits_by_priority() -> None:
    """A unit en route to a P1 alarms after 10 min; to a P4, after the status's own 30 min."""
    assert status_limit_s(POLICY, "enroute", 1) == 600
    assert status_limit_s(POLICY, "enroute", 4) == 1800
    assert status_limit_s(POLICY, "court", None) == 0


def test_response_time_report() -> None:
    """Percentiles and the share within target per priority; undispatched calls count against it."""
    day = 1_795_400_000_000
    rows = [ResponseRow(1, "DISORDER", day, day + s * 1000) for s in (30, 45, 50, 70)]
    rows.append(ResponseRow(1, "DISORDER", day, None))
    rows.append(ResponseRow(4, "NOISE", day, day + 600_000))
    report = response_time_report(POLICY, rows)
    p1 = report.by_priority["P1"]
    assert p1.calls == 5 and p1.dispatched == 4 and p1.target_s == 60
    assert p1.within_target == 0.6 and p1.max_s == 70.0
    assert report.by_type["NOISE"].p50_s == 600.0
    assert list(report.by_day) == ["2026-11-23"]
