"""RecordsStore: the system of record in SQLite (WAL), through aiosqlite."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.auth import Principal, Role
from server.records.migrations import MIGRATIONS

__all__ = ["ArchivedEvent", "RecordsStore", "UserExists"]

_hasher = PasswordHasher()


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
                for statement in sql.split(";"):
                    if statement.strip():
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
        try:
            await self.db.execute(
                "INSERT INTO users(name, role, unit, password_hash, created_at) VALUES (?,?,?,?,?)",
                (name, role.value, unit, _hasher.hash(password), int(time.time())),
            )
        except aiosqlite.IntegrityError:
            raise UserExists(name) from None
        await self.audit("cli", "user.add", name, f"role={role.value} unit={unit or ''}", commit=False)
        await self.db.commit()

    async def get_user(self, name: str) -> Principal | None:
        async with self.db.execute(
            "SELECT name, role, unit FROM users WHERE name=? AND disabled=0", (name,)
        ) as cur:
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
        if row is None:
            _hasher.hash(password)  # same cost whether or not the user exists
            return None
        try:
            _hasher.verify(row[3], password)
        except (VerificationError, InvalidHashError):
            return None
        return Principal(row[0], Role(row[1]), row[2])

    # ---- audit ------------------------------------------------------------

    async def audit(
        self, actor: str, action: str, subject: str = "", detail: str = "", *, commit: bool = True
    ) -> None:
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
        """Insert events, ignoring ones already archived (idempotent by id). -> rows added."""
        rows: list[tuple[Any, ...]] = []
        for e in events:
            ms, _, seq = e.id.partition("-")
            rows.append((e.topic, e.id, int(ms), int(seq), e.epoch, e.kind, e.by, e.ts, e.payload))
        if not rows:
            return 0
        before = self.db.total_changes
        await self.db.executemany(
            "INSERT OR IGNORE INTO events(topic, id, ms, seq, epoch, kind, by, ts, payload)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )
        await self.db.commit()
        return self.db.total_changes - before

    async def archived(self, topic: str, limit: int = 10_000) -> list[ArchivedEvent]:
        async with self.db.execute(
            "SELECT topic, id, epoch, kind, by, ts, payload FROM events WHERE topic=?"
            " ORDER BY ms, seq LIMIT ?",
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
