"""Schema migrations, applied in order; the version lives in PRAGMA user_version.

Plain SQL, so that a PostgreSQL store can follow. Never edit a migration that
has shipped: add the next one.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[str, ...] = (
    # 1: users, audit trail, archived events
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        unit TEXT,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_at ON audit(at);
    CREATE TABLE events (
        topic TEXT NOT NULL,
        id TEXT NOT NULL,
        ms INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        epoch TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL,
        by TEXT NOT NULL DEFAULT '',
        ts INTEGER NOT NULL,
        payload BLOB NOT NULL,
        PRIMARY KEY (topic, ms, seq)
    ) WITHOUT ROWID;
    CREATE INDEX events_kind ON events(kind, ts);
    """,
)
