"""RecordsStore: the system of record in SQLite (WAL), through aiosqlite."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from protocol.codec import event_decoder
from protocol.state import Alarm, Incident, RadioEntry, TimelineEntry
from server.auth import Principal, Role
from server.records.migrations import MIGRATIONS
from server.records.projections import project

__all__ = ["ArchivedEvent", "RecordsStore", "UserExists"]

_hasher = PasswordHasher()
_incident_decoder = msgspec.msgpack.Decoder(Incident)


class UserExists(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ArchivedEvent:
    topic: str
    id: str
    epoch: str
    kind: str
    by: str
    ts: int
    payload: bytes


def _statements(sql: str) -> list[str]:
    """Split a script into statements (a trigger body holds semicolons of its own)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


class RecordsStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("records store is not open")
        return self._db

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path, timeout=30)
        await self.db.execute("PRAGMA journal_mode=WAL")
        await self.db.execute("PRAGMA synchronous=NORMAL")
        await self.db.execute("PRAGMA busy_timeout=30000")
        await self.db.execute("PRAGMA foreign_keys=ON")
        await self._migrate()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _migrate(self) -> None:
        # BEGIN IMMEDIATE serialises migrations between hub processes.
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            async with self.db.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            version = int(row[0]) if row else 0
            for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(sql):
                    await self.db.execute(statement)
                await self.db.execute(f"PRAGMA user_version={number}")
            await self.db.commit()
        except BaseException:
            await self.db.rollback()
            raise

    async def ping(self) -> bool:
        async with self.db.execute("SELECT 1") as cur:
            return (await cur.fetchone()) is not None

    async def schema_version(self) -> int:
        async with self.db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # ---- users ------------------------------------------------------------

    async def add_user(self, name: str, role: Role, password: str, unit: str | None = None) -> None:
        if role is Role.OFFICER and not unit:
            raise ValueError("an officer account is bound to one unit: give --unit")
        hashed = await asyncio.to_thread(_hasher.hash, password)
        try:
            await self.db.execute(
                "INSERT INTO users(name, role, unit, password_hash, created_at) VALUES (?,?,?,?,?)",
                (name, role.value, unit, hashed, int(time.time())),
            )
        except aiosqlite.IntegrityError:
            raise UserExists(name) from None
        await self.audit("cli", "user.add", name, f"role={role.value} unit={unit or ''}", commit=False)
        await self.db.commit()

    async def set_user(self, name: str, role: Role, password: str, unit: str | None = None) -> None:
        """Add the account, or give an existing one this role, unit and password (and enable it)."""
        hashed = await asyncio.to_thread(_hasher.hash, password)
        await self.db.execute(
            "INSERT INTO users(name, role, unit, password_hash, created_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT(name) DO UPDATE SET role=excluded.role, unit=excluded.unit, "
            "password_hash=excluded.password_hash, disabled=0",
            (name, role.value, unit, hashed, int(time.time())),
        )
        await self.audit("cli", "user.set", name, f"role={role.value} unit={unit or ''}", commit=False)
        await self.db.commit()

    async def is_active(self, name: str) -> bool:
        """False for a disabled account (tokens issued before still verify; sessions check this)."""
        async with self.db.execute("SELECT disabled FROM users WHERE name=?", (name,)) as cur:
            row = await cur.fetchone()
        return row is None or not row[0]  # tokens for names without an account (CLI-issued) stay valid

    async def get_user(self, name: str) -> Principal | None:
        async with self.db.execute("SELECT name, role, unit FROM users WHERE name=? AND disabled=0", (name,)) as cur:
            row = await cur.fetchone()
        return Principal(row[0], Role(row[1]), row[2]) if row else None

    async def list_users(self) -> list[tuple[str, str, str | None]]:
        async with self.db.execute("SELECT name, role, unit FROM users ORDER BY name") as cur:
            return [(r[0], r[1], r[2]) async for r in cur]

    async def check_password(self, name: str, password: str) -> Principal | None:
        async with self.db.execute(
            "SELECT name, role, unit, password_hash FROM users WHERE name=? AND disabled=0", (name,)
        ) as cur:
            row = await cur.fetchone()
        # argon2 takes a good part of a second on purpose: off the event loop, or
        # every login would stall every board.
        if row is None:
            await asyncio.to_thread(_hasher.hash, password)  # same cost whether or not the user exists
            return None
        try:
            await asyncio.to_thread(_hasher.verify, row[3], password)
        except (VerificationError, InvalidHashError):
            return None
        return Principal(row[0], Role(row[1]), row[2])

    # ---- audit ------------------------------------------------------------

    async def audit(self, actor: str, action: str, subject: str = "", detail: str = "", *, commit: bool = True) -> None:
        await self.db.execute(
            "INSERT INTO audit(at, actor, action, subject, detail) VALUES (?,?,?,?,?)",
            (int(time.time() * 1000), actor, action, subject, detail),
        )
        if commit:
            await self.db.commit()

    async def audit_trail(self, limit: int = 100) -> list[tuple[int, str, str, str, str]]:
        async with self.db.execute(
            "SELECT at, actor, action, subject, detail FROM audit ORDER BY seq DESC LIMIT ?", (limit,)
        ) as cur:
            return [(r[0], r[1], r[2], r[3], r[4]) async for r in cur]

    # ---- archived events --------------------------------------------------

    async def archive(self, events: Iterable[ArchivedEvent]) -> int:
        """Insert events, ignoring ones already archived (idempotent by id), and update
        the projections (incidents, timelines, radio log, alarms) in the same transaction.
        -> events added."""
        events = list(events)
        rows: list[tuple[Any, ...]] = []
        for e in events:
            ms, _, seq = e.id.partition("-")
            rows.append((e.topic, e.id, int(ms), int(seq), e.epoch, e.kind, e.by, e.ts, e.payload))
        if not rows:
            return 0
        before = self.db.total_changes
        await self.db.executemany(
            "INSERT OR IGNORE INTO events(topic, id, ms, seq, epoch, kind, by, ts, payload) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
        added = self.db.total_changes - before
        for e in events:
            if e.kind != "undecodable":
                for sql, args in project(e.id, event_decoder.decode(e.payload)):
                    await self.db.execute(sql, args)
        await self.db.commit()
        return added

    async def archived_incident(self, incident_id: str) -> Incident | None:
        async with self.db.execute("SELECT record FROM incidents WHERE id=?", (incident_id,)) as cur:
            row = await cur.fetchone()
        return _incident_decoder.decode(row[0]) if row else None

    async def incident_timeline(self, incident_id: str) -> list[TimelineEntry]:
        async with self.db.execute(
            "SELECT at, by, action, detail, unit FROM incident_timeline WHERE incident=? ORDER BY at, event_id",
            (incident_id,),
        ) as cur:
            return [TimelineEntry(at=r[0], by=r[1], action=r[2], detail=r[3], unit=r[4]) async for r in cur]

    async def search_radio(
        self,
        *,
        text: str = "",
        unit: str | None = None,
        incident: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int = 200,
    ) -> list[RadioEntry]:
        """The radio log by time, unit, incident and words (full-text), newest first."""
        where: list[str] = []
        args: list[object] = []
        if text:
            where.append("r.seq IN (SELECT rowid FROM radio_fts WHERE radio_fts MATCH ?)")
            args.append(" ".join(f'"{w}"' for w in text.replace('"', " ").split()))
        for column, value in (("r.unit", unit), ("r.incident", incident)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("r.at >= ?")
            args.append(since)
        if until is not None:
            where.append("r.at < ?")
            args.append(until)
        sql = "SELECT channel, text, at, by, unit, incident FROM radio_log r"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.at DESC, r.seq DESC LIMIT ?"
        async with self.db.execute(sql, (*args, min(limit, 1000))) as cur:
            return [RadioEntry(channel=r[0], text=r[1], at=r[2], by=r[3], unit=r[4], incident=r[5]) async for r in cur]

    async def response_rows(self, since: int, until: int) -> list[tuple[int, str, int, int | None]]:
        """(priority, call type, created, first dispatch) of calls received in [since, until)."""
        async with self.db.execute(
            "SELECT priority, call_type, created_at, first_dispatch_at FROM incidents"
            " WHERE created_at >= ? AND created_at < ? AND (disposition IS NULL OR disposition != 'duplicate')",
            (since, until),
        ) as cur:
            return [(r[0], r[1], r[2], r[3]) async for r in cur]

    async def archived_alarm(self, alarm_id: str) -> Alarm | None:
        """An alarm as last recorded (acknowledged or cancelled ones are no longer live)."""
        row = await self.alarm_record(alarm_id)
        if row is None:
            return None
        return Alarm(
            id=row["id"],
            unit=row["unit"],
            reason=row["reason"],
            raised_at=row["raised_at"],
            raised_by=row["raised_by"],
            alarm=row["kind"],
            state=row["state"],
            incident=row["incident"],
            acked_by=row["acked_by"],
            acked_at=row["acked_at"],
            cancelled_by=row["cancelled_by"],
            cancel_reason=row["cancel_reason"] or "",
            police_requested_by=row["police_requested_by"],
            police_requested_at=row["police_requested_at"],
        )

    async def alarm_record(self, alarm_id: str) -> dict[str, Any] | None:
        async with self.db.execute("SELECT * FROM alarms WHERE id=?", (alarm_id,)) as cur:
            row = await cur.fetchone()
            names = [d[0] for d in cur.description]
        return dict(zip(names, row, strict=True)) if row else None

    async def archived(self, topic: str, limit: int = 10_000) -> list[ArchivedEvent]:
        async with self.db.execute(
            "SELECT topic, id, epoch, kind, by, ts, payload FROM events WHERE topic=? ORDER BY ms, seq LIMIT ?",
            (topic, limit),
        ) as cur:
            return [ArchivedEvent(*r) async for r in cur]

    async def count_events(self, topic: str | None = None) -> int:
        sql, args = ("SELECT COUNT(*) FROM events", ())
        if topic is not None:
            sql, args = ("SELECT COUNT(*) FROM events WHERE topic=?", (topic,))  # type: ignore[assignment]
        async with self.db.execute(sql, args) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0
