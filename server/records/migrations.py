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
    # 2: projections the archiver keeps: incidents with their timelines, the
    # radio log (searchable), alarms with who acknowledged them
    """
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        call_type TEXT NOT NULL,
        priority INTEGER NOT NULL,
        status TEXT NOT NULL,
        source TEXT NOT NULL,
        address TEXT NOT NULL DEFAULT '',
        lat REAL,
        lon REAL,
        district TEXT,
        inside INTEGER,
        created_at INTEGER NOT NULL,
        first_dispatch_at INTEGER,
        closed_at INTEGER,
        disposition TEXT,
        updated_at INTEGER NOT NULL,
        record BLOB NOT NULL
    );
    CREATE INDEX incidents_created ON incidents(created_at);
    CREATE TABLE incident_timeline (
        incident TEXT NOT NULL,
        event_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        by TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        unit TEXT,
        PRIMARY KEY (incident, event_id)
    ) WITHOUT ROWID;
    CREATE TABLE radio_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        at INTEGER NOT NULL,
        channel TEXT NOT NULL,
        unit TEXT,
        incident TEXT,
        by TEXT NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX radio_at ON radio_log(at);
    CREATE INDEX radio_unit ON radio_log(unit, at);
    CREATE INDEX radio_incident ON radio_log(incident, at);
    CREATE VIRTUAL TABLE radio_fts USING fts5(text, content='radio_log', content_rowid='seq');
    CREATE TRIGGER radio_fts_add AFTER INSERT ON radio_log BEGIN
        INSERT INTO radio_fts(rowid, text) VALUES (new.seq, new.text);
    END;
    CREATE TABLE alarms (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        unit TEXT,
        incident TEXT,
        reason TEXT NOT NULL,
        raised_at INTEGER NOT NULL,
        raised_by TEXT NOT NULL,
        state TEXT NOT NULL,
        acked_by TEXT,
        acked_at INTEGER,
        cancelled_by TEXT,
        cancel_reason TEXT,
        police_requested_by TEXT,
        police_requested_at INTEGER,
        updated_at INTEGER NOT NULL
    );
    """,
    # 3: office records: the directory (agencies, business areas), the inbox of
    # emailed information requests, investigations
    """
    CREATE TABLE agencies (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        phone TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE business_areas (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        email TEXT NOT NULL DEFAULT '',
        keywords TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE info_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at INTEGER NOT NULL,
        sender TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        business_area TEXT,
        incident TEXT,
        updated_at INTEGER NOT NULL,
        updated_by TEXT NOT NULL
    );
    CREATE INDEX info_requests_status ON info_requests(status, received_at);
    CREATE TABLE investigations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident TEXT NOT NULL,
        title TEXT NOT NULL,
        status TEXT NOT NULL,
        assigned_to TEXT,
        opened_at INTEGER NOT NULL,
        opened_by TEXT NOT NULL,
        closed_at INTEGER,
        outcome TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE investigation_notes (
        investigation INTEGER NOT NULL REFERENCES investigations(id),
        at INTEGER NOT NULL,
        by TEXT NOT NULL,
        text TEXT NOT NULL
    );
    """,
)
