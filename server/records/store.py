"""RecordsStore: the system of record, on SQLite (WAL) or PostgreSQL (``server/records/engine.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from protocol.codec import event_decoder
from protocol.state import Alarm, Incident, RadioEntry, TimelineEntry
from server.access.roles import Principal, Role
from server.access.tokens import SessionRecord
from server.records.engine import Conflict, Engine, Tx, engine_for, search_words
from server.records.projections import lock_order, project

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
_SESSION = 'id, "user", issued_at, expires_at, via, scope, address, agent, revoked_at, revoked_by'
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
    decoded: Any = None  # the event, if the archiver decoded it already (not decoded twice)


_ALARM = (
    "id",
    "kind",
    "unit",
    "incident",
    "reason",
    "raised_at",
    "raised_by",
    "state",
    "acked_by",
    "acked_at",
    "cancelled_by",
    "cancel_reason",
    "police_requested_by",
    "police_requested_at",
    "updated_at",
)
_DEAD_LETTER = "id, stream, entry_id, ref, fields, reason, attempts, at, replayed_at, replayed_by"


def _dead_letter(row: Any) -> DeadLetter:
    fields = msgspec.json.decode(row[4])
    return DeadLetter(row[0], row[1], row[2], row[3], {str(k): str(v) for k, v in fields.items()}, *row[5:])


class RecordsStore:
    """The system of record: SQLite in the data dir (the embedded default), or a PostgreSQL
    database every hub shares (``DATABASE_URL``); see ``server/records/engine.py``."""

    def __init__(self, target: Path | str, *, sqlite_synchronous: str = "FULL") -> None:
        self.engine: Engine = engine_for(target, sqlite_synchronous=sqlite_synchronous)

    @property
    def describe(self) -> str:
        return self.engine.describe

    @property
    def shared(self) -> bool:
        """Whether hubs on other hosts can share this store (PostgreSQL: yes; a SQLite file: no)."""
        return self.engine.dialect == "postgresql"

    async def open(self) -> None:
        await self.engine.open()
        try:
            await self.engine.migrate()
        except BaseException:
            await self.engine.close()
            raise

    async def close(self) -> None:
        await self.engine.close()

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises.

        Every write of the store runs in one, so a change and its audit row are written
        together: ``async with store.transaction(): await store.x(...); await store.audit(...)``.
        A store method called inside joins the transaction already open in this task (it
        commits nothing itself). Do not await anything slow (Redis, the network) inside one:
        on SQLite, the transactions of different tasks take turns.

        It yields the transaction for the store modules of ``server.records``; nothing else
        runs SQL on it.
        """
        return self.engine.transaction()

    async def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[Any]:
        """Every row a query reads: for the store modules of ``server.records``."""
        return await self.engine.rows(sql, tuple(args))

    async def _row(self, sql: str, args: Iterable[Any] = ()) -> Any | None:
        """The first row a query reads, or None: for the store modules of ``server.records``."""
        return await self.engine.row(sql, tuple(args))

    async def ping(self) -> bool:
        return (await self._row("SELECT 1")) is not None

    async def schema_version(self) -> int:
        return await self.engine.schema_version()

    # ---- what every hub on the store shares -------------------------------------------

    async def shared_key(self, name: str, make: str) -> str:
        """The value kept as ``name``: ``make`` if no hub kept one yet (the first hub's wins)."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO shared_keys(name, value, made_at) VALUES (?,?,?) ON CONFLICT(name) DO NOTHING",
                (name, make, int(time.time() * 1000)),
            )
            row = await db.row("SELECT value FROM shared_keys WHERE name=?", (name,))
        assert row is not None
        return str(row[0])

    # ---- users ------------------------------------------------------------

    async def add_user(self, name: str, role: Role, password: str, unit: str | None = None) -> None:
        if role is Role.OFFICER and not unit:
            raise ValueError("an officer account is bound to one unit: give --unit")
        hashed = await asyncio.to_thread(_hasher.hash, password)
        try:
            async with self.transaction() as db:
                await db.execute(
                    "INSERT INTO users(name, role, unit, password_hash, created_at) VALUES (?,?,?,?,?)",
                    (name, role.value, unit, hashed, int(time.time())),
                )
                await self.audit("cli", "user.add", name, f"role={role.value} unit={unit or ''}")
        except Conflict:
            raise UserExists(name) from None

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
        row = await self._row("SELECT token_version, disabled FROM users WHERE name=?", (name,))
        return (int(row[0]), bool(row[1])) if row else None

    async def account_states(self) -> list[tuple[str, int, bool]]:
        rows = await self._rows("SELECT name, token_version, disabled FROM users")
        return [(r[0], int(r[1]), bool(r[2])) for r in rows]

    async def accounts(self) -> list[Account]:
        rows = await self._rows(
            "SELECT name, role, unit, disabled, token_version, created_at, totp_secret IS NOT NULL FROM users"
            " ORDER BY name"
        )
        return [Account(r[0], Role(r[1]), r[2], bool(r[3]), int(r[4]), int(r[5]), bool(r[6])) for r in rows]

    async def get_user(self, name: str) -> Principal | None:
        row = await self._row("SELECT name, role, unit, token_version FROM users WHERE name=? AND disabled=0", (name,))
        return Principal(row[0], Role(row[1]), row[2], version=int(row[3])) if row else None

    async def set_disabled(self, name: str, disabled: bool, by: str) -> int | None:
        """Disable (ending every token of the account) or enable it. -> its token version; None: no account."""
        bump = 1 if disabled else 0
        now = int(time.time() * 1000)
        async with self.transaction() as db:
            changed = await db.execute(
                "UPDATE users SET disabled=?, token_version=token_version+? WHERE name=?", (int(disabled), bump, name)
            )
            if changed == 0:
                return None
            if disabled:
                await db.execute(
                    'UPDATE sessions SET revoked_at=?, revoked_by=? WHERE "user"=? AND revoked_at IS NULL',
                    (now, by, name),
                )
            await self.audit(by, "user.disable" if disabled else "user.enable", name)
        state = await self.account_state(name)
        return state[0] if state else None

    async def end_sessions(self, name: str, by: str) -> int | None:
        """End every token of an account ("sign out everywhere"). -> its new token version; None: no account."""
        now = int(time.time() * 1000)
        async with self.transaction() as db:
            changed = await db.execute("UPDATE users SET token_version=token_version+1 WHERE name=?", (name,))
            if changed == 0:
                return None
            await db.execute(
                'UPDATE sessions SET revoked_at=?, revoked_by=? WHERE "user"=? AND revoked_at IS NULL', (now, by, name)
            )
            await self.audit(by, "user.sessions.end", name)
        state = await self.account_state(name)
        return state[0] if state else None

    # ---- second factors (server/access/second_factor.py) ---------------------------

    async def second_factor(self, name: str) -> tuple[str | None, str | None, int] | None:
        """(enrolled secret, secret being enrolled, last step used) of an account; None: no account."""
        row = await self._row("SELECT totp_secret, totp_pending, totp_last_step FROM users WHERE name=?", (name,))
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
            changed = await db.execute(
                "UPDATE users SET totp_last_step=? WHERE name=? AND totp_last_step < ?", (step, name, step)
            )
        return bool(changed)

    async def use_recovery_code(self, name: str, code_hash: str) -> bool:
        async with self.transaction() as db:
            changed = await db.execute(
                'UPDATE recovery_codes SET used_at=? WHERE "user"=? AND code_hash=? AND used_at IS NULL',
                (int(time.time() * 1000), name, code_hash),
            )
            if changed:
                await self.audit(name, "second_factor.recovery_code", name)
        return bool(changed)

    async def replace_recovery_codes(self, name: str, recovery: list[str]) -> None:
        async with self.transaction():
            await self._replace_recovery_codes(name, recovery)
            await self.audit(name, "second_factor.recovery_codes", name)

    async def _replace_recovery_codes(self, name: str, recovery: list[str]) -> None:
        now = int(time.time() * 1000)
        async with self.transaction() as db:
            await db.execute('DELETE FROM recovery_codes WHERE "user"=?', (name,))
            await db.executemany(
                'INSERT INTO recovery_codes("user", code_hash, made_at) VALUES (?,?,?)',
                [(name, h, now) for h in recovery],
            )

    async def recovery_codes_left(self, name: str) -> int:
        row = await self._row('SELECT COUNT(*) FROM recovery_codes WHERE "user"=? AND used_at IS NULL', (name,))
        return int(row[0]) if row else 0

    async def remove_second_factor(self, name: str, by: str) -> bool:
        """Remove an account's second factor (its owner, or an admin resetting a lost phone)."""
        async with self.transaction() as db:
            changed = await db.execute("UPDATE users SET totp_secret=NULL, totp_pending=NULL WHERE name=?", (name,))
            if changed == 0:
                return False
            await db.execute('DELETE FROM recovery_codes WHERE "user"=?', (name,))
            await self.audit(by, "second_factor.remove", name)
        return True

    # ---- sessions (the tokens sign-ins made) --------------------------------

    async def record_session(self, who: Principal, issued_at: int, via: str, address: str, agent: str) -> None:
        assert who.expires_at is not None and who.token_id
        row = (who.token_id, who.user, issued_at, int(who.expires_at * 1000), via, who.scope.value, address[:64])
        async with self.transaction() as db:
            await db.execute(
                'INSERT INTO sessions(id, "user", issued_at, expires_at, via, scope, address, agent)'
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
        row = await self._row(f"SELECT {_SESSION} FROM sessions WHERE id=?", (token_id,))
        return SessionRecord(*row) if row else None

    async def sessions(self, now_ms: int, user: str | None = None) -> list[SessionRecord]:
        """Sessions not yet expired (revoked ones too, marked), newest first."""
        sql = f"SELECT {_SESSION} FROM sessions WHERE expires_at > ?"
        args: tuple[Any, ...] = (now_ms,)
        if user is not None:
            sql += ' AND "user" = ?'
            args += (user,)
        return [SessionRecord(*r) for r in await self._rows(sql + " ORDER BY issued_at DESC LIMIT 2000", args)]

    async def revoked_sessions(self, now_ms: int) -> list[tuple[str, int]]:
        """(token id, expires at ms) of revoked tokens that have not expired yet."""
        rows = await self._rows(
            "SELECT id, expires_at FROM sessions WHERE revoked_at IS NOT NULL AND expires_at > ?", (now_ms,)
        )
        return [(r[0], int(r[1])) for r in rows]

    async def forget_expired_sessions(self, before_ms: int) -> int:
        async with self.transaction() as db:
            return await db.execute("DELETE FROM sessions WHERE expires_at < ?", (before_ms,))

    async def check_password(self, name: str, password: str) -> Principal | None:
        row = await self._row(
            "SELECT name, role, unit, password_hash, token_version FROM users WHERE name=? AND disabled=0", (name,)
        )
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
        return [_dead_letter(r) for r in await self._rows(sql + " ORDER BY id DESC LIMIT 500", streams)]

    async def waiting_dead_letters(self) -> list[DeadLetter]:
        """Every dead letter not replayed yet, of every stream, oldest first."""
        rows = await self._rows(f"SELECT {_DEAD_LETTER} FROM intake_dead_letters WHERE replayed_at IS NULL ORDER BY id")
        return [_dead_letter(r) for r in rows]

    async def dead_letter(self, letter_id: int) -> DeadLetter | None:
        row = await self._row(f"SELECT {_DEAD_LETTER} FROM intake_dead_letters WHERE id=?", (letter_id,))
        return _dead_letter(row) if row else None

    async def open_dead_letters(self) -> int:
        """Intake entries that could not be filed and wait to be replayed."""
        row = await self._row("SELECT COUNT(*) FROM intake_dead_letters WHERE replayed_at IS NULL")
        return int(row[0]) if row else 0

    async def attachment_digests(self) -> set[str]:
        """The attachment files the records name: filed complaints', and dead letters' (replayable)."""
        named = {str(r[0]) for r in await self._rows("SELECT sha256 FROM complaint_attachments")}
        for (fields,) in await self._rows(
            "SELECT fields FROM intake_dead_letters WHERE stream='complaints' AND replayed_at IS NULL"
        ):
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

    async def audit_export(
        self, user: str | None, subject: str | None, since_ms: int | None, until_ms: int | None, limit: int
    ) -> list[tuple[int, int, str, str, str, str]]:
        """Audit rows (seq, at, actor, action, subject, detail), oldest first, filtered by who,
        what they were about (a file number, a user...) and when."""
        where: list[str] = ["1=1"]
        args: list[Any] = []
        for column, value in (("actor", user), ("subject", subject)):
            if value:
                where.append(f"{column}=?")
                args.append(value)
        if since_ms is not None:
            where.append("at >= ?")
            args.append(since_ms)
        if until_ms is not None:
            where.append("at < ?")
            args.append(until_ms)
        rows = await self._rows(
            f"SELECT seq, at, actor, action, subject, detail FROM audit WHERE {' AND '.join(where)}"
            " ORDER BY seq LIMIT ?",
            (*args, limit),
        )
        return [(int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5])) for r in rows]

    async def audit_trail(self, limit: int = 100) -> list[tuple[int, str, str, str, str]]:
        rows = await self._rows(
            "SELECT at, actor, action, subject, detail FROM audit ORDER BY seq DESC LIMIT ?", (limit,)
        )
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

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
            added = await db.executemany(
                "INSERT INTO events(topic, id, ms, seq, epoch, kind, by, ts, payload)"
                " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                rows,
            )
            # Each kind of statement once for the whole batch, in the order the events came: the
            # upserts and their conditions see the events in order, and an incident's row is
            # written before the timeline lines that check it.
            grouped: dict[str, list[tuple[Any, ...]]] = {}
            for e in events:
                if e.kind not in ("undecodable", "unit.position"):  # positions project nothing
                    event = e.decoded if e.decoded is not None else event_decoder.decode(e.payload)
                    for sql, args in project(e.id, event):
                        grouped.setdefault(sql, []).append(args)
            for sql, many in grouped.items():
                many.sort(key=functools.partial(lock_order, sql))  # stable: one row's events stay in order
                await db.executemany(sql, many)
        return added

    async def archived_incident(self, incident_id: str) -> Incident | None:
        row = await self._row("SELECT record FROM incidents WHERE id=?", (incident_id,))
        return _incident_decoder.decode(row[0]) if row else None

    async def incidents_between(self, since: int, until: int, words: str = "", limit: int = 50) -> list[dict[str, Any]]:
        """Incidents created in [since, until), those whose address holds ``words`` first: what a
        case coordinator looks through for the call a complaint is about."""
        like = "%" + words.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await self._rows(
            "SELECT id, call_type, priority, status, address, created_at, closed_at, disposition FROM incidents"
            " WHERE created_at >= ? AND created_at < ?"
            " ORDER BY CASE WHEN ? <> '' AND address LIKE ? ESCAPE '\\' THEN 0 ELSE 1 END, created_at LIMIT ?",
            (since, until, words.strip(), like, max(1, min(limit, 500))),
        )
        keys = ("id", "call_type", "priority", "status", "address", "created_at", "closed_at", "disposition")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    async def incident_timeline(self, incident_id: str) -> list[TimelineEntry]:
        rows = await self._rows(
            "SELECT at, by, action, detail, unit FROM incident_timeline WHERE incident=?"
            " ORDER BY at, length(event_id), event_id",  # ms-seq ids: 5-10 after 5-9
            (incident_id,),
        )
        return [TimelineEntry(at=r[0], by=r[1], action=r[2], detail=r[3], unit=r[4]) for r in rows]

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
        words = self.engine.radio_text_match(text)
        if words is not None:
            where.append(words[0])
            args += words[1]
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
        rows = await self._rows(sql, (*args, max(1, min(limit, 1000))))
        return [RadioEntry(channel=r[0], text=r[1], at=r[2], by=r[3], unit=r[4], incident=r[5]) for r in rows]

    async def response_rows(self, since: int, until: int) -> list[tuple[int, str, int, int | None]]:
        """(priority, call type, created, first dispatch) of calls received in [since, until)."""
        rows = await self._rows(
            "SELECT priority, call_type, created_at, first_dispatch_at FROM incidents"
            " WHERE created_at >= ? AND created_at < ? AND (disposition IS NULL OR disposition != 'duplicate')",
            (since, until),
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

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
        row = await self._row(f"SELECT {', '.join(_ALARM)} FROM alarms WHERE id=?", (alarm_id,))
        return dict(zip(_ALARM, row, strict=True)) if row else None

    async def archived(self, topic: str, limit: int = 10_000) -> list[ArchivedEvent]:
        rows = await self._rows(
            "SELECT topic, id, epoch, kind, by, ts, payload FROM events WHERE topic=? ORDER BY ms, seq LIMIT ?",
            (topic, limit),
        )
        return [ArchivedEvent(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6])) for r in rows]

    async def count_events(self, topic: str | None = None) -> int:
        if topic is None:
            row = await self._row("SELECT COUNT(*) FROM events")
        else:
            row = await self._row("SELECT COUNT(*) FROM events WHERE topic=?", (topic,))
        return int(row[0]) if row else 0
