"""Oversight in the store: early-warning flags on officers (and which thresholds each officer is
above), reviews of concluded files and the monthly file audits, what the retention schedule
disposed of, and the audit trail read for export. All their SQL is here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import msgspec

from server.records.store import RecordsStore

__all__ = ["DisposalRow", "OversightRecords", "ReviewRow", "WarningRow"]

_ENDED = "('concluded', 'closed', 'withdrawn', 'dismissed')"


class WarningRow(msgspec.Struct):
    id: int
    officer: int
    officer_name: str
    officer_badge: str
    service: str
    rule: str
    count: int
    files: list[str]
    raised_at: int
    seen_by: str
    seen_at: int | None


class ReviewRow(msgspec.Struct):
    id: int
    file_number: str
    kind: str  # compliance (a file a police service concluded) or audit (the month's sample)
    period: str  # the month, "2026-11"
    police_service: str
    reviewer: str
    checklist: dict[str, str]
    findings: list[str]
    notes: str
    created_at: int
    done_at: int | None


class DisposalRow(msgspec.Struct):
    id: int
    at: int
    file_number: str
    kind: str
    ref: int
    made_at: int
    rule: str


_REVIEW = (
    "SELECT id, file_number, kind, period, police_service, reviewer, checklist, findings, notes, created_at, done_at"
    " FROM case_reviews"
)


_WARNING = (
    "SELECT w.id, w.officer, o.name, o.badge, o.service, w.rule, w.count, w.files, w.raised_at, w.seen_by,"
    " w.seen_at FROM case_warnings w JOIN case_officers o ON o.id = w.officer"
)


def _warning(r: Any) -> WarningRow:
    values: list[Any] = [*r[:7], [f for f in str(r[7]).split(",") if f], *r[8:]]
    return WarningRow(*values)


def _review(r: list[object] | tuple[object, ...]) -> ReviewRow:
    findings = [f for f in str(r[7]).split(",") if f]
    return ReviewRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(str(r[6]) or "{}"), findings, *r[8:])  # type: ignore[arg-type]


class OversightRecords:
    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    # ---- early warning ------------------------------------------------------------

    async def officers_of(self, file_number: str) -> list[int]:
        rows = await self.store._rows(
            "SELECT DISTINCT officer FROM case_allegations WHERE file_number=? AND officer IS NOT NULL", (file_number,)
        )
        return [int(r[0]) for r in rows]

    async def marks(self, officer: int) -> list[tuple[int, str, str, int]]:
        """Every allegation naming the officer: (the file's receipt, file number, type, tier)."""
        rows = await self.store._rows(
            "SELECT c.received_at, a.file_number, a.type, a.tier FROM case_allegations a"
            " JOIN complaints c ON c.file_number = a.file_number WHERE a.officer=? ORDER BY c.received_at",
            (officer,),
        )
        return [(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]

    async def officers_since(self, since_ms: int) -> list[int]:
        """Officers named on files received since then, or above a threshold now."""
        rows = await self.store._rows(
            "SELECT DISTINCT a.officer FROM case_allegations a JOIN complaints c ON c.file_number = a.file_number"
            " WHERE a.officer IS NOT NULL AND c.received_at >= ?"
            " UNION SELECT officer FROM case_warning_state WHERE above <> 0",
            (since_ms,),
        )
        return sorted(int(r[0]) for r in rows)

    async def above(self, officer: int) -> frozenset[str]:
        rows = await self.store._rows("SELECT rule FROM case_warning_state WHERE officer=? AND above <> 0", (officer,))
        return frozenset(str(r[0]) for r in rows)

    async def record_warnings(
        self, officer: int, above: frozenset[str], was: frozenset[str], raised: Iterable[tuple[str, int, list[str]]]
    ) -> list[tuple[int, str, int]]:
        """Keep which thresholds the officer is above now, and raise a flag for each newly crossed,
        only if the officer was still below it (two hubs assessing at once raise it once).
        -> (flag id, threshold, count) of each flag raised."""
        now = int(time.time() * 1000)
        made: list[tuple[int, str, int]] = []
        async with self.store.transaction() as db:
            for rule, count, files in raised:
                done = await db.execute(
                    "INSERT INTO case_warning_state(officer, rule, above) VALUES (?,?,1)"
                    " ON CONFLICT (officer, rule) DO UPDATE SET above=1 WHERE case_warning_state.above = 0",
                    (officer, rule),
                )
                if done == 0:
                    continue  # above it already: raised before
                got = await db.rows(
                    "INSERT INTO case_warnings(officer, rule, count, files, raised_at) VALUES (?,?,?,?,?) RETURNING id",
                    (officer, rule, count, ",".join(files), now),
                )
                made.append((int(got[0][0]), rule, count))
                await self.store.audit("early-warning", "case.warning.raise", str(officer), rule)
            for rule in was - above:
                await db.execute("UPDATE case_warning_state SET above=0 WHERE officer=? AND rule=?", (officer, rule))
        return made

    async def warnings(self, unseen_only: bool = False, limit: int = 500) -> list[WarningRow]:
        sql = _WARNING
        if unseen_only:
            sql += " WHERE w.seen_at IS NULL"
        rows = await self.store._rows(sql + " ORDER BY w.id DESC LIMIT ?", (limit,))
        return [_warning(r) for r in rows]

    async def warning(self, warning_id: int) -> WarningRow | None:
        found = await self.store._row(f"{_WARNING} WHERE w.id=?", (warning_id,))
        return _warning(found) if found else None

    async def seen(self, warning_id: int, by: str) -> bool:
        async with self.store.transaction() as db:
            done = await db.execute(
                "UPDATE case_warnings SET seen_by=?, seen_at=? WHERE id=? AND seen_at IS NULL",
                (by, int(time.time() * 1000), warning_id),
            )
            if done:
                await self.store.audit(by, "case.warning.seen", str(warning_id))
        return bool(done)

    async def service_counts(self, service: str, since_ms: int) -> dict[int, int]:
        """Allegations per officer of a service on files received since then (every officer of the
        service in the register, with 0 for those with none in the window)."""
        rows = await self.store._rows(
            "SELECT o.id, (SELECT COUNT(*) FROM case_allegations a JOIN complaints c ON c.file_number = a.file_number"
            " WHERE a.officer = o.id AND c.received_at >= ?) FROM case_officers o WHERE o.service = ?",
            (since_ms, service),
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def officer(self, officer: int) -> tuple[str, str, str] | None:
        found = await self.store._row("SELECT name, badge, service FROM case_officers WHERE id=?", (officer,))
        return (str(found[0]), str(found[1]), str(found[2])) if found else None

    # ---- reviews and audits -------------------------------------------------------

    async def open_review(self, file_number: str, kind: str, period: str, checklist: dict[str, str]) -> int | None:
        """A review to do (once per file, kind and period). -> its id, or None if it was there."""
        now = int(time.time() * 1000)
        async with self.store.transaction() as db:
            got = await db.rows(
                "INSERT INTO case_reviews(file_number, kind, period, police_service, checklist, created_at)"
                " SELECT file_number, ?, ?, police_service, ?, ? FROM complaints WHERE file_number=?"
                " ON CONFLICT (file_number, kind, period) DO NOTHING RETURNING id",
                (kind, period, json.dumps(checklist, sort_keys=True), now, file_number),
            )
        return int(got[0][0]) if got else None

    async def reviews(self, kind: str | None = None, period: str | None = None, limit: int = 500) -> list[ReviewRow]:
        where: list[str] = []
        args: list[Any] = []
        if kind:
            where.append("kind=?")
            args.append(kind)
        if period:
            where.append("period=?")
            args.append(period)
        sql = _REVIEW + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id DESC LIMIT ?"
        return [_review(r) for r in await self.store._rows(sql, (*args, limit))]

    async def review(self, review_id: int) -> ReviewRow | None:
        found = await self.store._row(_REVIEW + " WHERE id=?", (review_id,))
        return _review(found) if found else None

    async def save_review(
        self, review_id: int, by: str, checklist: dict[str, str], findings: list[str], notes: str, done: bool
    ) -> None:
        now = int(time.time() * 1000)
        async with self.store.transaction() as db:
            await db.execute(
                "UPDATE case_reviews SET reviewer=?, checklist=?, findings=?, notes=?, done_at=? WHERE id=?"
                " AND done_at IS NULL",
                (
                    by,
                    json.dumps(checklist, sort_keys=True),
                    ",".join(findings),
                    notes,
                    now if done else None,
                    review_id,
                ),
            )
            found = await db.row("SELECT file_number, kind FROM case_reviews WHERE id=?", (review_id,))
            if found is not None:
                what = "compliance review" if found[1] == "compliance" else "file audit"
                said = f"{what} {'done' if done else 'saved'}" + (f": {', '.join(findings)}" if findings else "")
                await db.execute(
                    "INSERT INTO case_timeline(file_number, at, by, act, detail, acting_for) VALUES (?,?,?,?,?,'')",
                    (found[0], now, by, f"review.{found[1]}", said),
                )
                await self.store.audit(by, f"case.review.{found[1]}", str(found[0]), f"review={review_id}")

    async def files_ended_between(self, since_ms: int, until_ms: int) -> list[str]:
        """Files concluded, closed, withdrawn or dismissed in a period (last changed in it): what a
        month's audit draws from."""
        rows = await self.store._rows(
            f"SELECT file_number FROM complaints WHERE stage IN {_ENDED} AND updated_at >= ? AND updated_at < ?",
            (since_ms, until_ms),
        )
        return [str(r[0]) for r in rows]

    # ---- retention ----------------------------------------------------------------

    async def dispose_transitory(self, before_ms: int, rule: str) -> tuple[int, int]:
        """Dispose of transitory records last touched before then: drafts never issued, working
        notes marked transitory. Each is logged with no content. -> (letters, notes)."""
        now = int(time.time() * 1000)
        async with self.store.transaction() as db:
            drafts = await db.rows(
                "SELECT id, file_number, created_at FROM case_letters"
                " WHERE state IN ('draft', 'returned') AND updated_at < ?",
                (before_ms,),
            )
            notes = await db.rows(
                "SELECT id, file_number, at FROM case_timeline WHERE transitory <> 0 AND at < ?", (before_ms,)
            )
            log = [(now, r[1], "letter draft", r[0], r[2], rule) for r in drafts]
            log += [(now, r[1], "working note", r[0], r[2], rule) for r in notes]
            await db.executemany(
                "INSERT INTO case_disposals(at, file_number, kind, ref, made_at, rule) VALUES (?,?,?,?,?,?)", log
            )
            await db.executemany("DELETE FROM case_letter_numbers WHERE letter=?", [(r[0],) for r in drafts])
            await db.executemany("DELETE FROM case_letters WHERE id=?", [(r[0],) for r in drafts])
            await db.executemany("DELETE FROM case_timeline WHERE id=?", [(r[0],) for r in notes])
            if log:
                await self.store.audit("retention", "case.dispose", "", f"letters={len(drafts)} notes={len(notes)}")
        return len(drafts), len(notes)

    async def disposals(self, limit: int = 500) -> list[DisposalRow]:
        rows = await self.store._rows(
            "SELECT id, at, file_number, kind, ref, made_at, rule FROM case_disposals ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [DisposalRow(*r) for r in rows]
