"""The two database engines under the records store: SQLite (the embedded default, one host)
and PostgreSQL (the shared system of record of several hubs), behind one small interface.

The store modules write their SQL once, in the dialect both accept (``?`` placeholders,
``ON CONFLICT``, ``RETURNING``, BIGINT times); where the two must differ, each engine has
its own implementation of one method, side by side below (full-text search of the radio
log, the number at the end of a reference, migrating). An engine hands out a ``Tx`` for a
transaction; reads outside one run on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from server.config import private_dir
from server.records.migrations import MIGRATIONS, Dialect, render

__all__ = [
    "Conflict",
    "Engine",
    "PostgresEngine",
    "SqliteEngine",
    "Tx",
    "engine_for",
    "is_postgres_url",
    "search_words",
]

log = logging.getLogger("dispatch.records")

_MIGRATION_LOCK = 0x64697370  # "disp": the advisory lock every hub takes to migrate a PostgreSQL store


class Conflict(Exception):
    """A row refused by a unique key or another constraint."""


_WORD = re.compile(r'[^\s"\x00-\x1f\x7f]+')


def search_words(text: str) -> str:
    """Words of a radio search as an FTS5 query: each one quoted (FTS5's own syntax, its
    operators and quotes, never reaches it; nor do control characters, which end its strings),
    all of them required. Empty: nothing to search for."""
    return " ".join(f'"{w}"' for w in _WORD.findall(text))


def is_postgres_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class Tx(ABC):
    """One open transaction: statements run in it and are committed together."""

    @abstractmethod
    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run a statement. -> rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run a statement once per row. -> rows changed in all."""

    @abstractmethod
    async def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row a query (or a statement with RETURNING) reads."""

    async def row(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        found = await self.rows(sql, args)
        return found[0] if found else None


class Engine(ABC):
    """A database the records store runs on."""

    dialect: Dialect
    describe: str  # for the log and /healthz: a path, or a URL without its password

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> contextlib.AbstractAsyncContextManager[Tx]:
        """A transaction: committed when the block ends, rolled back if it raises. Inside one
        already open in this task, the same one (a store method called inside joins it)."""

    @abstractmethod
    async def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read: in the transaction this task has open, else on its own."""

    async def row(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        found = await self.rows(sql, args)
        return found[0] if found else None

    @abstractmethod
    async def migrate(self, migrations: Sequence[str] = MIGRATIONS) -> int:
        """Apply the migrations not applied yet, once however many hubs start together. -> the version."""

    @abstractmethod
    async def schema_version(self) -> int: ...

    # ---- where the dialects differ: one method each -------------------------------------

    @abstractmethod
    def radio_text_match(self, text: str) -> tuple[str, list[Any]] | None:
        """A condition on ``radio_log r`` that holds for entries with every word of ``text``;
        None: no words to search for."""

    @abstractmethod
    def number_at_end(self, expr: str) -> str:
        """SQL for the number that ``expr`` (text) ends with (``PC-2026-00042``: 42); NULL if none."""


# ---- SQLite ---------------------------------------------------------------------------------


class _SqliteTx(Tx):
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        try:
            cur = await self.db.execute(sql, tuple(args))  # one trip to the connection's thread
            return int(cur.rowcount)
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from exc

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        rows = [tuple(r) for r in rows]
        if not rows:
            return 0
        try:
            before = self.db.total_changes
            await self.db.executemany(sql, rows)
            return int(self.db.total_changes - before)
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from exc

    async def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            async with self.db.execute(sql, tuple(args)) as cur:
                return [tuple(r) for r in await cur.fetchall()]
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from exc


class SqliteEngine(Engine):
    """One SQLite file in WAL mode, through one aiosqlite connection shared by every task of the
    process: transactions take turns (one task's commit would otherwise end another's writes
    half way); reads run between them."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"SQLite's synchronous level is NORMAL, FULL or EXTRA, not {synchronous!r}")
        self.path = path
        self.describe = str(path)
        self.synchronous = synchronous.upper()
        self._connection: aiosqlite.Connection | None = None
        self._writing = asyncio.Lock()
        self._writer: asyncio.Task[Any] | None = None

    @property
    def _db(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise RuntimeError("records store is not open")
        return self._connection

    async def open(self) -> None:
        private_dir(self.path.parent)
        self._connection = await aiosqlite.connect(self.path, timeout=30)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute(f"PRAGMA synchronous={self.synchronous}")
        await self._db.execute("PRAGMA busy_timeout=30000")
        await self._db.execute("PRAGMA foreign_keys=ON")

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        task = asyncio.current_task()
        if task is not None and self._writer is task:
            yield _SqliteTx(self._db)  # part of the transaction this task has open
            return
        async with self._writing:
            self._writer = task
            try:
                yield _SqliteTx(self._db)
            except BaseException:
                await self._db.rollback()
                raise
            else:
                await self._db.commit()
            finally:
                self._writer = None

    async def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await _SqliteTx(self._db).rows(sql, args)

    async def migrate(self, migrations: Sequence[str] = MIGRATIONS) -> int:
        # BEGIN IMMEDIATE serialises migrations between hub processes on one file.
        async with self._writing:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                version = await self.schema_version()
                for number, sql in enumerate(migrations[version:], start=version + 1):
                    for statement in _statements(render(sql, "sqlite")):
                        await self._db.execute(statement)
                    await self._db.execute(f"PRAGMA user_version={number}")
                await self._db.commit()
            except BaseException:
                await self._db.rollback()
                raise
        return await self.schema_version()

    async def schema_version(self) -> int:
        row = await self.row("PRAGMA user_version")
        return int(row[0]) if row else 0

    def radio_text_match(self, text: str) -> tuple[str, list[Any]] | None:
        words = search_words(text)
        if not words:
            return None
        return "r.seq IN (SELECT rowid FROM radio_fts WHERE radio_fts MATCH ?)", [words]

    def number_at_end(self, expr: str) -> str:
        return f"CAST(NULLIF(substr({expr}, length(rtrim({expr}, '0123456789')) + 1), '') AS INTEGER)"


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


# ---- PostgreSQL -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _pg(sql: str) -> str:
    """Our ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled first)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _PostgresTx(Tx):
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return int((await self._run(sql, args)).rowcount)

    async def _run(self, sql: str, args: Sequence[Any]) -> Any:
        import psycopg

        try:
            if not args:  # no parameters: as written (a script of several statements too)
                return await self.conn.execute(sql)
            return await self.conn.execute(_pg(sql), tuple(args))
        except psycopg.errors.IntegrityError as exc:
            raise Conflict(str(exc)) from exc

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        import psycopg

        rows = [tuple(r) for r in rows]
        if not rows:
            return 0
        try:
            async with self.conn.cursor() as cur:
                await cur.executemany(_pg(sql), rows)
                return int(cur.rowcount)
        except psycopg.errors.IntegrityError as exc:
            raise Conflict(str(exc)) from exc

    async def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = await self._run(sql, args)
        return [tuple(r) for r in await cur.fetchall()] if cur.description else []


class PostgresEngine(Engine):
    """A PostgreSQL database shared by every hub, through psycopg 3 and its connection pool.
    Transactions of different tasks run side by side, each on a connection of its own."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str, *, max_connections: int = 10) -> None:
        self.url = url
        self.describe = re.sub(r"//([^:@/]*):[^@/]*@", r"//\1:***@", url)
        self.max_connections = max_connections
        self._pool: Any = None
        self._open: dict[asyncio.Task[Any], _PostgresTx] = {}

    async def open(self) -> None:
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(
            self.url,
            min_size=1,
            max_size=self.max_connections,
            kwargs={"autocommit": True},
            check=AsyncConnectionPool.check_connection,  # a connection the server dropped is not handed out
            open=False,
            timeout=30,
        )
        await pool.open(wait=True, timeout=30)
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError("records store is not open")
        return self._pool

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        task = asyncio.current_task()
        if task is not None and task in self._open:
            yield self._open[task]
            return
        async with self.pool.connection() as conn, conn.transaction():
            tx = _PostgresTx(conn)
            if task is not None:
                self._open[task] = tx
            try:
                yield tx
            finally:
                if task is not None:
                    self._open.pop(task, None)

    async def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        task = asyncio.current_task()
        if task is not None and task in self._open:
            return await self._open[task].rows(sql, args)
        async with self.pool.connection() as conn:
            return await _PostgresTx(conn).rows(sql, args)

    async def migrate(self, migrations: Sequence[str] = MIGRATIONS) -> int:
        async with self.transaction() as tx:
            # Hubs starting together wait here for the first to finish; then find nothing to do.
            await tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            await tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            row = await tx.row("SELECT version FROM schema_version")
            version = int(row[0]) if row else 0
            if row is None:
                await tx.execute("INSERT INTO schema_version(version) VALUES (0)")
            for number, sql in enumerate(migrations[version:], start=version + 1):
                await tx.execute(render(sql, "postgresql"))  # one script: PostgreSQL takes several statements
                await tx.execute("UPDATE schema_version SET version=?", (number,))
                log.info("records store migrated to version %d", number)
        return await self.schema_version()

    async def schema_version(self) -> int:
        row = await self.row("SELECT version FROM schema_version")
        return int(row[0]) if row else 0

    def radio_text_match(self, text: str) -> tuple[str, list[Any]] | None:
        words = _WORD.findall(text)
        if not words:
            return None
        return "r.words @@ plainto_tsquery('simple', ?)", [" ".join(words)]

    def number_at_end(self, expr: str) -> str:
        return f"CAST(substring({expr} from '[0-9]+$') AS BIGINT)"


def engine_for(target: str | Path, *, sqlite_synchronous: str = "FULL") -> Engine:
    """The engine for a ``postgresql://`` URL, else for a SQLite file at that path."""
    if is_postgres_url(target):
        return PostgresEngine(str(target))
    return SqliteEngine(Path(target), sqlite_synchronous)
