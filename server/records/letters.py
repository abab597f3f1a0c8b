"""Letters in the store: drafts, their moves through review, and issued letters (numbered, the
PDF and its SHA-256 kept, never changed again). Each move writes a line on the file's timeline
and an audit row in the same transaction. All the letters' SQL is here; who may make a move is
``server.cases.rules.letters``'s to say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import msgspec

from server.records.engine import Tx
from server.records.store import RecordsStore

__all__ = ["LetterConflict", "LetterRecords", "LetterRow", "NoSuchLetter"]

_COLUMNS = (
    "id, file_number, kind, state, version, author, body, channel, format, address, comments, made_by_clock,"
    " created_at, updated_at, changed_by, number, approved_by, acting_for, issued_at, sha256,"
    " COALESCE(length(pdf), 0), hands"
)


class LetterRow(msgspec.Struct):
    id: int
    file_number: str
    kind: str
    state: str
    version: int
    author: str
    body: str  # the letter's text as HTML (merged from its template, then edited)
    channel: str
    format: str
    address: str
    comments: str  # the reviewer's, when returned
    made_by_clock: str  # made on its own when this clock came due ("" : by a person)
    created_at: int
    updated_at: int
    changed_by: str
    number: str | None
    approved_by: str
    acting_for: str
    issued_at: int | None
    sha256: str
    pdf_size: int
    hands: list[str] = []  # who edited or submitted it since it was last returned: not its reviewer


class NoSuchLetter(Exception):
    pass


class LetterConflict(Exception):
    """The letter changed since it was read: nothing was written."""

    def __init__(self, version: int, changed_by: str) -> None:
        super().__init__(f"changed by {changed_by} (now version {version})")
        self.version = version
        self.changed_by = changed_by


def _row(r: tuple[object, ...] | list[object]) -> LetterRow:
    values = list(r)
    values[21] = [x for x in str(values[21] or "").split(",") if x]
    return LetterRow(*values)  # type: ignore[arg-type]


class LetterRecords:
    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    async def letter(self, letter_id: int) -> LetterRow | None:
        found = await self.store._row(f"SELECT {_COLUMNS} FROM case_letters WHERE id=?", (letter_id,))
        return _row(found) if found else None

    async def of_file(self, file_number: str) -> list[LetterRow]:
        rows = await self.store._rows(
            f"SELECT {_COLUMNS} FROM case_letters WHERE file_number=? AND state <> 'disposed' ORDER BY id",
            (file_number,),
        )
        return [_row(r) for r in rows]

    async def waiting(self, states: tuple[str, ...], author: str | None = None, limit: int = 200) -> list[LetterRow]:
        """Letters in these states, oldest change first (the team lead's: submitted; a
        coordinator's: their drafts and returned letters, and drafts the clocks made on their files)."""
        marks = ",".join("?" * len(states))
        sql = f"SELECT {_COLUMNS} FROM case_letters l WHERE state IN ({marks})"
        args: list[object] = list(states)
        if author is not None:
            sql += (
                " AND (author=? OR (made_by_clock <> '' AND EXISTS (SELECT 1 FROM complaints c"
                " WHERE c.file_number = l.file_number AND c.assignee = ?)))"
            )
            args += [author, author]
        rows = await self.store._rows(sql + " ORDER BY updated_at, id LIMIT ?", (*args, limit))
        return [_row(r) for r in rows]

    async def pdf(self, letter_id: int) -> tuple[str, str, bytes] | None:
        """An issued letter's number, SHA-256 and PDF."""
        found = await self.store._row(
            "SELECT number, sha256, pdf FROM case_letters WHERE id=? AND state='issued'", (letter_id,)
        )
        return (str(found[0]), str(found[1]), bytes(found[2])) if found else None

    async def draft(
        self,
        file_number: str,
        kind: str,
        author: str,
        body: str,
        delivery: tuple[str, str, str],
        made_by_clock: str = "",
        detail: str = "",
    ) -> int:
        """A new draft, with its line on the file's timeline. -> its id."""
        now = int(time.time() * 1000)
        channel, fmt, address = delivery
        async with self.store.transaction() as db:
            made = await db.rows(
                "INSERT INTO case_letters(file_number, kind, state, author, body, channel, format, address,"
                " made_by_clock, created_at, updated_at, changed_by) VALUES (?,?,'draft',?,?,?,?,?,?,?,?,?)"
                " RETURNING id",
                (file_number, kind, author, body, channel, fmt, address, made_by_clock, now, now, author),
            )
            letter_id = int(made[0][0])
            await self._line(
                db, file_number, now, author, "letter.drafted", detail or f"letter {letter_id} drafted", ""
            )
            await self.store.audit(author, "case.letter.draft", file_number, f"letter={letter_id} kind={kind}")
        return letter_id

    async def move(
        self,
        letter_id: int,
        expect_version: int,
        state: str,
        by: str,
        detail: str,
        *,
        body: str | None = None,
        comments: str | None = None,
        acting_for: str = "",
        author: str | None = None,
    ) -> LetterRow:
        """Edit, submit or return a letter still open (its version checked)."""
        now = int(time.time() * 1000)
        sets, args = ["state=?"], [state]
        if body is not None:
            sets.append("body=?")
            args.append(body)
        if comments is not None:
            sets.append("comments=?")
            args.append(comments)
        if author is not None:  # a draft the clocks made: whoever submits it is its author
            sets.append("author=?")
            args.append(author)
        if state == "returned":
            sets.append("hands=''")  # a new round: who works on it next may not review it
        else:
            sets.append("hands=CASE WHEN hands='' THEN ? ELSE hands || ',' || ? END")
            args += [by, by]
        async with self.store.transaction() as db:
            done = await db.execute(
                f"UPDATE case_letters SET {', '.join(sets)}, version=version+1, updated_at=?, changed_by=?,"
                " acting_for=? WHERE id=? AND version=? AND state IN ('draft', 'submitted', 'returned')",
                (*args, now, by, acting_for, letter_id, expect_version),
            )
            if done == 0:
                await self._conflict(db, letter_id)
            found = await db.row("SELECT file_number FROM case_letters WHERE id=?", (letter_id,))
            assert found is not None
            await self._line(db, str(found[0]), now, by, f"letter.{state}", detail, acting_for)
            await self.store.audit(by, f"case.letter.{state}", str(found[0]), f"letter={letter_id}")
        letter = await self.letter(letter_id)
        assert letter is not None
        return letter

    async def number_for(self, letter_id: int, prefix: str, now_ms: int) -> str:
        """The letter's number: the next one (never given twice), or the one it was given already
        (an issue tried again renders with the same number)."""
        async with self.store.transaction() as db:
            await db.execute(
                "INSERT INTO case_letter_numbers(letter) VALUES (?) ON CONFLICT (letter) DO NOTHING", (letter_id,)
            )
            n = await db.row("SELECT n FROM case_letter_numbers WHERE letter=?", (letter_id,))
        assert n is not None
        year = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).year
        return f"{prefix}-L-{year}-{int(n[0]):05d}"

    async def issue(
        self, letter_id: int, expect_version: int, by: str, acting_for: str, number: str, pdf: bytes, at: int
    ) -> LetterRow:
        """Approve and issue a submitted letter (its version checked): its number, the PDF
        rendered with it and the PDF's SHA-256, the line on the timeline. Never changed again."""
        digest = hashlib.sha256(pdf).hexdigest()
        async with self.store.transaction() as db:
            done = await db.execute(
                "UPDATE case_letters SET state='issued', version=version+1, updated_at=?, changed_by=?, number=?,"
                " approved_by=?, acting_for=?, issued_at=?, pdf=?, sha256=? WHERE id=? AND version=?"
                " AND state='submitted'",
                (at, by, number, by, acting_for, at, pdf, digest, letter_id, expect_version),
            )
            if done == 0:
                await self._conflict(db, letter_id)
            found = await db.row("SELECT file_number, kind FROM case_letters WHERE id=?", (letter_id,))
            assert found is not None
            file_number, what = str(found[0]), str(found[1]).replace("_", " ")
            detail = f"{what} letter {number} approved and issued (SHA-256 {digest[:16]})"
            await self._line(db, file_number, at, by, "letter.issued", detail, acting_for)
            await self.store.audit(by, "case.letter.issue", file_number, f"letter={letter_id} number={number}")
        letter = await self.letter(letter_id)
        assert letter is not None
        return letter

    async def _conflict(self, db: Tx, letter_id: int) -> None:
        found = await db.row("SELECT version, changed_by FROM case_letters WHERE id=?", (letter_id,))
        if found is None:
            raise NoSuchLetter(str(letter_id))
        raise LetterConflict(int(found[0]), str(found[1]))

    async def _line(self, db: Tx, file_number: str, at: int, by: str, act: str, detail: str, acting: str) -> None:
        await db.execute(
            "INSERT INTO case_timeline(file_number, at, by, act, detail, acting_for) VALUES (?,?,?,?,?,?)",
            (file_number, at, by, act, detail, acting),
        )
