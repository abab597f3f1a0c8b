"""RecordsStore: the system of record in SQLite (WAL), through aiosqlite."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from protocol.codec import event_decoder
from protocol.state import Alarm, Incident, RadioEntry, TimelineEntry
from server.access.roles import Principal, Role
from server.access.tokens import SessionRecord
from server.config import private_dir
from server.records.migrations import MIGRATIONS
from server.records.projections import project

__all__ = [
    "Account",
    "ArchivedEvent",
    "DeadLetter",
    "RecordsStore",
    "SessionRecord",
    "UserExists",
    "search_words",
]

_hasher = PasswordHasher()
_SESSION = "id, user, issued_at, expires_at, via, scope, address, agent, revoked_at, revoked_by"
_incident_decoder = msgspec.msgpack.Decoder(Incident)


class UserExists(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    role: Role
    unit: str | None
    disabled: bool
    token_version: int
    created_at: int  # seconds
    second_factor: bool  # a TOTP secret is enrolled


class DeadLetter(msgspec.Struct):
    """An intake entry that could not be filed, and why."""

    id: int
    stream: str
    entry_id: str
    ref: str
    fields: dict[str, str]
    reason: str
    attempts: int
    at: int
    replayed_at: int | None
    replayed_by: str | None


@dataclass(frozen=True, slots=True)
class ArchivedEvent:
    topic: str
    id: str
    epoch: str
    kind: str
    by: str
    ts: int
    payload: bytes


_DEAD_LETTER = "id, stream, entry_id, ref, fields, reason, attempts, at, replayed_at, replayed_by"


def _dead_letter(row: Any) -> DeadLetter:
    fields = msgspec.json.decode(row[4])
    return DeadLetter(row[0], row[1], row[2], row[3], {str(k): str(v) for k, v in fields.items()}, *row[5:])


_WORD = re.compile(r'[^\s"\x00-\x1f\x7f]+')


def search_words(text: str) -> str:
    """Words of a radio search as a full-text query: each one quoted (FTS5's own syntax, its
    operators and quotes, never reaches it; nor do control characters, which end its strings),
    all of them required. Empty: nothing to search for."""
    return " ".join(f'"{w}"' for w in _WORD.findall(text))


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
        self._connection: aiosqlite.Connection | None = None
        # One connection, shared by every task of the process: writes take turns (see transaction).
        self._writing = asyncio.Lock()
        self._writer: asyncio.Task[Any] | None = None

    @property
    def _db(self) -> aiosqlite.Connection:
        """The connection: for the store modules of ``server.records`` only."""
        if self._connection is None:
            raise RuntimeError("records store is not open")
        return self._connection

    async def open(self) -> None:
        private_dir(self.path.parent)
        self._connection = await aiosqlite.connect(self.path, timeout=30)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA busy_timeout=30000")
        await self._db.execute("PRAGMA foreign_keys=ON")
        await self._migrate()

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _migrate(self) -> None:
        # BEGIN IMMEDIATE serialises migrations between hub processes.
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            async with self._db.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            version = int(row[0]) if row else 0
            for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(sql):
                    await self._db.execute(statement)
                await self._db.execute(f"PRAGMA user_version={number}")
            await self._db.commit()
        except BaseException:
            await self._db.rollback()
            raise

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Every write of the store runs in one, so a change and its audit row are written
        together: ``async with store.transaction(): await store.x(...); await store.audit(...)``.
        A store method called inside joins the transaction already open in this task (it
        commits nothing itself). Transactions of different tasks take turns: the connection
        is shared, and one task's commit or rollback would otherwise end another's writes
        half way. So do not await anything slow (Redis, the network) inside one.

        It yields the connection for the store modules of ``server.records``; nothing else
        runs SQL on it.
        """
        task = asyncio.current_task()
        if task is not None and self._writer is task:
            yield self._db  # part of the transaction this task has open
            return
        async with self._writing:
            self._writer = task
            try:
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            else:
                await self._db.commit()
            finally:
                self._writer = None

    async def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[Any]:
        """Every row a query reads: for the store modules of ``server.records``."""
        async with self._db.execute(sql, tuple(args)) as cur:
            return list(await cur.fetchall())

    async def _row(self, sql: str, args: Iterable[Any] = ()) -> Any | None:
        """The first row a query reads, or None: for the store modules of ``server.records``."""
        async with self._db.execute(sql, tuple(args)) as cur:
            return await cur.fetchone()

    async def ping(self) -> bool:
        async with self._db.execute("SELECT 1") as cur:
            return (await cur.fetchone()) is not None

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # ---- users ------------------------------------------------------------

    async def add_user(self, name: str, role: Role, password: str, unit: str | None = None) -> None:
        if role is Role.OFFICER and not unit:
            raise ValueError("an officer account is bound to one unit: give --unit")
        hashed = await asyncio.to_thread(_hasher.hash, password)
        async with self.transaction() as db:
            try:
                await db.execute(
                    "INSERT INTO users(name, role, unit, password_hash, created_at) VALUES (?,?,?,?,?)",
                    (name, role.value, unit, hashed, int(time.time())),
                )
            except aiosqlite.IntegrityError:
                raise UserExists(name) from None
            await self.audit("cli", "user.add", name, f"role={role.value} unit={unit or ''}")

    async def set_user(self, name: str, role: Role, password: str, unit: str | None = None) -> None:
        """Add the account, or give an existing one this role, unit and password (and enable it).
        Tokens issued before are ended: their version is raised."""
        hashed = await asyncio.to_thread(_hasher.hash, password)
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO users(name, role, unit, password_hash, created_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET role=excluded.role, unit=excluded.unit, "
                "password_hash=excluded.password_hash, disabled=0, token_version=users.token_version+1",
                (name, role.value, unit, hashed, int(time.time())),
            )
            await self.audit("cli", "user.set", name, f"role={role.value} unit={unit or ''}")

    async def is_active(self, name: str) -> bool:
        """False for a disabled account."""
        state = await self.account_state(name)
        return state is None or not state[1]  # tokens for names without an account (demo, tests) stay valid

    async def account_state(self, name: str) -> tuple[int, bool] | None:
        """(token version, disabled) of an account; None for a name with no account."""
        async with self._db.execute("SELECT token_version, disabled FROM users WHERE name=?", (name,)) as cur:
            row = await cur.fetchone()
        return (int(row[0]), bool(row[1])) if row else None

    async def account_states(self) -> list[tuple[str, int, bool]]:
        async with self._db.execute("SELECT name, token_version, disabled FROM users") as cur:
            return [(r[0], int(r[1]), bool(r[2])) async for r in cur]

    async def accounts(self) -> list[Account]:
        async with self._db.execute(
            "SELECT name, role, unit, disabled, token_version, created_at, totp_secret IS NOT NULL FROM users"
            " ORDER BY name"
        ) as cur:
            return [Account(r[0], Role(r[1]), r[2], bool(r[3]), int(r[4]), int(r[5]), bool(r[6])) async for r in cur]

    async def get_user(self, name: str) -> Principal | None:
        async with self._db.execute(
            "SELECT name, role, unit, token_version FROM users WHERE name=? AND disabled=0", (name,)
        ) as cur:
            row = await cur.fetchone()
        return Principal(row[0], Role(row[1]), row[2], version=int(row[3])) if row else None

    async def set_disabled(self, name: str, disabled: bool, by: str) -> int | None:
        """Disable (ending every token of the account) or enable it. -> its token version; None: no account."""
        bump = 1 if disabled else 0
        now = int(time.time() * 1000)
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE users SET disabled=?, token_version=token_version+? WHERE name=?", (int(disabled), bump, name)
            )
            if cur.rowcount == 0:
                return None
            if disabled:
                await db.execute(
                    "UPDATE sessions SET revoked_at=?, revoked_by=? WHERE user=? AND revoked_at IS NULL",
                    (now, by, name),
                )
            await self.audit(by, "user.disable" if disabled else "user.enable", name)
        state = await self.account_state(name)
        return state[0] if state else None

    async def end_sessions(self, name: str, by: str) -> int | None:
        """End every token of an account ("sign out everywhere"). -> its new token version; None: no account."""
        now = int(time.time() * 1000)
        async with self.transaction() as db:
            cur = await db.execute("UPDATE users SET token_version=token_version+1 WHERE name=?", (name,))
            if cur.rowcount == 0:
                return None
            await db.execute(
                "UPDATE sessions SET revoked_at=?, revoked_by=? WHERE user=? AND revoked_at IS NULL", (now, by, name)
            )
            await self.audit(by, "user.sessions.end", name)
        state = await self.account_state(name)
        return state[0] if state else None

    # ---- second factors (server/access/second_factor.py) ---------------------------

    async def second_factor(self, name: str) -> tuple[str | None, str | None, int] | None:
        """(enrolled secret, secret being enrolled, last step used) of an account; None: no account."""
        async with self._db.execute(
            "SELECT totp_secret, totp_pending, totp_last_step FROM users WHERE name=?", (name,)
        ) as cur:
            row = await cur.fetchone()
        return (row[0], row[1], int(row[2])) if row else None

    async def start_second_factor(self, name: str, secret: str) -> None:
        """Keep a secret being enrolled (it counts once a code from it is confirmed)."""
        async with self.transaction() as db:
            await db.execute("UPDATE users SET totp_pending=? WHERE name=?", (secret, name))

    async def enrol_second_factor(self, name: str, step: int, recovery: list[str]) -> None:
        """The secret being enrolled becomes the account's, with new recovery codes (their hashes)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE users SET totp_secret=totp_pending, totp_pending=NULL, totp_last_step=? WHERE name=?",
                (step, name),
            )
            await self._replace_recovery_codes(name, recovery)
            await self.audit(name, "second_factor.enrol", name)

    async def take_step(self, name: str, step: int) -> bool:
        """Use a TOTP step: False if it (or a later one) was used already, by this request or another."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE users SET totp_last_step=? WHERE name=? AND totp_last_step < ?", (step, name, step)
            )
        return bool(cur.rowcount)

    async def use_recovery_code(self, name: str, code_hash: str) -> bool:
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE recovery_codes SET used_at=? WHERE user=? AND code_hash=? AND used_at IS NULL",
                (int(time.time() * 1000), name, code_hash),
            )
            if cur.rowcount:
                await self.audit(name, "second_factor.recovery_code", name)
        return bool(cur.rowcount)

    async def replace_recovery_codes(self, name: str, recovery: list[str]) -> None:
        async with self.transaction():
            await self._replace_recovery_codes(name, recovery)
            await self.audit(name, "second_factor.recovery_codes", name)

    async def _replace_recovery_codes(self, name: str, recovery: list[str]) -> None:
        now = int(time.time() * 1000)
        async with self.transaction() as db:
            await db.execute("DELETE FROM recovery_codes WHERE user=?", (name,))
            await db.executemany(
                "INSERT INTO recovery_codes(user, code_hash, made_at) VALUES (?,?,?)",
                [(name, h, now) for h in recovery],
            )

    async def recovery_codes_left(self, name: str) -> int:
        async with self._db.execute(
            "SELECT COUNT(*) FROM recovery_codes WHERE user=? AND used_at IS NULL", (name,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def remove_second_factor(self, name: str, by: str) -> bool:
        """Remove an account's second factor (its owner, or an admin resetting a lost phone)."""
        async with self.transaction() as db:
            cur = await db.execute("UPDATE users SET totp_secret=NULL, totp_pending=NULL WHERE name=?", (name,))
            if cur.rowcount == 0:
                return False
            await db.execute("DELETE FROM recovery_codes WHERE user=?", (name,))
            await self.audit(by, "second_factor.remove", name)
        return True

    # ---- sessions (the tokens sign-ins made) --------------------------------

    async def record_session(self, who: Principal, issued_at: int, via: str, address: str, agent: str) -> None:
        assert who.expires_at is not None and who.token_id
        row = (who.token_id, who.user, issued_at, int(who.expires_at * 1000), via, who.scope.value, address[:64])
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO sessions(id, user, issued_at, expires_at, via, scope, address, agent)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (*row, agent[:200]),
            )

    async def revoke_session(self, token_id: str, by: str) -> SessionRecord | None:
        """Revoke one token (signing out). -> the session as it was; None if unknown or already revoked."""
        found = await self.session(token_id)
        if found is None or found.revoked_at is not None:
            return None
        async with self.transaction() as db:
            await db.execute(
                "UPDATE sessions SET revoked_at=?, revoked_by=? WHERE id=?", (int(time.time() * 1000), by, token_id)
            )
            await self.audit(by, "session.revoke", found.user, token_id[:12])
        return found

    async def session(self, token_id: str) -> SessionRecord | None:
        async with self._db.execute(f"SELECT {_SESSION} FROM sessions WHERE id=?", (token_id,)) as cur:
            row = await cur.fetchone()
        return SessionRecord(*row) if row else None

    async def sessions(self, now_ms: int, user: str | None = None) -> list[SessionRecord]:
        """Sessions not yet expired (revoked ones too, marked), newest first."""
        sql = f"SELECT {_SESSION} FROM sessions WHERE expires_at > ?"
        args: tuple[Any, ...] = (now_ms,)
        if user is not None:
            sql += " AND user = ?"
            args += (user,)
        async with self._db.execute(sql + " ORDER BY issued_at DESC LIMIT 2000", args) as cur:
            return [SessionRecord(*r) async for r in cur]

    async def revoked_sessions(self, now_ms: int) -> list[tuple[str, int]]:
        """(token id, expires at ms) of revoked tokens that have not expired yet."""
        async with self._db.execute(
            "SELECT id, expires_at FROM sessions WHERE revoked_at IS NOT NULL AND expires_at > ?", (now_ms,)
        ) as cur:
            return [(r[0], int(r[1])) async for r in cur]

    async def forget_expired_sessions(self, before_ms: int) -> int:
        async with self.transaction() as db:
            cur = await db.execute("DELETE FROM sessions WHERE expires_at < ?", (before_ms,))
        return int(cur.rowcount)

    async def check_password(self, name: str, password: str) -> Principal | None:
        async with self._db.execute(
            "SELECT name, role, unit, password_hash, token_version FROM users WHERE name=? AND disabled=0", (name,)
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
        return Principal(row[0], Role(row[1]), row[2], version=int(row[4]))

    # ---- intake: dead letters --------------------------------------------------

    async def dead_letters(self, streams: list[str], *, replayed_too: bool = False) -> list[DeadLetter]:
        """The newest 500 dead letters of ``streams`` (by default those not replayed yet)."""
        if not streams:
            return []
        sql = f"SELECT {_DEAD_LETTER} FROM intake_dead_letters WHERE stream IN ({','.join('?' * len(streams))})"
        if not replayed_too:
            sql += " AND replayed_at IS NULL"
        async with self._db.execute(sql + " ORDER BY id DESC LIMIT 500", tuple(streams)) as cur:
            return [_dead_letter(r) for r in await cur.fetchall()]

    async def waiting_dead_letters(self) -> list[DeadLetter]:
        """Every dead letter not replayed yet, of every stream, oldest first."""
        rows = await self._rows(f"SELECT {_DEAD_LETTER} FROM intake_dead_letters WHERE replayed_at IS NULL ORDER BY id")
        return [_dead_letter(r) for r in rows]

    async def dead_letter(self, letter_id: int) -> DeadLetter | None:
        async with self._db.execute(f"SELECT {_DEAD_LETTER} FROM intake_dead_letters WHERE id=?", (letter_id,)) as cur:
            row = await cur.fetchone()
        return _dead_letter(row) if row else None

    async def open_dead_letters(self) -> int:
        """Intake entries that could not be filed and wait to be replayed."""
        async with self._db.execute("SELECT COUNT(*) FROM intake_dead_letters WHERE replayed_at IS NULL") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def attachment_digests(self) -> set[str]:
        """The attachment files the records name: filed complaints', and dead letters' (replayable)."""
        async with self._db.execute("SELECT sha256 FROM complaint_attachments") as cur:
            named = {r[0] async for r in cur}
        async with self._db.execute(
            "SELECT fields FROM intake_dead_letters WHERE stream='complaints' AND replayed_at IS NULL"
        ) as cur:
            for (fields,) in await cur.fetchall():
                try:
                    for item in msgspec.json.decode(msgspec.json.decode(fields).get("attachments", "[]")):
                        named.add(str(item["sha256"]))
                except (msgspec.DecodeError, AttributeError, KeyError, TypeError):
                    continue
        return named

    # ---- audit ------------------------------------------------------------

    async def audit(self, actor: str, action: str, subject: str = "", detail: str = "") -> None:
        """One audit row: part of the transaction open in this task (written with the change it
        is about), else a transaction of its own."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO audit(at, actor, action, subject, detail) VALUES (?,?,?,?,?)",
                (int(time.time() * 1000), actor, action, subject, detail),
            )

    async def audit_trail(self, limit: int = 100) -> list[tuple[int, str, str, str, str]]:
        async with self._db.execute(
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
        async with self.transaction() as db:
            before = db.total_changes
            await db.executemany(
                "INSERT OR IGNORE INTO events(topic, id, ms, seq, epoch, kind, by, ts, payload)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                rows,
            )
            added = db.total_changes - before
            for e in events:
                if e.kind != "undecodable":
                    for sql, args in project(e.id, event_decoder.decode(e.payload)):
                        await db.execute(sql, args)
        return added

    async def archived_incident(self, incident_id: str) -> Incident | None:
        async with self._db.execute("SELECT record FROM incidents WHERE id=?", (incident_id,)) as cur:
            row = await cur.fetchone()
        return _incident_decoder.decode(row[0]) if row else None

    async def incident_timeline(self, incident_id: str) -> list[TimelineEntry]:
        async with self._db.execute(
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
        words = search_words(text)
        if words:
            where.append("r.seq IN (SELECT rowid FROM radio_fts WHERE radio_fts MATCH ?)")
            args.append(words)
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
        async with self._db.execute(sql, (*args, max(1, min(limit, 1000)))) as cur:
            return [RadioEntry(channel=r[0], text=r[1], at=r[2], by=r[3], unit=r[4], incident=r[5]) async for r in cur]

    async def response_rows(self, since: int, until: int) -> list[tuple[int, str, int, int | None]]:
        """(priority, call type, created, first dispatch) of calls received in [since, until)."""
        async with self._db.execute(
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
        async with self._db.execute("SELECT * FROM alarms WHERE id=?", (alarm_id,)) as cur:
            row = await cur.fetchone()
            names = [d[0] for d in cur.description]
        return dict(zip(names, row, strict=True)) if row else None

    async def archived(self, topic: str, limit: int = 10_000) -> list[ArchivedEvent]:
        async with self._db.execute(
            "SELECT topic, id, epoch, kind, by, ts, payload FROM events WHERE topic=? ORDER BY ms, seq LIMIT ?",
            (topic, limit),
        ) as cur:
            return [ArchivedEvent(*r) async for r in cur]

    async def count_events(self, topic: str | None = None) -> int:
        sql, args = ("SELECT COUNT(*) FROM events", ())
        if topic is not None:
            sql, args = ("SELECT COUNT(*) FROM events WHERE topic=?", (topic,))  # type: ignore[assignment]
        async with self._db.execute(sql, args) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0
