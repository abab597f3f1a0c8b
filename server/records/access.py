"""Access-to-information requests in the store: the request log, each request's clock and
timeline, the records gathered for it (kept as they came, never changed), the redaction boxes
marked on them, and the release packages issued. All their SQL is here; what may be done to a
request is ``server.cases.rules.access``'s to say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from server.records.cases import ClockRow
from server.records.engine import Tx
from server.records.store import RecordsStore

__all__ = [
    "AccessChange",
    "AccessRecords",
    "AccessRequest",
    "BoxRow",
    "DocumentRow",
    "NewRequest",
    "ReleaseRow",
    "RequestConflict",
    "NotGathering",
    "RequestRow",
    "TimelineLine",
]

_REQUEST = (
    "number, version, received_at, channel, requester_name, requester_email, requester_phone, requester_address,"
    " contact_by, scope, systems, assignee, stage, resume_to, submitted_by, released_at, ended_reason, created_by,"
    " updated_at, changed_by, hands"
)
_CLOCK = (
    "clock, started_at, due_at, day_kind, warn_at, paused_at, remaining, extended_at, original_due, met_at,"
    " stopped, announced, extension"
)
_SETTABLE = frozenset({"assignee", "stage", "resume_to", "submitted_by", "released_at", "ended_reason", "hands"})


class NotGathering(Exception):
    """The request is no longer being gathered (submitted for review, released): nothing was written."""


class RequestConflict(Exception):
    def __init__(self, version: int, changed_by: str) -> None:
        super().__init__(f"changed by {changed_by} (now version {version})")
        self.version = version
        self.changed_by = changed_by


class RequestRow(msgspec.Struct):
    number: str
    version: int
    received_at: int
    channel: str
    requester_name: str
    requester_email: str
    requester_phone: str
    requester_address: str
    contact_by: str
    scope: str
    systems: list[str]
    assignee: str | None
    stage: str
    resume_to: str
    submitted_by: str
    released_at: int | None
    ended_reason: str
    created_by: str
    updated_at: int
    changed_by: str
    hands: list[str]  # who gathered, marked or unmarked since it was last returned: not its reviewer


class TimelineLine(msgspec.Struct):
    id: int
    at: int
    by: str
    act: str
    detail: str


class DocumentRow(msgspec.Struct):
    id: int
    kind: str  # complaint, letter, incident, upload
    ref: str
    title: str
    sha256: str
    pages: int
    size: int
    added_by: str
    added_at: int


class BoxRow(msgspec.Struct):
    id: int
    document: int
    page: int  # from 0
    x0: float  # fractions of the page, from its top left
    y0: float
    x1: float
    y1: float
    reason: str
    source: str  # "drawn", or "match: <what was searched>"
    by: str
    at: int


class ReleaseRow(msgspec.Struct):
    id: int
    kind: str  # release (the package), or notice (an extension's notice to the requester)
    number: str
    sha256: str
    parts: list[dict[str, Any]]
    pages: int
    released_by: str
    reviewed_by: str
    at: int
    size: int


class AccessRequest(msgspec.Struct):
    request: RequestRow
    clock: ClockRow | None
    timeline: list[TimelineLine]
    documents: list[DocumentRow]
    boxes: list[BoxRow]
    releases: list[ReleaseRow]


@dataclass(frozen=True, slots=True)
class NewRequest:
    received_at: int
    channel: str
    requester_name: str
    requester_email: str
    requester_phone: str
    requester_address: str
    contact_by: str
    scope: str
    systems: list[str]


@dataclass(slots=True)
class AccessChange:
    act: str
    by: str
    detail: str
    fields: dict[str, Any] = field(default_factory=dict)
    clock: ClockRow | None = None


def _request(r: Any) -> RequestRow:
    values = list(r)
    values[10] = [x for x in str(values[10]).split("\n") if x]
    values[20] = [x for x in str(values[20]).split(",") if x]
    return RequestRow(*values)


def _clock(r: Any) -> ClockRow:
    row = ClockRow(*r[:12])
    row.extension = str(r[12])
    return row


class AccessRecords:
    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    # ---- reading ------------------------------------------------------------------

    async def request(self, number: str) -> AccessRequest | None:
        s = self.store
        row = await s._row(f"SELECT {_REQUEST} FROM access_requests WHERE number=?", (number,))
        if row is None:
            return None
        key = (number,)
        clock = await s._row(f"SELECT {_CLOCK} FROM access_clocks WHERE request=? AND clock='response'", key)
        lines = await s._rows("SELECT id, at, by, act, detail FROM access_timeline WHERE request=? ORDER BY id", key)
        docs = await s._rows(
            "SELECT id, kind, ref, title, sha256, pages, length(pdf), added_by, added_at FROM access_documents"
            " WHERE request=? ORDER BY id",
            key,
        )
        boxes = await s._rows(
            "SELECT b.id, b.document, b.page, b.x0, b.y0, b.x1, b.y1, b.reason, b.source, b.by, b.at"
            " FROM access_boxes b JOIN access_documents d ON d.id = b.document"
            " WHERE d.request=? AND b.removed_at IS NULL ORDER BY b.id",
            key,
        )
        releases = await s._rows(
            "SELECT id, kind, number, sha256, parts, pages, released_by, reviewed_by, at, length(package)"
            " FROM access_releases WHERE request=? ORDER BY id",
            key,
        )
        return AccessRequest(
            request=_request(row),
            clock=_clock(clock) if clock else None,
            timeline=[TimelineLine(*x) for x in lines],
            documents=[DocumentRow(*d) for d in docs],
            boxes=[BoxRow(*b) for b in boxes],
            releases=[ReleaseRow(r[0], r[1], r[2], r[3], json.loads(r[4]), *r[5:]) for r in releases],
        )

    async def log(self, open_only: bool, limit: int = 500) -> list[tuple[RequestRow, ClockRow | None]]:
        where = "WHERE r.stage NOT IN ('released', 'withdrawn')" if open_only else ""
        cols = ", ".join("r." + c.strip() for c in _REQUEST.split(","))
        kcols = ", ".join("k." + c.strip() for c in _CLOCK.split(","))
        rows = await self.store._rows(
            f"SELECT {cols}, {kcols} FROM access_requests r LEFT JOIN access_clocks k"
            f" ON k.request = r.number AND k.clock = 'response' {where} ORDER BY k.due_at IS NULL, k.due_at,"
            " r.received_at LIMIT ?",
            (limit,),
        )
        return [(_request(r[:21]), _clock(r[21:]) if r[21] is not None else None) for r in rows]

    async def document(self, doc_id: int) -> tuple[str, str, bytes] | None:
        """(request, sha256, the PDF as it came) of a gathered record."""
        found = await self.store._row("SELECT request, sha256, pdf FROM access_documents WHERE id=?", (doc_id,))
        return (str(found[0]), str(found[1]), bytes(found[2])) if found else None

    async def documents(self, number: str) -> list[tuple[DocumentRow, bytes]]:
        rows = await self.store._rows(
            "SELECT id, kind, ref, title, sha256, pages, length(pdf), added_by, added_at, pdf FROM access_documents"
            " WHERE request=? ORDER BY id",
            (number,),
        )
        return [(DocumentRow(*r[:9]), bytes(r[9])) for r in rows]

    async def package(self, release_id: int) -> tuple[str, str, str, bytes] | None:
        found = await self.store._row(
            "SELECT request, number, sha256, package FROM access_releases WHERE id=?", (release_id,)
        )
        return (str(found[0]), str(found[1]), str(found[2]), bytes(found[3])) if found else None

    async def counting(self) -> list[tuple[str, ClockRow]]:
        """Every response clock still counting: what the sweep's due set is seeded from."""
        rows = await self.store._rows(
            f"SELECT request, {_CLOCK} FROM access_clocks WHERE met_at IS NULL AND stopped = '' AND paused_at IS NULL"
        )
        return [(str(r[0]), _clock(r[1:])) for r in rows]

    async def year(self, since_ms: int, until_ms: int) -> dict[str, Any]:
        """What the annual statistics count: requests received in the period with their clock, and
        the boxes of every release."""
        rows = await self.store._rows(
            "SELECT r.number, r.stage, r.released_at, k.due_at, k.extension, k.met_at, k.original_due"
            " FROM access_requests r"
            " LEFT JOIN access_clocks k ON k.request = r.number AND k.clock = 'response'"
            " WHERE r.received_at >= ? AND r.received_at < ?",
            (since_ms, until_ms),
        )
        boxes = await self.store._rows(
            "SELECT b.reason, COUNT(*) FROM access_boxes b JOIN access_documents d ON d.id = b.document"
            " JOIN access_requests r ON r.number = d.request WHERE r.received_at >= ? AND r.received_at < ?"
            " AND r.stage = 'released' AND b.removed_at IS NULL GROUP BY b.reason",
            (since_ms, until_ms),
        )
        return {"requests": [tuple(r) for r in rows], "boxes": {str(r[0]): int(r[1]) for r in boxes}}

    # ---- writing ------------------------------------------------------------------

    async def receive(self, new: NewRequest, by: str, prefix: str, clock: ClockRow) -> str:
        """A request logged: its number (never given twice), its clock started, the first line."""
        now = int(time.time() * 1000)
        year = dt.datetime.fromtimestamp(new.received_at / 1000, dt.UTC).year
        async with self.store.transaction() as db:
            n = await db.rows("INSERT INTO access_request_numbers(year) VALUES (?) RETURNING n", (year,))
            number = f"{prefix}-{year}-{int(n[0][0]):05d}"
            await db.execute(
                f"INSERT INTO access_requests({_REQUEST}) VALUES ({','.join('?' * 21)})",
                (
                    number, 1, new.received_at, new.channel, new.requester_name, new.requester_email,
                    new.requester_phone, new.requester_address, new.contact_by, new.scope, "\n".join(new.systems),
                    None, "received", "", "", None, "", by, now, by, "",
                ),
            )  # fmt: skip
            await self._write_clock(db, number, clock)
            await self._line(db, number, now, by, "received", f"received by {new.channel}")
            await self.store.audit(by, "access.receive", number)
        return number

    async def change(self, number: str, expect_version: int, change: AccessChange) -> int:
        bad = set(change.fields) - _SETTABLE
        if bad:
            raise ValueError(f"not columns a change may set: {sorted(bad)}")
        now = int(time.time() * 1000)
        names = list(change.fields)
        sets = "".join(f", {n}=?" for n in names)
        async with self.store.transaction() as db:
            done = await db.execute(
                f"UPDATE access_requests SET version=version+1, updated_at=?, changed_by=?{sets}"
                " WHERE number=? AND version=?",
                (now, change.by, *(change.fields[n] for n in names), number, expect_version),
            )
            if done == 0:
                found = await db.row("SELECT version, changed_by FROM access_requests WHERE number=?", (number,))
                if found is None:
                    raise LookupError(number)
                raise RequestConflict(int(found[0]), str(found[1]))
            if change.clock is not None:
                await self._write_clock(db, number, change.clock)
            await self._line(db, number, now, change.by, change.act, change.detail)
            await self.store.audit(change.by, f"access.{change.act}", number)
            row = await db.row("SELECT version FROM access_requests WHERE number=?", (number,))
        assert row is not None
        return int(row[0])

    async def _touch(self, db: Tx, number: str, by: str, now: int) -> None:
        """The request changes under what is gathered: its version moves on (a review of the old
        version cannot release the new) and this person's hand is on it (they cannot be its second
        reviewer). Only while it is received or being gathered; else NotGathering."""
        found = await db.row("SELECT stage, hands FROM access_requests WHERE number=?", (number,))
        if found is None:
            raise LookupError(number)
        hands = [h for h in str(found[1]).split(",") if h]
        done = await db.execute(
            "UPDATE access_requests SET version=version+1, updated_at=?, changed_by=?, hands=?"
            " WHERE number=? AND stage IN ('received', 'gathering')",
            (now, by, ",".join(sorted({*hands, by})), number),
        )
        if done == 0:
            raise NotGathering(number)

    async def gather(
        self, number: str, kind: str, ref: str, title: str, pdf: bytes, pages: int, by: str, case_file: str = ""
    ) -> int:
        """A record gathered, kept as it came. A complaint file's record is also written on that
        file's timeline and audited under its number: the file shows who took it for which request."""
        now = int(time.time() * 1000)
        digest = hashlib.sha256(pdf).hexdigest()
        async with self.store.transaction() as db:
            await self._touch(db, number, by, now)
            made = await db.rows(
                "INSERT INTO access_documents(request, kind, ref, title, pdf, sha256, pages, added_by, added_at)"
                " VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
                (number, kind, ref, title, pdf, digest, pages, by, now),
            )
            doc = int(made[0][0])
            await self._line(db, number, now, by, "gathered", f"{title} ({pages} pages, SHA-256 {digest[:16]})")
            await self.store.audit(by, "access.gather", number, f"document={doc} {kind} {ref}")
            if case_file:
                await db.execute(
                    "INSERT INTO case_timeline(file_number, at, by, act, detail, acting_for) VALUES (?,?,?,?,?,'')",
                    (case_file, now, by, "access.gathered", f"{title} gathered for access request {number}"),
                )
                await self.store.audit(by, "access.gather.file", case_file, f"request={number} document={doc}")
        return doc

    async def mark(
        self, number: str, boxes: Iterable[tuple[int, int, float, float, float, float, str, str]], by: str, detail: str
    ) -> list[int]:
        """Boxes added (document, page, x0, y0, x1, y1, reason, source)."""
        now = int(time.time() * 1000)
        made: list[int] = []
        rows = list(boxes)
        async with self.store.transaction() as db:
            await self._touch(db, number, by, now)
            await db.executemany(
                "INSERT INTO access_boxes(document, page, x0, y0, x1, y1, reason, source, by, at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(*b, by, now) for b in rows],
            )
            got = await db.rows(
                "SELECT b.id FROM access_boxes b JOIN access_documents d ON d.id = b.document"
                " WHERE d.request=? AND b.at=? AND b.by=? ORDER BY b.id DESC LIMIT ?",
                (number, now, by, len(rows)),
            )
            made = sorted(int(r[0]) for r in got)
            await self._line(db, number, now, by, "redaction.marked", detail)
            await self.store.audit(by, "access.mark", number, f"boxes={len(made)}")
        return made

    async def pages(self, number: str) -> int:
        found = await self.store._row("SELECT COALESCE(SUM(pages), 0) FROM access_documents WHERE request=?", (number,))
        return int(found[0]) if found else 0

    async def box_count(self, number: str) -> int:
        found = await self.store._row(
            "SELECT COUNT(*) FROM access_boxes b JOIN access_documents d ON d.id = b.document"
            " WHERE d.request=? AND b.removed_at IS NULL",
            (number,),
        )
        return int(found[0]) if found else 0

    async def unmark(self, number: str, box_id: int, by: str) -> bool:
        now = int(time.time() * 1000)
        async with self.store.transaction() as db:
            await self._touch(db, number, by, now)
            done = await db.execute(
                "UPDATE access_boxes SET removed_by=?, removed_at=? WHERE id=? AND removed_at IS NULL"
                " AND document IN (SELECT id FROM access_documents WHERE request=?)",
                (by, now, box_id, number),
            )
            if done:
                await self._line(db, number, now, by, "redaction.removed", f"box {box_id} removed")
                await self.store.audit(by, "access.unmark", number, f"box={box_id}")
        return bool(done)

    async def issue(
        self,
        number: str,
        expect_version: int,
        change: AccessChange,
        package: bytes,
        parts: list[dict[str, Any]],
        pages: int,
        reviewed_by: str,
    ) -> tuple[int, str]:
        """The release: the package stored with its SHA-256 and its parts', the request released."""
        now = int(time.time() * 1000)
        digest = hashlib.sha256(package).hexdigest()
        async with self.store.transaction() as db:
            done = await db.execute(
                "UPDATE access_requests SET version=version+1, updated_at=?, changed_by=?, stage='released',"
                " released_at=? WHERE number=? AND version=? AND stage='review'",
                (now, change.by, now, number, expect_version),
            )
            if done == 0:
                found = await db.row("SELECT version, changed_by FROM access_requests WHERE number=?", (number,))
                if found is None:
                    raise LookupError(number)
                raise RequestConflict(int(found[0]), str(found[1]))
            count = await db.row("SELECT COUNT(*) FROM access_releases WHERE request=? AND kind='release'", (number,))
            release_number = f"{number}-R{int(count[0]) + 1 if count else 1}"
            made = await db.rows(
                "INSERT INTO access_releases(request, kind, number, package, sha256, parts, pages, released_by,"
                " reviewed_by, at) VALUES (?,'release',?,?,?,?,?,?,?,?) RETURNING id",
                (number, release_number, package, digest, json.dumps(parts), pages, change.by, reviewed_by, now),
            )
            if change.clock is not None:
                await self._write_clock(db, number, change.clock)
            await self._line(
                db, number, now, change.by, "released", f"{release_number}: {change.detail} (SHA-256 {digest})"
            )
            await self.store.audit(change.by, "access.release", number, release_number)
        return int(made[0][0]), release_number

    async def notice(self, number: str, expect_version: int, change: AccessChange, pdf: bytes) -> tuple[int, int]:
        """An extension: the clock moved and its notice to the requester issued (numbered, hashed),
        in one transaction. -> (the request's new version, the notice's id)."""
        now = int(time.time() * 1000)
        digest = hashlib.sha256(pdf).hexdigest()
        async with self.store.transaction() as db:
            done = await db.execute(
                "UPDATE access_requests SET version=version+1, updated_at=?, changed_by=? WHERE number=? AND version=?",
                (now, change.by, number, expect_version),
            )
            if done == 0:
                found = await db.row("SELECT version, changed_by FROM access_requests WHERE number=?", (number,))
                if found is None:
                    raise LookupError(number)
                raise RequestConflict(int(found[0]), str(found[1]))
            count = await db.row("SELECT COUNT(*) FROM access_releases WHERE request=? AND kind='notice'", (number,))
            notice_number = f"{number}-N{int(count[0]) + 1 if count else 1}"
            parts = [{"part": "extension notice", "sha256": digest}]
            made = await db.rows(
                "INSERT INTO access_releases(request, kind, number, package, sha256, parts, pages, released_by,"
                " reviewed_by, at) VALUES (?,'notice',?,?,?,?,1,?,'',?) RETURNING id",
                (number, notice_number, pdf, digest, json.dumps(parts), change.by, now),
            )
            if change.clock is not None:
                await self._write_clock(db, number, change.clock)
            await self._line(db, number, now, change.by, change.act, f"{change.detail}; notice {notice_number}")
            await self.store.audit(change.by, "access.extend", number, notice_number)
            row = await db.row("SELECT version FROM access_requests WHERE number=?", (number,))
        assert row is not None
        return int(row[0]), int(made[0][0])

    async def announce(self, number: str, was: str, now_state: str) -> bool:
        async with self.store.transaction() as db:
            done = await db.execute(
                "UPDATE access_clocks SET announced=? WHERE request=? AND clock='response' AND announced=?",
                (now_state, number, was),
            )
            if done:
                words = "overdue" if now_state == "overdue" else "due soon"
                await self._line(
                    db, number, int(time.time() * 1000), "clock", f"clock.{now_state}", f"the response is {words}"
                )
        return bool(done)

    async def _write_clock(self, db: Tx, number: str, k: ClockRow) -> None:
        await db.execute(
            f"INSERT INTO access_clocks(request, {_CLOCK}) VALUES ({','.join('?' * 14)})"
            " ON CONFLICT (request, clock) DO UPDATE SET started_at=excluded.started_at, due_at=excluded.due_at,"
            " day_kind=excluded.day_kind, warn_at=excluded.warn_at, paused_at=excluded.paused_at,"
            " remaining=excluded.remaining, extended_at=excluded.extended_at, original_due=excluded.original_due,"
            " met_at=excluded.met_at, stopped=excluded.stopped, announced=excluded.announced,"
            " extension=excluded.extension",
            (
                number, k.name, k.started_at, k.due_at, k.day_kind, k.warn_at, k.paused_at, k.remaining,
                k.extended_at, k.original_due, k.met_at, k.stopped, k.announced, k.extension,
            ),
        )  # fmt: skip

    async def _line(self, db: Tx, number: str, at: int, by: str, act: str, detail: str) -> None:
        await db.execute(
            "INSERT INTO access_timeline(request, at, by, act, detail) VALUES (?,?,?,?,?)",
            (number, at, by, act, detail),
        )
