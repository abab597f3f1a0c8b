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
    # 4: the intake lane: public complaints (one row per officer named, their
    # attachments, their clocks), 311 service requests with where each went,
    # Open311 API keys, and the dead-letter list of entries that could not be filed
    """
    CREATE TABLE complaints (
        file_number TEXT PRIMARY KEY,
        received_at INTEGER NOT NULL,
        channel TEXT NOT NULL,
        taken_by TEXT,
        kind TEXT NOT NULL,
        police_service TEXT NOT NULL,
        occurred_on TEXT NOT NULL DEFAULT '',
        occurred_time TEXT NOT NULL DEFAULT '',
        location TEXT NOT NULL DEFAULT '',
        narrative TEXT NOT NULL,
        desired_outcome TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL DEFAULT '',
        phone TEXT NOT NULL DEFAULT '',
        mailing_address TEXT NOT NULL DEFAULT '',
        contact_by TEXT NOT NULL,
        safe_times TEXT NOT NULL DEFAULT '',
        ok_to_leave_message INTEGER NOT NULL DEFAULT 0,
        accessibility TEXT NOT NULL DEFAULT '',
        interpreter TEXT NOT NULL DEFAULT '',
        consent_share INTEGER NOT NULL,
        stage TEXT NOT NULL,
        status TEXT NOT NULL,
        status_code_hash TEXT NOT NULL,
        intake_entry TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX complaints_received ON complaints(received_at);
    CREATE TABLE complaint_officers (
        file_number TEXT NOT NULL REFERENCES complaints(file_number),
        seq INTEGER NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        badge TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (file_number, seq)
    ) WITHOUT ROWID;
    CREATE INDEX complaint_officers_badge ON complaint_officers(badge);
    CREATE TABLE complaint_attachments (
        file_number TEXT NOT NULL REFERENCES complaints(file_number),
        sha256 TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (file_number, sha256)
    ) WITHOUT ROWID;
    CREATE TABLE complaint_clocks (
        file_number TEXT NOT NULL REFERENCES complaints(file_number),
        clock TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        due_at INTEGER NOT NULL,
        day_kind TEXT NOT NULL,
        met_at INTEGER,
        PRIMARY KEY (file_number, clock)
    ) WITHOUT ROWID;
    CREATE INDEX complaint_clocks_due ON complaint_clocks(due_at) WHERE met_at IS NULL;
    CREATE TABLE service_requests (
        id TEXT PRIMARY KEY,
        token TEXT NOT NULL UNIQUE,
        service_code TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        submitted_by TEXT NOT NULL,
        route TEXT NOT NULL,
        incident TEXT,
        info_request INTEGER REFERENCES info_requests(id),
        agency_responsible TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        address TEXT NOT NULL DEFAULT '',
        address_id TEXT NOT NULL DEFAULT '',
        lat REAL,
        lon REAL,
        media_url TEXT NOT NULL DEFAULT '',
        attributes TEXT NOT NULL DEFAULT '{}',
        first_name TEXT NOT NULL DEFAULT '',
        last_name TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL DEFAULT '',
        phone TEXT NOT NULL DEFAULT '',
        device_id TEXT NOT NULL DEFAULT '',
        account_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX service_requests_at ON service_requests(requested_at);
    CREATE INDEX service_requests_incident ON service_requests(incident);
    CREATE TABLE api_keys (
        name TEXT PRIMARY KEY,
        key_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        last_used_at INTEGER
    );
    CREATE TABLE intake_dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        stream TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        ref TEXT NOT NULL DEFAULT '',
        fields TEXT NOT NULL,
        reason TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        at INTEGER NOT NULL,
        replayed_at INTEGER,
        replayed_by TEXT,
        UNIQUE (stream, entry_id)
    );
    ALTER TABLE info_requests ADD COLUMN notes TEXT NOT NULL DEFAULT '';
    """,
    # 5: revocable sign-ins: a token version per account (raised to end all its
    # tokens), the sessions each sign-in made (revoked one by one on sign-out);
    # and second factors: a TOTP secret per account, one-time recovery codes
    """
    ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE users ADD COLUMN totp_secret TEXT;
    ALTER TABLE users ADD COLUMN totp_pending TEXT;
    ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        via TEXT NOT NULL,
        scope TEXT NOT NULL DEFAULT 'full',
        address TEXT NOT NULL DEFAULT '',
        agent TEXT NOT NULL DEFAULT '',
        revoked_at INTEGER,
        revoked_by TEXT
    );
    CREATE INDEX sessions_user ON sessions(user, issued_at);
    CREATE INDEX sessions_revoked ON sessions(revoked_at, expires_at);
    CREATE TABLE recovery_codes (
        user TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        made_at INTEGER NOT NULL,
        used_at INTEGER,
        PRIMARY KEY (user, code_hash)
    );
    """,
)
