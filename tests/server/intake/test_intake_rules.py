"""The intake rules without I/O: what a complaint must hold, status codes, clocks, Open311 checks."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from protocol.state import Incident, Location
from server.agency.policy import load_policy
from server.cases.complaints import check, code_hash, status_code_for
from server.cases.rules.clocks import due_at
from server.dispatch.referrals import request_status
from server.intake.open311 import check_request


def good() -> dict:
    return {
        "submission_id": "a1b2c3d4e5f6",
        "kind": "complaint",
        "police_service": "Edmonton Police Service",
        "narrative": "The officer pushed me.",
        "contact_by": "phone",
        "phone": "780 555 0100",
        "consent_share": True,
        "officers": [{"name": "Cst. Lee", "badge": "4411"}],
        "occurred_on": "2026-11-01",
    }


def test_a_complete_complaint_has_no_errors() -> None:
    assert check(good(), today=dt.date(2026, 11, 23)) == {}


def test_every_problem_is_named_by_its_field_at_once() -> None:
    raw = good() | {
        "narrative": "  ",
        "consent_share": False,
        "contact_by": "email",
        "occurred_on": "2027-01-01",
        "location": "x" * 301,
        "officers": [{"badge": "9" * 21}],
        "extra": "?",
    }
    raw.pop("phone")
    errors = check(raw, today=dt.date(2026, 11, 23))
    assert set(errors) == {
        "narrative",
        "consent_share",
        "email",
        "occurred_on",
        "location",
        "officers.0.badge",
        "extra",
    }
    assert "in your own words" in errors["narrative"]
    assert "future" in errors["occurred_on"]
    assert "300" in errors["location"]


def test_contact_details_must_match_the_way_chosen() -> None:
    for how, field in (("email", "email"), ("text", "phone"), ("mail", "mailing_address")):
        raw = good() | {"contact_by": how, "phone": ""}
        assert field in check(raw, today=dt.date(2026, 11, 23))
    assert check(good() | {"contact_by": "none", "phone": ""}, today=dt.date(2026, 11, 23)) == {}
    assert "email" in check(good() | {"email": "not-an-address"}, today=dt.date(2026, 11, 23))


def test_the_status_code_is_the_same_for_a_resent_submission_and_checks_loosely() -> None:
    code = status_code_for("s" * 40, "sub-123456")
    assert code == status_code_for("s" * 40, "sub-123456")
    assert code != status_code_for("s" * 40, "sub-123457")
    assert code != status_code_for("t" * 40, "sub-123456")
    assert len(code) == 14 and code.count("-") == 2
    # read over the phone: case and separators do not matter
    assert code_hash("s" * 40, code.lower().replace("-", " ")) == code_hash("s" * 40, code)


def test_acknowledgement_is_due_in_business_days_past_weekends_and_holidays() -> None:
    zone = ZoneInfo("America/Edmonton")

    def ms(when: dt.datetime) -> int:
        return int(when.timestamp() * 1000)

    def local(at: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(at / 1000, zone)

    friday = dt.datetime(2026, 11, 20, 18, tzinfo=dt.UTC)
    due = local(due_at(ms(friday), 2, "business"))
    assert (due.date(), due.hour, due.minute) == (dt.date(2026, 11, 24), 23, 59)  # Mon, Tue
    before_remembrance_day = dt.datetime(2026, 11, 9, 18, tzinfo=dt.UTC)
    assert local(due_at(ms(before_remembrance_day), 2, "business")).date() == dt.date(2026, 11, 12)
    assert local(due_at(ms(friday), 2, "calendar")).date() == dt.date(2026, 11, 22)


def test_open311_request_is_checked_against_its_service() -> None:
    config = load_policy(None).open311
    ok, problems, status = check_request(
        {
            "service_code": ["ENCAMPMENT"],
            "lat": ["53.54"],
            "long": ["-113.49"],
            "attribute[PEOPLE]": ["3"],
            "attribute[HAZARDS][]": ["fire", "needles"],
        },
        config,
    )
    assert problems == [] and ok is not None
    assert ok.attributes == {"PEOPLE": "3", "HAZARDS": ["fire", "needles"]}
    _, problems, status = check_request(
        {"service_code": ["NOISE"], "attribute[SOURCE]": ["drums"], "attribute[COLOUR]": ["red"]}, config
    )
    assert status == 400
    text = " ".join(problems)
    assert "location is required" in text and "SOURCE] must be one of" in text
    assert "ONGOING] is required" in text and "COLOUR" not in text
    # what a client adds of its own (FixMyStreet sends its report id) is kept, not refused
    ok, problems, _ = check_request(
        {"service_code": ["PARK_BYLAW"], "address_string": ["Hawrelak Park"], "attribute[fixmystreet_id]": ["77"]},
        config,
    )
    assert problems == [] and ok is not None and ok.attributes == {"fixmystreet_id": "77"}
    _, problems, _ = check_request(
        {"service_code": ["PARK_BYLAW"], "address_string": ["Hawrelak\x01Park"], "lat": ["953.5"], "long": ["1"]},
        config,
    )
    assert problems == [
        "address_string holds control characters",
        "lat must be within -90..90 and long within -180..180",
    ]
    _, problems, status = check_request({"service_code": ["TREES"], "address_string": ["x"]}, config)
    assert status == 404


def test_a_referral_status_follows_its_call() -> None:
    call = Incident(id="311-1", call_type="NOISE", priority=4, status="pending", location=Location(), updated_at=5)
    assert request_status("incident", 1, call)[:2] == ("open", "Received by dispatch; waiting for an officer.")
    closed = Incident(
        id="311-1",
        call_type="NOISE",
        priority=4,
        status="closed",
        location=Location(),
        disposition="citation issued",
        closing_note="Owner warned, ticket for the stereo.",
        updated_at=9,
    )
    assert request_status("incident", 1, closed) == (
        "closed",
        "Closed: citation issued. Owner warned, ticket for the stereo.",
        9,
    )
    answered = {"status": "answered", "business_area": "Graffiti Program", "notes": "Painted over.", "updated_at": 7}
    assert request_status("info_request", 1, info=answered) == ("closed", "Answered. Painted over.", 7)
