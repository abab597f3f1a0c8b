"""The unit statuses the hub acts on are the policy's, and one pure function makes a unit enter a status."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from protocol.state import Availability, CoreUnitStatus, UnitState
from server.agency import policy as policy_module
from server.agency.policy import load_policy
from server.dispatch.rules import SAME_CALL, enter_status

POLICY = load_policy()


def test_the_shipped_policy_defines_every_core_unit_status() -> None:
    """Each status the code acts on is in policy.default.toml, so an agency starts with all of them."""
    shipped = tomllib.loads(policy_module.DEFAULT_FILE.read_text())["unit_statuses"]
    assert set(CoreUnitStatus) <= set(shipped)
    assert POLICY.unit_statuses[CoreUnitStatus.AVAILABLE].availability is Availability.AVAILABLE


def test_a_policy_without_a_core_status_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An agency may add statuses, not take away one the hub acts on: the loader names the missing one."""
    text = policy_module.DEFAULT_FILE.read_text()
    start = text.index("[unit_statuses.emergency]")
    end = text.index("\n\n", start)
    trimmed = tmp_path / "policy.default.toml"
    trimmed.write_text(text[:start] + text[end:])
    monkeypatch.setattr(policy_module, "DEFAULT_FILE", trimmed)
    with pytest.raises(ValueError, match=r"unit_statuses lacks \['emergency'\]"):
        load_policy()


def _unit(**fields: object) -> UnitState:
    base: dict[str, object] = {"id": "U7", "status": "available", "since": 1_000, "last_contact": 1_000}
    return UnitState(**{**base, **fields})  # type: ignore[arg-type]


def test_entering_a_status_restarts_its_clock_and_contact_and_sets_availability() -> None:
    """Status, since, last contact, who changed it and the policy's availability, all at once."""
    unit = _unit(incident="I1", welfare_warn_at=5_000)
    entered = enter_status(POLICY, unit, CoreUnitStatus.ONSCENE, at=9_000, by="u7")
    assert (entered.status, entered.since, entered.last_contact, entered.updated_by) == ("onscene", 9_000, 9_000, "u7")
    assert entered.availability == Availability.NOT_AVAILABLE
    assert entered.incident == "I1"  # SAME_CALL is the default: it stays on its call
    assert entered.welfare_warn_at == 5_000  # the timers are the caller's to restart
    assert unit.status == "available"  # the unit given is left as it was


def test_entering_a_status_joins_leaves_or_keeps_a_call() -> None:
    unit = _unit(incident="I1")
    assert enter_status(POLICY, unit, "dispatched", at=2, by="ana", call="I2").incident == "I2"
    assert enter_status(POLICY, unit, "available", at=2, by="ana", call=None).incident is None
    assert enter_status(POLICY, unit, "emergency", at=2, by="ana", call=SAME_CALL).incident == "I1"


def test_a_status_entered_without_contact_keeps_the_last_contact() -> None:
    """A missed check-in puts the unit in emergency, but the officer was not heard from."""
    entered = enter_status(POLICY, _unit(), CoreUnitStatus.EMERGENCY, at=9_000, by="system", contact=False)
    assert (entered.status, entered.since, entered.last_contact) == ("emergency", 9_000, 1_000)


def test_an_agency_status_the_code_does_not_name_is_entered_the_same_way() -> None:
    """``busy`` is the policy's own: conditionally available, by the policy."""
    entered = enter_status(POLICY, _unit(), "busy", at=3, by="ana")
    assert entered.availability == Availability.CONDITIONAL
