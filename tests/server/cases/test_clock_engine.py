"""The clock engine, pure: business days across Alberta holidays and year ends, pause and resume,
extension, the recurring status update, and the states that are never overdue."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from server.cases.rules import clocks as c

ZONE = ZoneInfo("America/Edmonton")
CAL = c.Calendar()
TWO_BUSINESS = c.ClockPolicy(2, "business", warn_days=1)
DECISION = c.ClockPolicy(180, "calendar", warn_days=30)
UPDATE = c.ClockPolicy(60, "calendar", warn_days=7, recurring=True)


def at(day: str, hour: int = 10) -> int:
    when = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), ZONE)
    return int(when.timestamp() * 1000)


def day_of(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, ZONE).date().isoformat()


@pytest.mark.parametrize(
    ("received", "days", "due"),
    [
        ("2026-12-24", 2, "2026-12-29"),  # Christmas (Fri) and Boxing Day's weekend: Mon 28, Tue 29
        ("2026-12-31", 1, "2027-01-04"),  # New Year's Day (Fri) and the weekend: the year turns
        ("2027-02-12", 1, "2027-02-16"),  # Family Day, Monday February 15
        ("2027-03-25", 1, "2027-03-29"),  # Good Friday, March 26
        ("2026-11-21", 2, "2026-11-24"),  # a Saturday: Monday is day one
        ("2026-11-10", 1, "2026-11-12"),  # Remembrance Day, Wednesday November 11
    ],
)
def test_business_days_skip_weekends_and_alberta_holidays(received: str, days: int, due: str) -> None:
    """Due at the end of the last business day, local time."""
    got = c.due_at(at(received), days, "business", CAL)
    assert day_of(got) == due
    end = dt.datetime.fromtimestamp(got / 1000, ZONE)
    assert (end.hour, end.minute, end.second) == (23, 59, 59)


def test_calendar_days_count_every_day() -> None:
    """180 calendar days from June 1 is November 28, across the autumn time change."""
    assert day_of(c.due_at(at("2026-06-01"), 180, "calendar")) == "2026-11-28"


def test_a_pause_keeps_the_days_left_and_a_resume_gives_them_back() -> None:
    """Paused on Monday with four business days left, resumed a week later: due a week later."""
    clock = c.start("ack", at("2026-12-07"), c.ClockPolicy(4, "business"), CAL)
    assert day_of(clock.due_at) == "2026-12-11"
    paused = c.pause(clock, at("2026-12-07", 15), CAL)
    assert paused.remaining == 4
    assert c.state(paused, at("2027-01-30"), TWO_BUSINESS, CAL) == "paused"  # far past the old due: not overdue
    resumed = c.resume(paused, at("2026-12-14"), CAL)
    assert day_of(resumed.due_at) == "2026-12-18" and resumed.paused_at is None
    same_day = c.resume(c.pause(clock, at("2026-12-08"), CAL), at("2026-12-08", 16), CAL)
    assert same_day.due_at == clock.due_at


def test_a_clock_late_when_paused_stays_late() -> None:
    """Waiting on the complainant does not make a late clock less late."""
    clock = c.start("ack", at("2026-12-07"), TWO_BUSINESS, CAL)
    paused = c.pause(clock, at("2026-12-15"), CAL)
    resumed = c.resume(paused, at("2026-12-21"), CAL)
    assert resumed.due_at == clock.due_at
    assert c.state(resumed, at("2026-12-21", 11), TWO_BUSINESS, CAL) == "overdue"


def test_an_extension_is_never_overdue_before_its_new_date() -> None:
    """Past the original due but before the new one: extended; past the new one: overdue."""
    clock = c.start("decision", at("2026-01-05"), DECISION, CAL)
    longer = c.extend(clock, c.extension_due(clock, 30, CAL), at("2026-06-01"))
    assert longer.original_due == clock.due_at
    assert c.state(longer, clock.due_at + 86_400_000, DECISION, CAL) == "extended"
    assert c.state(longer, longer.due_at + 1, DECISION, CAL) == "overdue"
    with pytest.raises(ValueError, match="later"):
        c.extend(longer, longer.due_at - 1, at("2026-06-02"))
    with pytest.raises(ValueError, match="no longer counting"):
        c.extend(c.meet(clock, at("2026-02-01")), longer.due_at + 10, at("2026-06-02"))


def test_the_status_update_recurs_every_60_days() -> None:
    """Sending an update starts the next 60 days from that day."""
    first = c.start("status_update", at("2026-01-05"), UPDATE, CAL)
    assert day_of(first.due_at) == "2026-03-06"
    second = c.renew(first, at("2026-03-01"), UPDATE, CAL)
    assert day_of(second.due_at) == "2026-04-30" and second.met_at is None


def test_states_that_are_not_overdue_never_show_overdue() -> None:
    """Paused, extended (before its date), referred, met and stopped, at every day for two years."""
    base = c.start("decision", at("2026-01-05"), DECISION, CAL)
    quiet = [
        c.pause(base, at("2026-02-01"), CAL),
        c.stop(base, "referred"),
        c.meet(base, at("2026-03-01")),
        c.stop(base, "closed"),
    ]
    for day in range(0, 730, 3):
        now = at("2026-01-05") + day * 86_400_000
        for clock in quiet:
            state = c.state(clock, now, DECISION, CAL)
            assert state in c.NOT_OVERDUE and state != "overdue"
            assert c.overdue_by(clock, now, DECISION, CAL) == 0
    assert c.state(c.restart(c.stop(base, "referred")), at("2027-01-01"), DECISION, CAL) == "overdue"


def test_a_clock_turns_warning_then_overdue_and_then_no_more() -> None:
    """next_turn names the warning's start, then the moment after the due date, then nothing."""
    clock = c.start("ack", at("2026-12-07"), TWO_BUSINESS, CAL)  # due Wednesday the 9th
    first = c.next_turn(clock, at("2026-12-07"), TWO_BUSINESS, CAL)
    assert first is not None and first[1] == "warning" and day_of(first[0]) == "2026-12-08"
    second = c.next_turn(clock, first[0], TWO_BUSINESS, CAL)
    assert second == (clock.due_at + 1, "overdue")
    assert c.state(clock, clock.due_at + 1, TWO_BUSINESS, CAL) == "overdue"
    assert c.next_turn(clock, clock.due_at + 1, TWO_BUSINESS, CAL) is None
    assert c.overdue_by(clock, at("2026-12-11"), TWO_BUSINESS, CAL) == 2


def test_the_limitation_check() -> None:
    """Within a year of the incident, past it (and by how much), or unknown when no date was given."""
    inside = c.limitation(dt.date(2026, 1, 10), at("2026-12-01"))
    assert inside.within is True and inside.deadline == dt.date(2027, 1, 10)
    late = c.limitation(dt.date(2025, 1, 10), at("2026-01-20"), may_extend=False)
    assert late.within is False and late.days_past == 10 and not late.may_extend
    unknown = c.limitation(None, at("2026-01-20"))
    assert unknown.within is None and unknown.deadline is None
