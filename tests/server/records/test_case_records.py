"""The case workspace's store, on each engine in turn (the ``store`` fixture runs every test on SQLite
and on PostgreSQL): a change written whole or not at all, the version check, the officer register
across files, the queue's order and filters, the caseload, clock announcements written once."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from server.records.cases import (
    AllegationWrite,
    CaseChange,
    CaseRecords,
    ClockRow,
    NoSuchFile,
    QueueFilter,
    ReferralWrite,
    VersionConflict,
)
from server.records.complaints import ClockStart, ComplaintRecords, Filing
from server.records.store import RecordsStore
from tests.server.records.test_store_suite import _complaint

DAY = 86_400_000


async def _filed(store: RecordsStore, number: str, due: int = 9_000, warn: int | None = None) -> None:
    c = dataclasses.replace(
        _complaint(number, f"hash-{number}"), clocks=[ClockStart("acknowledge", 1_000, due, "business", warn)]
    )
    assert await ComplaintRecords(store).file(c, by="public") is Filing.FILED


def _allegation(kind: str, badge: str, name: str = "Cst. Smith", id_: int | None = None) -> AllegationWrite:
    return AllegationWrite(id_, kind, 3, f"{kind} summary", None, "", name, badge, "Edmonton Police Service")


async def test_a_change_is_written_whole_with_its_timeline_and_audit_and_the_version_moves(
    store: RecordsStore,
) -> None:
    """One act writes the file, its allegations, a referral, a message and the timeline line together."""
    await _filed(store, "PC-2026-00001")
    cases = CaseRecords(store)
    change = CaseChange(act="allegation", by="cora", detail="two allegations")
    change.fields["stage"] = "screening"
    change.allegations = [_allegation("discourtesy", "4411"), _allegation("neglect_of_duty", "4411")]
    change.referrals = [
        ReferralWrite(None, body="Edmonton Police Service", level=5, sent_at=2_000, follow_up_due=5_000)
    ]
    change.messages = [("out", "email", "a@example.org", "request_info", "Could you tell us more?")]
    version = await cases.apply("PC-2026-00001", 1, change)
    assert version == 2
    f = await cases.file("PC-2026-00001")
    assert f is not None
    assert f.stage == "screening" and f.version == 2 and f.changed_by == "cora"
    assert [a.type for a in f.allegations] == ["discourtesy", "neglect_of_duty"]
    assert {a.officer for a in f.allegations} == {f.allegations[0].officer}  # one officer in the register
    assert [t.act for t in f.timeline] == ["received", "allegation"]
    assert f.referrals[0].body == "Edmonton Police Service" and f.messages[0].purpose == "request_info"
    audited = await store._rows("SELECT actor, action FROM audit WHERE subject=?", ("PC-2026-00001",))
    assert ("cora", "case.allegation") in [tuple(r) for r in audited]


async def test_a_save_from_an_old_version_writes_nothing(store: RecordsStore) -> None:
    """The second of two saves from version 1 is refused with who changed it; none of it is kept."""
    await _filed(store, "PC-2026-00002")
    cases = CaseRecords(store)
    await cases.apply("PC-2026-00002", 1, CaseChange(act="edit", by="cora", fields={"summary": "Cora's"}))
    late = CaseChange(act="edit", by="dev", fields={"summary": "Dev's"}, allegations=[_allegation("bias", "9")])
    with pytest.raises(VersionConflict) as refused:
        await cases.apply("PC-2026-00002", 1, late)
    assert refused.value.version == 2 and refused.value.changed_by == "cora"
    f = await cases.file("PC-2026-00002")
    assert f is not None and f.summary == "Cora's" and f.allegations == []
    with pytest.raises(NoSuchFile):
        await cases.apply("PC-2099-00009", 1, CaseChange(act="edit", by="cora"))


async def test_the_officer_register_keeps_history_across_files(store: RecordsStore) -> None:
    """The same badge in the same service on two files is one officer, with both files in the history."""
    for n in ("PC-2026-00003", "PC-2026-00004"):
        await _filed(store, n)
        await CaseRecords(store).apply(
            n, 1, CaseChange(act="allegation", by="cora", allegations=[_allegation("discourtesy", "77", name="")])
        )
    f = await CaseRecords(store).file("PC-2026-00004")
    assert f is not None
    officer = f.allegations[0].officer
    assert officer is not None
    history = await CaseRecords(store).officer_history(officer)
    assert [h.file_number for h in history] == ["PC-2026-00003", "PC-2026-00004"]


async def test_the_queue_puts_the_most_at_risk_first_and_filters(store: RecordsStore) -> None:
    """Overdue before due soon before later; filters by assignee, overdue, at risk and text."""
    now = 100 * DAY
    await _filed(store, "PC-2026-00010", due=now + 30 * DAY, warn=now + 20 * DAY)
    await _filed(store, "PC-2026-00011", due=now - DAY)  # overdue
    await _filed(store, "PC-2026-00012", due=now + 2 * DAY, warn=now - DAY)  # due soon
    cases = CaseRecords(store)
    await cases.apply("PC-2026-00012", 1, CaseChange(act="assign", by="lena", fields={"assignee": "cora"}))
    await cases.apply("PC-2026-00010", 1, CaseChange(act="edit", by="cora", fields={"summary": "force at the LRT"}))
    order = [r.file_number for r in await cases.queue(QueueFilter(), now)]
    assert order == ["PC-2026-00011", "PC-2026-00012", "PC-2026-00010"]
    assert [r.file_number for r in await cases.queue(QueueFilter(overdue=True), now)] == ["PC-2026-00011"]
    risky = [r.file_number for r in await cases.queue(QueueFilter(at_risk=True), now)]
    assert risky == ["PC-2026-00011", "PC-2026-00012"]
    assert [r.file_number for r in await cases.queue(QueueFilter(assignee="cora"), now)] == ["PC-2026-00012"]
    assert [r.file_number for r in await cases.queue(QueueFilter(text="LRT"), now)] == ["PC-2026-00010"]
    assert [r.file_number for r in await cases.queue(QueueFilter(text="1234"), now)] != []  # a badge named
    load = {r.assignee: (r.open, r.at_risk, r.overdue) for r in await cases.caseload(now)}
    assert load == {None: (2, 0, 1), "cora": (1, 1, 0)}


async def test_a_clock_turn_is_announced_once_however_many_try(store: RecordsStore) -> None:
    """Five announcers of the same turn at once: one writes it."""
    await _filed(store, "PC-2026-00020")
    cases = CaseRecords(store)
    done = await asyncio.gather(
        *(cases.announce("PC-2026-00020", "acknowledge", "running", "overdue", "clock", "x") for _ in range(5))
    )
    assert sorted(done) == [False, False, False, False, True]
    lines = await store._rows(
        "SELECT act FROM case_timeline WHERE file_number=? AND act='clock.overdue'", ("PC-2026-00020",)
    )
    assert len(lines) == 1


async def test_clocks_paused_or_stopped_do_not_count_in_the_queue(store: RecordsStore) -> None:
    """A paused clock drops out of the file's next due: waiting on the complainant is not overdue."""
    await _filed(store, "PC-2026-00030", due=5 * DAY)
    cases = CaseRecords(store)
    paused = ClockRow("acknowledge", 1_000, 5 * DAY, "business", paused_at=2 * DAY, remaining=3)
    await cases.apply(
        "PC-2026-00030", 1, CaseChange(act="request_info", by="cora", clocks=[paused], fields={"stage": "waiting"})
    )
    assert await cases.queue(QueueFilter(overdue=True), 100 * DAY) == []
    counting = [n for n, _ in await cases.counting_clocks()]
    assert "PC-2026-00030" not in counting
