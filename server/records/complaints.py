"""Complaint files in the store: filing one (with its officers, attachments and first clock),
what the public status check may read, and the highest file number given. All their SQL is here;
the rules (what a complaint must hold, its clocks, its status codes) are in ``server.cases``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum

from server.records.store import RecordsStore

__all__ = [
    "AttachmentRow",
    "ClockStart",
    "ComplaintRecords",
    "ComplaintStatus",
    "Filing",
    "NewComplaint",
    "OfficerRow",
]


@dataclass(frozen=True, slots=True)
class OfficerRow:
    name: str
    badge: str
    description: str


@dataclass(frozen=True, slots=True)
class AttachmentRow:
    sha256: str
    name: str
    type: str
    size: int


@dataclass(frozen=True, slots=True)
class ClockStart:
    """A legislated clock started when the file is opened (``server.cases.rules.clocks`` says when it is due)."""

    clock: str
    started_at: int  # ms
    due_at: int  # ms
    day_kind: str
    warn_at: int | None = None  # ms: when it shows as at risk


@dataclass(frozen=True, slots=True)
class NewComplaint:
    """A complaint as it is filed: one row of ``complaints`` and the rows that hang off it."""

    file_number: str
    received_at: int  # ms
    channel: str
    taken_by: str | None  # the staff member who entered it; None: the person, on the web
    kind: str
    police_service: str
    occurred_on: str
    occurred_time: str
    location: str
    narrative: str
    desired_outcome: str
    name: str
    email: str
    phone: str
    mailing_address: str
    contact_by: str
    safe_times: str
    ok_to_leave_message: bool
    accessibility: str
    interpreter: str
    consent_share: bool
    stage: str
    status: str
    status_code_hash: str
    intake_entry: str  # the intake stream entry it was filed from
    officers: list[OfficerRow] = field(default_factory=list)
    attachments: list[AttachmentRow] = field(default_factory=list)
    clocks: list[ClockStart] = field(default_factory=list)


class Filing(Enum):
    """What filing a complaint did."""

    FILED = "filed"
    FILED_BEFORE = "filed before"  # the same submission (its status code hash matches): a redelivery
    NUMBER_TAKEN = "number taken"  # another file has this number: nothing was written


@dataclass(frozen=True, slots=True)
class ComplaintStatus:
    code_hash: str
    kind: str
    received_at: int
    stage: str
    status: str
    acknowledge_due: int | None
    acknowledged_at: int | None
    contact_by: str = ""  # "none": the person asked not to be contacted, so no answer may promise it
    route: str = ""
    asked: str = ""  # while waiting on the person: what we asked them (written to them, never a staff note)


_COMPLAINT_COLUMNS = (
    "file_number, received_at, channel, taken_by, kind, police_service, occurred_on, occurred_time, location,"
    " narrative, desired_outcome, name, email, phone, mailing_address, contact_by, safe_times, ok_to_leave_message,"
    " accessibility, interpreter, consent_share, stage, status, status_code_hash, intake_entry, updated_at"
)


class ComplaintRecords:
    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    async def file(self, c: NewComplaint, by: str) -> Filing:
        """File a complaint and its audit row in one transaction. Idempotent by file number."""
        row = (
            c.file_number,
            c.received_at,
            c.channel,
            c.taken_by,
            c.kind,
            c.police_service,
            c.occurred_on,
            c.occurred_time,
            c.location,
            c.narrative,
            c.desired_outcome,
            c.name,
            c.email,
            c.phone,
            c.mailing_address,
            c.contact_by,
            c.safe_times,
            int(c.ok_to_leave_message),
            c.accessibility,
            c.interpreter,
            int(c.consent_share),
            c.stage,
            c.status,
            c.status_code_hash,
            c.intake_entry,
            c.received_at,
        )
        async with self.store.transaction() as db:
            filed = await db.execute(
                f"INSERT INTO complaints({_COMPLAINT_COLUMNS}) VALUES ({','.join('?' * len(row))})"
                " ON CONFLICT(file_number) DO NOTHING",
                row,
            )
            if filed == 0:
                found = await self.store._row(
                    "SELECT status_code_hash FROM complaints WHERE file_number=?", (c.file_number,)
                )
                same = found is not None and found[0] == c.status_code_hash
                return Filing.FILED_BEFORE if same else Filing.NUMBER_TAKEN
            await db.executemany(
                "INSERT INTO complaint_officers(file_number, seq, name, badge, description) VALUES (?,?,?,?,?)",
                [(c.file_number, i, o.name, o.badge, o.description) for i, o in enumerate(c.officers)],
            )
            await db.executemany(
                "INSERT INTO complaint_attachments(file_number, sha256, name, type, size) VALUES (?,?,?,?,?)"
                " ON CONFLICT DO NOTHING",
                [(c.file_number, a.sha256, a.name, a.type, a.size) for a in c.attachments],
            )
            await db.executemany(
                "INSERT INTO complaint_clocks(file_number, clock, started_at, due_at, day_kind, warn_at)"
                " VALUES (?,?,?,?,?,?)",
                [(c.file_number, k.clock, k.started_at, k.due_at, k.day_kind, k.warn_at) for k in c.clocks],
            )
            await db.execute(
                "UPDATE complaints SET next_due=?, next_warn=? WHERE file_number=?",
                (
                    min((k.due_at for k in c.clocks), default=None),
                    min((k.warn_at for k in c.clocks if k.warn_at is not None), default=None),
                    c.file_number,
                ),
            )
            how = {"web": "on the web", "phone": "by phone", "walk_in": "in person", "mail": "by mail"}
            await db.execute(
                "INSERT INTO case_timeline(file_number, at, by, act, detail, acting_for) VALUES (?,?,?,?,?,'')",
                (
                    c.file_number,
                    c.received_at,
                    c.taken_by or "public",
                    "received",
                    f"{c.kind} received {how.get(c.channel, 'by ' + c.channel)}",
                ),
            )
            detail = json.dumps({"channel": c.channel, "kind": c.kind, "entry": c.intake_entry})
            await self.store.audit(by, "complaint.file", c.file_number, detail)
        return Filing.FILED

    async def status(self, file_number: str) -> ComplaintStatus | None:
        """What the public status check of a file may tell (and the hash its code is checked against)."""
        row = await self.store._row(
            "SELECT c.status_code_hash, c.kind, c.received_at, c.stage, c.status, k.due_at, k.met_at, c.contact_by,"
            " c.route FROM complaints c"
            " LEFT JOIN complaint_clocks k ON k.file_number=c.file_number AND k.clock='acknowledge'"
            " WHERE c.file_number=?",
            (file_number,),
        )
        if row is None:
            return None
        asked = ""
        if row[3] == "waiting":
            last = await self.store._row(
                "SELECT text FROM case_messages WHERE file_number=? AND direction='out' AND purpose='request_info'"
                " ORDER BY id DESC LIMIT 1",
                (file_number,),
            )
            asked = str(last[0]) if last else ""
        return ComplaintStatus(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], asked)

    async def highest_file_number(self) -> int:
        """The highest number of a file given (filed, or dead-lettered before it could be): PC-2026-00042 is 42."""
        row = await self.store._row(
            f"SELECT MAX({self.store.engine.number_at_end('r')}) FROM"
            " (SELECT file_number AS r FROM complaints UNION ALL"
            " SELECT ref FROM intake_dead_letters WHERE stream='complaints') refs"
        )
        return int(row[0] or 0) if row else 0
