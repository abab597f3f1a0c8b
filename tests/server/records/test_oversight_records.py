"""The stores of letters, oversight and access requests, on each engine in turn (the ``store``
fixture runs every test on SQLite and on PostgreSQL): a letter numbered once and issued with its
hash, never changed after; early-warning state raised once per crossing; a review saved once done;
transitory records disposed of without content; the audit trail filtered; an access request's
records and boxes refused once it is under review, and its release numbered and hashed."""

from __future__ import annotations

import hashlib

import pytest

from server.records.access import AccessChange, AccessRecords, NewRequest, NotGathering, RequestConflict
from server.records.cases import AllegationWrite, CaseChange, CaseRecords, ClockRow
from server.records.letters import LetterConflict, LetterRecords
from server.records.oversight import OversightRecords
from server.records.store import RecordsStore
from tests.server.records.test_case_records import _filed


async def test_a_letter_is_numbered_once_issued_with_its_hash_and_then_fixed(store: RecordsStore) -> None:
    await _filed(store, "PC-2026-00011")
    letters = LetterRecords(store)
    lid = await letters.draft("PC-2026-00011", "acknowledgement", "cora", "<p>Hi</p>", ("email", "standard", "a@x.org"))
    first = await letters.letter(lid)
    assert first is not None and first.state == "draft" and first.hands == []
    sent = await letters.move(lid, first.version, "submitted", "cora", "submitted")
    assert sent.hands == ["cora"]
    with pytest.raises(LetterConflict):
        await letters.move(lid, first.version, "submitted", "cora", "again")
    number = await letters.number_for(lid, "PC", 1_790_000_000_000)
    assert await letters.number_for(lid, "PC", 1_790_000_000_000) == number  # the same number when tried again
    issued = await letters.issue(lid, sent.version, "lena", "", number, b"%PDF-1.7 test", 1_790_000_000_000)
    assert issued.state == "issued" and issued.sha256 == hashlib.sha256(b"%PDF-1.7 test").hexdigest()
    with pytest.raises(LetterConflict):
        await letters.move(lid, issued.version, "draft", "cora", "edit", body="<p>changed</p>")
    assert (await letters.pdf(lid)) == (number, issued.sha256, b"%PDF-1.7 test")
    waiting = await letters.waiting(("submitted",))
    assert lid not in [x.id for x in waiting]


async def test_early_warning_state_raises_a_flag_once_per_crossing(store: RecordsStore) -> None:
    await _filed(store, "PC-2026-00012")
    cases = CaseRecords(store)
    change = CaseChange(act="allegation", by="cora")
    change.allegations = [
        AllegationWrite(None, "discourtesy", 3, "rude", None, "", "Reyes", "9", "Edmonton Police Service")
    ]
    await cases.apply("PC-2026-00012", 1, change)
    records = OversightRecords(store)
    (officer,) = await records.officers_of("PC-2026-00012")
    rule = frozenset({"any"})
    made = await records.record_warnings(officer, rule, frozenset(), [("any", 1, ["PC-2026-00012"])])
    again = await records.record_warnings(officer, rule, frozenset(), [("any", 1, ["PC-2026-00012"])])
    assert len(made) == 1 and again == []  # two assessors at once: one flag
    assert await records.above(officer) == rule
    await records.record_warnings(officer, frozenset(), rule, [])
    assert await records.above(officer) == frozenset()
    anew = await records.record_warnings(officer, rule, frozenset(), [("any", 2, ["PC-2026-00012"])])
    assert len(anew) == 1
    flag = await records.warning(anew[0][0])
    assert flag is not None and flag.officer_badge == "9" and flag.files == ["PC-2026-00012"]
    assert await records.seen(flag.id, "lena") and not await records.seen(flag.id, "lena")
    assert (await records.service_counts("Edmonton Police Service", 0))[officer] == 1
    assert officer in await records.officers_since(0)


async def test_reviews_retention_and_the_audit_trail(store: RecordsStore) -> None:
    await _filed(store, "PC-2026-00013")
    records = OversightRecords(store)
    rid = await records.open_review("PC-2026-00013", "audit", "2026-11", {"clocks_met": "no"})
    assert rid is not None and await records.open_review("PC-2026-00013", "audit", "2026-11", {}) is None
    await records.save_review(rid, "lena", {"clocks_met": "no"}, ["clock missed"], "", True)
    await records.save_review(rid, "mo", {"clocks_met": "yes"}, [], "", True)  # done: kept as it was
    review = await records.review(rid)
    assert review is not None and review.reviewer == "lena" and review.findings == ["clock missed"]
    letters = LetterRecords(store)
    old = await letters.draft("PC-2026-00013", "closing", "cora", "<p>draft</p>", ("email", "standard", ""))
    await CaseRecords(store).apply(
        "PC-2026-00013", 1, CaseChange(act="note", by="cora", detail="call back Tuesday", transitory=True)
    )
    letters_gone, notes_gone = await records.dispose_transitory(10**15, "transitory, 90 days")
    assert (letters_gone, notes_gone) == (1, 1) and await letters.letter(old) is None
    kinds = sorted(d.kind for d in await records.disposals())
    assert kinds == ["letter draft", "working note"]
    rows = await store.audit_export(None, "PC-2026-00013", 0, None, 100)
    assert rows and all(r[4] == "PC-2026-00013" for r in rows)
    assert await store.audit_export("nobody", None, None, None, 10) == []


async def test_an_access_request_is_fixed_once_under_review_and_its_release_numbered(store: RecordsStore) -> None:
    access = AccessRecords(store)
    clock = ClockRow("response", 1_000, 9_000, "business")
    number = await access.receive(
        NewRequest(1_000, "mail", "Sam", "", "", "1 Elm St", "mail", "my records", ["complaint files"]),
        "ari",
        "AR",
        clock,
    )
    doc = await access.gather(number, "upload", "notes", "Notes", b"%PDF-1.7 x", 1, "ari")
    boxes = await access.mark(number, [(doc, 0, 0.1, 0.1, 0.2, 0.2, "s.17", "drawn")], "ari", "one box")
    assert len(boxes) == 1 and await access.box_count(number) == 1 and await access.pages(number) == 1
    found = await access.request(number)
    assert found is not None and found.request.hands == ["ari"] and found.boxes[0].reason == "s.17"
    submit = AccessChange("submit", "ari", "submitted", {"stage": "review", "submitted_by": "ari"})
    version = await access.change(number, found.request.version, submit)
    with pytest.raises(NotGathering):
        await access.gather(number, "upload", "late", "Late", b"%PDF late", 1, "ari")
    with pytest.raises(NotGathering):
        await access.mark(number, [(doc, 0, 0.3, 0.3, 0.4, 0.4, "s.17", "drawn")], "ari", "late box")
    with pytest.raises(RequestConflict):
        await access.issue(number, version - 1, AccessChange("release", "rhea", "x"), b"%PDF pkg", [], 3, "rhea")
    rel, rnumber = await access.issue(number, version, AccessChange("release", "rhea", "x"), b"%PDF pkg", [], 3, "rhea")
    assert rnumber == f"{number}-R1"
    got = await access.package(rel)
    assert got is not None and got[2] == hashlib.sha256(b"%PDF pkg").hexdigest()
    assert (await access.request(number)).request.stage == "released"  # type: ignore[union-attr]
    stats = await access.year(0, 10**15)
    assert stats["boxes"] == {"s.17": 1} and len(stats["requests"]) == 1
