"""The intake lane's own rows: its dead-letter list (kept, then claimed for a replay).
All their SQL is here; reading the list is in the store
(``RecordsStore.dead_letters``) and the lane itself in ``server.intake``."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from server.records.store import RecordsStore

__all__ = ["IntakeRecords"]


class IntakeRecords:
    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    async def put_dead_letter(
        self, stream: str, entry_id: str, ref: str, fields: Mapping[str, str], reason: str, attempts: int
    ) -> None:
        """Keep an entry that could not be filed, and its audit row, in one transaction.
        Idempotent by (stream, entry id): an entry dead-lettered twice is kept once."""
        async with self.store.transaction() as db:
            await db.execute(
                "INSERT INTO intake_dead_letters(stream, entry_id, ref, fields, reason, attempts, at)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (stream, entry_id, ref, json.dumps(dict(fields)), reason[:2000], attempts, int(time.time() * 1000)),
            )
            await self.store.audit("intake", "intake.dead_letter", ref or entry_id, reason[:500])

    async def claim_replay(self, letter_id: int, by: str) -> bool:
        """Mark a dead letter replayed by ``by``. -> False if it was replayed already (one replay
        however many press the button at once)."""
        async with self.store.transaction() as db:
            changed = await db.execute(
                "UPDATE intake_dead_letters SET replayed_at=?, replayed_by=? WHERE id=? AND replayed_at IS NULL",
                (int(time.time() * 1000), by, letter_id),
            )
            return changed > 0

    async def release_replay(self, letter_id: int) -> None:
        """Undo ``claim_replay`` (the entry could not be queued again after all)."""
        async with self.store.transaction() as db:
            await db.execute(
                "UPDATE intake_dead_letters SET replayed_at=NULL, replayed_by=NULL WHERE id=?", (letter_id,)
            )
