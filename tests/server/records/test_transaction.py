"""The store's one transaction: a change and its audit row are written together or not at all,
a store method inside joins it, and transactions of concurrent tasks do not end each other's."""

from __future__ import annotations

import asyncio

import pytest

from server.access.roles import Role
from server.records.complaints import ComplaintRecords, Filing, NewComplaint
from server.records.referrals import ReferralRecords
from server.records.store import RecordsStore


async def _actions(store: RecordsStore) -> list[str]:
    return [a[2] for a in await store.audit_trail()]


async def test_a_change_and_its_audit_row_are_kept_together_or_not_at_all(store: RecordsStore) -> None:
    keys = ReferralRecords(store)
    async with store.transaction():
        await keys.issue_api_key("city-311", "hash-1", "cli")  # joins: it commits nothing itself
        await store.audit("cli", "note")
    assert await keys.has_api_key("city-311")
    assert await _actions(store) == ["note", "apikey.add"]

    with pytest.raises(RuntimeError):
        async with store.transaction():
            await keys.issue_api_key("other-311", "hash-2", "cli")
            raise RuntimeError("something after the write failed")
    assert not await keys.has_api_key("other-311")  # the key and its audit row both rolled back
    assert await _actions(store) == ["note", "apikey.add"]


async def test_one_tasks_rollback_does_not_undo_another_tasks_write(store: RecordsStore) -> None:
    inside = asyncio.Event()

    async def fails() -> None:
        async with store.transaction():
            await store.audit("a", "doomed")
            inside.set()
            await asyncio.sleep(0.05)  # another task writes meanwhile
            raise RuntimeError("rolled back")

    async def writes() -> None:
        await inside.wait()
        await store.add_user("bo", Role.DISPATCHER, "pw-bo-1")

    results = await asyncio.gather(fails(), writes(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1] is None
    assert await store.get_user("bo") is not None  # waited its turn, then committed
    assert await _actions(store) == ["user.add"]


def _complaint(number: str, code: str) -> NewComplaint:
    return NewComplaint(
        file_number=number,
        received_at=1_700_000_000_000,
        channel="web",
        taken_by=None,
        kind="complaint",
        police_service="Edmonton Police Service",
        occurred_on="",
        occurred_time="",
        location="",
        narrative="What happened.",
        desired_outcome="",
        name="",
        email="",
        phone="",
        mailing_address="",
        contact_by="none",
        safe_times="",
        ok_to_leave_message=False,
        accessibility="",
        interpreter="",
        consent_share=True,
        stage="intake",
        status="open",
        status_code_hash=code,
        intake_entry="1-0",
    )


async def test_a_complaint_is_filed_once_and_a_taken_number_is_refused(store: RecordsStore) -> None:
    files = ComplaintRecords(store)
    assert await files.file(_complaint("PC-2026-00007", "h1"), by="public") is Filing.FILED
    assert await files.file(_complaint("PC-2026-00007", "h1"), by="public") is Filing.FILED_BEFORE
    assert await files.file(_complaint("PC-2026-00007", "h2"), by="public") is Filing.NUMBER_TAKEN
    assert await files.highest_file_number() == 7
    found = await files.status("PC-2026-00007")
    assert found is not None and found.code_hash == "h1" and found.contact_by == "none"
    assert await _actions(store) == ["complaint.file"]
