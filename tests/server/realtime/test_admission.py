"""Connection admission, without sockets: caps per address and in all, probation, the staff reserve."""

from __future__ import annotations

import pytest

from server.realtime.admission import AddressSet, Admission, AdmissionLimits, Refusal, Standing, Ticket


def _admission(**kw: int | AddressSet) -> Admission:
    limits = {"max_connections": 20, "staff_reserve": 5, "per_address": 4, "probation_per_address": 2, **kw}
    return Admission(AdmissionLimits(**limits))  # type: ignore[arg-type]


def _tickets(a: Admission, address: str, n: int) -> list[Ticket | Refusal]:
    return [a.admit(address) for _ in range(n)]


def test_one_address_gets_its_share_then_probation_then_refusals() -> None:
    """Past its unproven cap an address is let in on probation a few times, then refused (and counted)."""
    a = _admission()
    got = _tickets(a, "10.0.0.1", 8)
    standings = [t.standing if isinstance(t, Ticket) else t for t in got]
    assert standings == [Standing.UNPROVEN] * 4 + [Standing.PROBATION] * 2 + [Refusal.ADDRESS] * 2
    assert a.refused[Refusal.ADDRESS] == 2
    assert isinstance(a.admit("10.0.0.2"), Ticket)  # another address is not held back


def test_a_proven_connection_frees_its_place_among_the_unproven() -> None:
    """Showing a token moves a connection out of the unproven count (officers behind one NAT)."""
    a = _admission()
    first = _tickets(a, "10.0.0.1", 4)
    for t in first:
        assert isinstance(t, Ticket)
        a.prove(t)
    assert [x.standing for x in _tickets(a, "10.0.0.1", 4) if isinstance(x, Ticket)] == [Standing.UNPROVEN] * 4
    assert a.open == 8 and a.unproven_total == 4


def test_the_staff_reserve_is_reachable_only_on_probation() -> None:
    """When all addresses together hold the unproven cap, newcomers get probation (to show a token)."""
    a = _admission(per_address=100)
    for i in range(15):  # the unproven cap: 20 - 5
        assert isinstance(a.admit(f"10.0.1.{i}"), Ticket)
    staff = a.admit("10.0.2.1")
    assert isinstance(staff, Ticket) and staff.standing is Standing.PROBATION and staff.why is Refusal.BUSY
    a.prove(staff)
    assert staff.standing is Standing.PROVEN and a.open == 16


def test_the_hard_cap_refuses_everyone() -> None:
    """At max_connections nothing more is taken, proven or not: the file limit keeps its reserve."""
    a = _admission(per_address=100, staff_reserve=1)
    for i in range(20):
        t = a.admit(f"10.0.3.{i}")
        assert isinstance(t, Ticket)
        a.prove(t)
    assert a.admit("10.0.4.1") is Refusal.FULL


def test_release_is_idempotent_and_forgets_the_address() -> None:
    """Counts return to zero and no address stays in memory once its connections close."""
    a = _admission()
    got = [t for t in _tickets(a, "10.0.0.9", 6) if isinstance(t, Ticket)]
    for t in got + got:
        a.release(t)
    assert (a.open, a.unproven_total, a.addresses()) == (0, 0, 0)


def test_trusted_proxies_are_not_capped_per_address() -> None:
    """A proxy speaks for many clients: its address is exempt from the per-address cap."""
    a = _admission(exempt=AddressSet("10.9.0.0/16, ::1"))
    assert all(isinstance(t, Ticket) and t.standing is Standing.UNPROVEN for t in _tickets(a, "10.9.3.4", 10))
    assert "::1" in AddressSet("::1") and "10.1.0.1" not in AddressSet("10.9.0.0/16")


def test_address_lists_name_their_mistakes() -> None:
    with pytest.raises(ValueError, match="not an IP address or network: 'proxy.local'"):
        AddressSet("10.0.0.1, proxy.local")
