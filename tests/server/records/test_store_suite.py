"""The records store's behaviour, on each engine in turn (SQLite and PostgreSQL; the ``store``
fixture runs every test on both): accounts, the audit trail, the archive and its projections,
radio search, the response report, complaints, Open311 requests and keys, dead letters, keys
shared by hubs, migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from protocol.codec import event_encoder
from protocol.events import AlarmRaised, AlarmUpdated, Event, IncidentCreated, IncidentUpdated, RadioLogged, UnitUpdated
from protocol.state import Alarm, Incident, Location, RadioEntry, TimelineEntry, UnitState
from server.access.roles import Role
from server.records.complaints import ClockStart, ComplaintRecords, Filing, NewComplaint, OfficerRow
from server.records.intake import IntakeRecords
from server.records.live import LiveRecords
from server.records.migrations import MIGRATIONS
from server.records.office import OfficeRecords
from server.records.referrals import NewInfoRequest, NewServiceRequest, ReferralRecords
from server.records.store import ArchivedEvent, RecordsStore

_seq = 0


def _archived(topic: str, event: Event, ms: int) -> ArchivedEvent:
    global _seq
    _seq += 1
    kind = type(event).__struct_config__.tag
    assert isinstance(kind, str)
    return ArchivedEvent(topic, f"{ms}-{_seq}", "e1", kind, event.by, event.ts, event_encoder.encode(event))


def _incident(iid: str, created: int, status: str = "pending", updated: int | None = None) -> Incident:
    return Incident(
        id=iid,
        call_type="ANIMAL",
        priority=3,
        status=status,
        source="phone",
        location=Location("Hawrelak Park", lat=53.5, lon=-113.5),
        created_at=created,
        updated_at=updated or created,
    )


async def test_accounts_disable_and_sessions(store: RecordsStore) -> None:
    await store.add_user("ana", Role.DISPATCHER, "correct horse")
    await store.add_user("po11", Role.OFFICER, "battery staple", unit="PO11")
    assert [a.name for a in await store.accounts()] == ["ana", "po11"]
    assert await store.set_disabled("ana", True, "admin") == 1
    assert await store.check_password("ana", "correct horse") is None
    assert not await store.is_active("ana")
    assert await store.set_disabled("nobody", True, "admin") is None
    assert await store.end_sessions("po11", "admin") == 1
    await store.replace_recovery_codes("po11", ["h1", "h2"])
    assert await store.recovery_codes_left("po11") == 2
    assert await store.use_recovery_code("po11", "h1") and not await store.use_recovery_code("po11", "h1")
    assert await store.recovery_codes_left("po11") == 1
    actions = [a[2] for a in await store.audit_trail()]
    assert actions[:3] == ["second_factor.recovery_code", "second_factor.recovery_codes", "user.sessions.end"]


async def test_archive_projects_incidents_timelines_radio_and_alarms(store: RecordsStore) -> None:
    created = _incident("I261203-00001", 1000)
    line = TimelineEntry(at=1000, by="ana", action="created", detail="")
    updated = msgspec.structs.replace(created, status="assigned", updated_at=2000, first_dispatch_at=2000)
    alarm = Alarm(id="panic:PO11", unit="PO11", reason="panic", raised_at=3000, raised_by="po11", alarm="panic")
    events = [
        _archived("incidents", IncidentCreated(ts=1000, by="ana", incident=created, entry=line), 1000),
        _archived("incidents", IncidentUpdated(ts=2000, by="ana", incident=updated, changed=["status"]), 2000),
        _archived(
            "radio",
            RadioLogged(ts=2500, by="ana", entry=RadioEntry("main", "PO11 en route K9", 2500, "ana", "PO11")),
            2500,
        ),
        _archived("alarms", AlarmRaised(ts=3000, by="po11", alarm=alarm), 3000),
    ]
    assert await store.archive(events) == 4
    assert await store.archive(events) == 0  # redelivered: nothing twice
    found = await store.archived_incident(created.id)
    assert found is not None and found.status == "assigned"
    assert [e.action for e in await store.incident_timeline(created.id)] == ["created"]
    assert [r.text for r in await store.search_radio(text="k9 route")] == ["PO11 en route K9"]
    assert await store.search_radio(text='"k9" OR x') == []  # the words, never the engine's query syntax
    assert [r.text for r in await store.search_radio(unit="PO11", since=2000, until=3000)] == ["PO11 en route K9"]
    assert await store.response_rows(0, 10_000) == [(3, "ANIMAL", 1000, 2000)]
    raised = await store.archived_alarm(alarm.id)
    assert raised is not None and raised.state == "active"
    acked = msgspec.structs.replace(alarm, state="acknowledged", acked_by="ana", acked_at=4000)
    await store.archive(
        [_archived("alarms", AlarmUpdated(ts=4000, by="ana", alarm=acked, action="acknowledged"), 4000)]
    )
    raised = await store.archived_alarm(alarm.id)
    assert raised is not None and (raised.state, raised.acked_by) == ("acknowledged", "ana")
    assert await store.count_events() == 5 and await store.count_events("radio") == 1


async def test_an_incident_of_a_reused_id_never_overwrites_the_archived_one(store: RecordsStore) -> None:
    """Redis lost its counter and gave an old id again: the archived incident and its timeline stay."""
    old = _incident("I261203-00007", 1000, status="closed", updated=5000)
    line = TimelineEntry(at=1000, by="ana", action="created", detail="old call")
    await store.archive([_archived("incidents", IncidentCreated(ts=1000, by="ana", incident=old, entry=line), 1000)])
    again = _incident("I261203-00007", 9000)
    other = TimelineEntry(at=9000, by="bo", action="created", detail="another call")
    await store.archive([_archived("incidents", IncidentCreated(ts=9000, by="bo", incident=again, entry=other), 9000)])
    kept = await store.archived_incident(old.id)
    assert kept is not None and (kept.created_at, kept.status) == (1000, "closed")
    assert [e.detail for e in await store.incident_timeline(old.id)] == ["old call"]


async def test_live_records_keep_the_newest_of_each_and_what_is_still_live(store: RecordsStore) -> None:
    unit = UnitState(id="PO11", status="available", since=1000)
    busy = msgspec.structs.replace(unit, status="onscene", since=2000)
    alarm = Alarm(id="panic:PO11", unit="PO11", reason="panic", raised_at=3000, raised_by="po11", alarm="panic")
    await store.archive(
        [
            _archived("units", UnitUpdated(ts=2000, by="ana", unit=busy), 2000),
            _archived("units", UnitUpdated(ts=1000, by="ana", unit=unit), 1000),  # older, archived later
            _archived("alarms", AlarmRaised(ts=3000, by="po11", alarm=alarm), 3000),
            _archived("incidents", IncidentCreated(ts=10, by="ana", incident=_incident("I261203-00042", 10)), 10),
            _archived(
                "incidents", IncidentCreated(ts=11, by="ana", incident=_incident("I261203-00043", 11, "closed")), 11
            ),
        ]
    )
    live = LiveRecords(store)
    units = [msgspec.msgpack.decode(r, type=UnitState) for r in await live.live("units")]
    assert [(u.id, u.status) for u in units] == [("PO11", "onscene")]
    assert len(await live.live("alarms")) == 1
    assert [msgspec.msgpack.decode(r, type=Incident).id for r in await live.open_incidents()] == ["I261203-00042"]
    assert await live.highest_incident_number() == 43
    assert await live.alarms_raised(["panic:PO11", "nothing"]) == {"panic:PO11": 3000}
    acked = msgspec.structs.replace(alarm, state="acknowledged")
    await store.archive(
        [_archived("alarms", AlarmUpdated(ts=4000, by="ana", alarm=acked, action="acknowledged"), 4000)]
    )
    assert await live.live("alarms") == []


def _complaint(number: str, code_hash: str) -> NewComplaint:
    return NewComplaint(
        file_number=number,
        received_at=1_000,
        channel="web",
        taken_by=None,
        kind="complaint",
        police_service="Edmonton Police Service",
        occurred_on="2026-11-01",
        occurred_time="",
        location="Whyte Ave",
        narrative="what happened",
        desired_outcome="",
        name="A. Person",
        email="a@example.org",
        phone="",
        mailing_address="",
        contact_by="email",
        safe_times="",
        ok_to_leave_message=False,
        accessibility="",
        interpreter="",
        consent_share=True,
        stage="received",
        status="received",
        status_code_hash=code_hash,
        intake_entry="1-1",
        officers=[OfficerRow("Cst. Smith", "1234", "")],
        clocks=[ClockStart("acknowledge", 1_000, 9_000, "business")],
    )


async def test_complaints_and_their_numbers(store: RecordsStore) -> None:
    files = ComplaintRecords(store)
    assert await files.highest_file_number() == 0
    assert await files.file(_complaint("PC-2026-00041", "h1"), by="public") is Filing.FILED
    assert await files.file(_complaint("PC-2026-00041", "h1"), by="public") is Filing.FILED_BEFORE
    await IntakeRecords(store).put_dead_letter("complaints", "9-9", "PC-2026-00052", {"a": "b"}, "bad", 3)
    await IntakeRecords(store).put_dead_letter("complaints", "9-9", "PC-2026-00052", {"a": "b"}, "bad", 3)
    assert await files.highest_file_number() == 52
    status = await files.status("PC-2026-00041")
    assert status is not None and (status.acknowledge_due, status.contact_by) == (9_000, "email")
    (letter,) = await store.dead_letters(["complaints"])
    assert (letter.ref, letter.fields) == ("PC-2026-00052", {"a": "b"})
    assert await IntakeRecords(store).claim_replay(letter.id, "sam")
    assert not await IntakeRecords(store).claim_replay(letter.id, "kim")  # one replay however many press
    assert await store.open_dead_letters() == 0


async def test_open311_requests_keys_and_information_requests(store: RecordsStore) -> None:
    referrals = ReferralRecords(store)
    await referrals.issue_api_key("city-311", "hash-1", "cli")
    assert await referrals.api_key_user("hash-1") == "city-311"
    info = NewInfoRequest(
        received_at=1, sender="311", subject="Bylaw question", body="?", status="routed", business_area="Bylaw"
    )
    request = NewServiceRequest(
        id="17",
        token="t17",
        service_code="BYLAW",
        requested_at=1000,
        submitted_by="city-311",
        route="info",
        incident=None,
        agency_responsible="Bylaw",
        description="noise",
        address="",
        address_id="",
        lat=None,
        lon=None,
        media_url="",
        attributes="{}",
        first_name="",
        last_name="",
        email="",
        phone="",
        device_id="",
        account_id="",
    )
    info_id = await referrals.file(request, info)
    assert info_id is not None
    (row,) = await referrals.service_requests(codes=["BYLAW"])
    assert (row.id, row.info_status, row.business_area) == ("17", "routed", "Bylaw")
    assert await referrals.highest_request_id() == 17
    assert await referrals.revoke_api_key("city-311", "cli") and await referrals.api_key_user("hash-1") is None
    office = OfficeRecords(store)
    found = await office.info_request(info_id)
    assert found is not None and found.subject == "Bylaw question"
    investigation = await office.open_investigation("I261203-00001", "use of force", None, "sue")
    await office.change_investigation(investigation, "kim", "assigned", "", "first note", "sue")
    await office.change_investigation(investigation, None, "assigned", "", "second note", "kim")
    opened = await office.investigation(investigation)
    assert opened is not None and [n.text for n in opened.notes] == ["first note", "second note"]


async def test_keys_are_made_once_and_shared(store: RecordsStore) -> None:
    first = await store.shared_key("token-secret", "made-by-hub-a")
    assert first == "made-by-hub-a"
    assert await store.shared_key("token-secret", "made-by-hub-b") == "made-by-hub-a"


async def test_migrations_applied_twice_and_by_hubs_starting_together(records_target: Path | str) -> None:
    """Four hubs open one store at once, then one more opens it again: one schema, no error."""
    stores = [RecordsStore(records_target) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        assert [await s.schema_version() for s in stores] == [len(MIGRATIONS)] * 4
        await stores[0].add_user("ana", Role.DISPATCHER, "pw-ana-1")
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    again = RecordsStore(records_target)
    await again.open()
    try:
        assert await again.schema_version() == len(MIGRATIONS)
        assert [a.name for a in await again.accounts()] == ["ana"]
    finally:
        await again.close()


async def test_an_alarm_raised_again_is_recorded_as_the_new_raising(store: RecordsStore) -> None:
    """status:<unit> is raised, resolved, raised again and acknowledged: the records say when it was
    last raised, and that it was acknowledged (a rebuild then knows its timer fired)."""
    first = Alarm(id="status:U1", unit="U1", reason="over", raised_at=1000, raised_by="system", alarm="status_overdue")
    second = msgspec.structs.replace(first, raised_at=5000)
    events = [
        _archived("alarms", AlarmRaised(ts=1000, by="system", alarm=first), 1000),
        _archived(
            "alarms",
            AlarmUpdated(ts=2000, by="ana", alarm=msgspec.structs.replace(first, state="resolved"), action="resolved"),
            2000,
        ),
        _archived("alarms", AlarmRaised(ts=5000, by="system", alarm=second), 5000),
        _archived(
            "alarms",
            AlarmUpdated(
                ts=6000,
                by="ana",
                alarm=msgspec.structs.replace(second, state="acknowledged", acked_by="ana", acked_at=6000),
                action="acknowledged",
            ),
            6000,
        ),
    ]
    await store.archive(events[:2])
    await store.archive(events[2:])
    assert await LiveRecords(store).alarms_raised(["status:U1"]) == {"status:U1": 5000}
    found = await store.archived_alarm("status:U1")
    assert found is not None and (found.state, found.acked_by, found.raised_at) == ("acknowledged", "ana", 5000)
    await store.archive([_archived("alarms", AlarmRaised(ts=1000, by="system", alarm=first), 1001)])  # a late copy
    found = await store.archived_alarm("status:U1")
    assert found is not None and (found.state, found.raised_at) == ("acknowledged", 5000)


async def test_two_archivers_writing_the_same_rows_at_once_do_not_deadlock(records_target: Path | str) -> None:
    """Two hubs' archivers with batches that touch the same units in opposite orders."""
    stores = [RecordsStore(records_target), RecordsStore(records_target)]
    for s in stores:
        await s.open()
    try:
        for round_ in range(4):
            base = 10_000 * (round_ + 1)
            forward = [
                _archived(
                    "units", UnitUpdated(ts=base + n, by="a", unit=UnitState(id=f"U{n}", status="available")), base + n
                )
                for n in range(300)
            ]
            backward = [
                _archived(
                    "units",
                    UnitUpdated(ts=base + n, by="b", unit=UnitState(id=f"U{n}", status="onscene")),
                    base + 500 + (300 - n),
                )
                for n in reversed(range(300))  # the same units, the other way round
            ]
            await asyncio.gather(stores[0].archive(forward), stores[1].archive(backward))
        units = [msgspec.msgpack.decode(r, type=UnitState) for r in await LiveRecords(stores[0]).live("units")]
        assert len(units) == 300 and {u.status for u in units} == {"onscene"}  # the later events won
    finally:
        for s in stores:
            await s.close()
