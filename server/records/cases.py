"""Case files in the store: a complaint's file as the workspace shows it, the queue, the caseload,
the officer register, and one change to a file written whole with its timeline and audit rows.

All the SQL of the case workspace is here; what a change may be (the stages, the clocks, the
level rule) is decided in ``server.cases.rules`` before it reaches this module. A change is
checked against the version the person saved from: two people saving the same file never
overwrite each other silently (``VersionConflict``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from server.records.engine import Tx
from server.records.store import RecordsStore

__all__ = [
    "ENDED_STAGES",
    "AllegationRow",
    "AllegationWrite",
    "Attachment",
    "CaseChange",
    "CaseFile",
    "CaseRecords",
    "CaseloadRow",
    "ClockRow",
    "Complainant",
    "EvidenceRow",
    "MessageRow",
    "NamedOfficer",
    "NoSuchFile",
    "OfficerHistoryRow",
    "QueueFilter",
    "QueueRow",
    "ReferralRow",
    "ReferralWrite",
    "TimelineRow",
    "VersionConflict",
]

ENDED_STAGES = ("closed", "withdrawn", "dismissed")

# The columns of ``complaints`` a change may set (anything else a file holds is what the person told us).
_SETTABLE = frozenset(
    {
        "stage",
        "route",
        "resume_to",
        "assignee",
        "service_kind",
        "flags",
        "summary",
        "checklist",
        "recommendation",
        "level",
        "ended_reason",
        "status",
    }
)


class VersionConflict(Exception):
    """The file changed since the person opened it: nothing was written."""

    def __init__(self, file_number: str, version: int, changed_by: str) -> None:
        super().__init__(f"{file_number} was changed by {changed_by or 'someone else'} (now version {version})")
        self.version = version
        self.changed_by = changed_by


class NoSuchFile(Exception):
    pass


class Complainant(msgspec.Struct):
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


class ClockRow(msgspec.Struct):
    name: str
    started_at: int
    due_at: int
    day_kind: str
    warn_at: int | None = None
    paused_at: int | None = None
    remaining: int = 0
    extended_at: int | None = None
    original_due: int | None = None
    met_at: int | None = None
    stopped: str = ""
    announced: str = "running"  # the last state the sweeper announced (warning, overdue)
    delay_reason: str = ""
    extension: str = ""  # JSON: grounds, approver, notice
    delay_expected: str = ""  # a late clock: when the work is expected to be done (a date)
    delay_action: str = ""  # and what is being done about it (the public delay report says both)


class AllegationRow(msgspec.Struct):
    id: int
    type: str
    tier: int
    summary: str
    level: int | None
    route: str
    finding: str
    finding_at: int | None
    officer: int | None
    officer_name: str
    officer_badge: str
    officer_service: str


class TimelineRow(msgspec.Struct):
    id: int
    at: int
    by: str
    act: str
    detail: str
    acting_for: str
    transitory: bool = False


class ReferralRow(msgspec.Struct):
    id: int
    body: str
    level: int | None
    sent_at: int
    follow_up_due: int
    outcome: str
    outcome_at: int | None
    notified_at: int | None
    by: str


class MessageRow(msgspec.Struct):
    id: int
    at: int
    by: str
    direction: str  # "out" to the complainant, "in" from them
    channel: str
    address: str
    purpose: str
    text: str


class EvidenceRow(msgspec.Struct):
    id: int
    kind: str
    ref: str
    sha256: str
    size: int
    attached_by: str
    attached_at: int


class NamedOfficer(msgspec.Struct):
    name: str
    badge: str
    description: str


class Attachment(msgspec.Struct):
    sha256: str
    name: str
    type: str
    size: int


class CaseFile(msgspec.Struct):
    file_number: str
    version: int
    kind: str
    stage: str
    route: str
    resume_to: str
    assignee: str | None
    received_at: int
    channel: str
    taken_by: str | None
    police_service: str
    service_kind: str
    flags: list[str]
    summary: str
    checklist: dict[str, str]
    recommendation: dict[str, Any] | None
    level: int | None
    ended_reason: str
    occurred_on: str
    occurred_time: str
    location: str
    narrative: str
    desired_outcome: str
    complainant: Complainant
    updated_at: int
    changed_by: str
    officers_named: list[NamedOfficer] = []
    attachments: list[Attachment] = []
    clocks: list[ClockRow] = []
    allegations: list[AllegationRow] = []
    timeline: list[TimelineRow] = []
    referrals: list[ReferralRow] = []
    messages: list[MessageRow] = []
    evidence: list[EvidenceRow] = []


class QueueRow(msgspec.Struct):
    file_number: str
    version: int
    kind: str
    stage: str
    route: str
    assignee: str | None
    police_service: str
    level: int | None
    flags: list[str]
    received_at: int
    updated_at: int
    next_due: int | None
    next_warn: int | None
    allegations: int


@dataclass(frozen=True, slots=True)
class QueueFilter:
    stage: str | None = None
    level: int | None = None
    police_service: str | None = None
    assignee: str | None = None  # "" : unassigned
    overdue: bool = False
    at_risk: bool = False  # overdue, or in a clock's warning period
    lead: bool = False  # the team lead's queue: escalated, or a recommendation waiting to be confirmed
    text: str = ""  # a file number, an officer's name or badge, words of the summary
    ended: bool = False  # closed, withdrawn and dismissed files instead of open ones
    limit: int = 200


class CaseloadRow(msgspec.Struct):
    assignee: str | None
    open: int
    at_risk: int
    overdue: int


class OfficerHistoryRow(msgspec.Struct):
    file_number: str
    received_at: int
    stage: str
    type: str
    tier: int
    level: int | None
    finding: str


@dataclass(frozen=True, slots=True)
class AllegationWrite:
    """An allegation added (``id`` None) or changed; its officer found in (or added to) the register."""

    id: int | None
    type: str
    tier: int
    summary: str
    level: int | None
    route: str
    officer_name: str
    officer_badge: str
    officer_service: str
    finding: str = ""
    finding_at: int | None = None


@dataclass(frozen=True, slots=True)
class ReferralWrite:
    id: int | None  # None: a new referral
    body: str = ""
    level: int | None = None
    sent_at: int = 0
    follow_up_due: int = 0
    outcome: str | None = None
    outcome_at: int | None = None
    notified_at: int | None = None


@dataclass(slots=True)
class CaseChange:
    """Everything one act does to a file, written in one transaction or not at all."""

    act: str
    by: str
    detail: str = ""
    acting_for: str = ""  # the team lead a coordinator acted for (a recorded delegation)
    fields: dict[str, Any] = field(default_factory=dict)
    clocks: list[ClockRow] = field(default_factory=list)  # upserted whole
    allegations: list[AllegationWrite] = field(default_factory=list)
    removed_allegations: list[int] = field(default_factory=list)
    referrals: list[ReferralWrite] = field(default_factory=list)
    messages: list[tuple[str, str, str, str, str]] = field(
        default_factory=list
    )  # direction, channel, address, purpose, text
    evidence: list[tuple[str, str, str, bytes]] = field(default_factory=list)  # kind, ref, sha256, body
    more_timeline: list[tuple[str, str]] = field(default_factory=list)  # (act, detail) after the main line
    transitory: bool = False  # the main line is a working note, disposed of on the retention schedule


_FILE_COLUMNS = (
    "file_number, version, kind, stage, route, resume_to, assignee, received_at, channel, taken_by, police_service,"
    " service_kind, flags, summary, checklist, recommendation, level, ended_reason, occurred_on, occurred_time,"
    " location, narrative, desired_outcome, name, email, phone, mailing_address, contact_by, safe_times,"
    " ok_to_leave_message, accessibility, interpreter, consent_share, updated_at, changed_by"
)
_CLOCK_COLUMNS = (
    "clock, started_at, due_at, day_kind, warn_at, paused_at, remaining, extended_at, original_due, met_at,"
    " stopped, announced, delay_reason, extension, delay_expected, delay_action"
)
_ALLEGATION_SELECT = (
    "SELECT a.id, a.type, a.tier, a.summary, a.level, a.route, a.finding, a.finding_at, a.officer,"
    " COALESCE(o.name, ''), COALESCE(o.badge, ''), COALESCE(o.service, '')"
    " FROM case_allegations a LEFT JOIN case_officers o ON o.id = a.officer"
)
_QUEUE_SELECT = (
    "SELECT c.file_number, c.version, c.kind, c.stage, c.route, c.assignee, c.police_service, c.level, c.flags,"
    " c.received_at, c.updated_at, c.next_due, c.next_warn,"
    " (SELECT COUNT(*) FROM case_allegations a WHERE a.file_number = c.file_number)"
    " FROM complaints c"
)
# A clock that counts: not met, not stopped (referred out, ended), not paused (waiting on the complainant).
_COUNTING = "k.met_at IS NULL AND k.stopped = '' AND k.paused_at IS NULL"


def _flags(text: str) -> list[str]:
    return [f for f in text.split(",") if f]


def _clock(row: Sequence[Any]) -> ClockRow:
    return ClockRow(*row)


def _queue_row(r: Sequence[Any]) -> QueueRow:
    return QueueRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], _flags(r[8]), r[9], r[10], r[11], r[12], r[13])


class CaseRecords:
    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    # ---- reading ------------------------------------------------------------------

    async def file(self, file_number: str) -> CaseFile | None:
        """The whole file, as the workspace shows it (the caller audits the view)."""
        s = self.store
        row = await s._row(f"SELECT {_FILE_COLUMNS} FROM complaints WHERE file_number=?", (file_number,))
        if row is None:
            return None
        r = list(row)
        who = Complainant(r[23], r[24], r[25], r[26], r[27], r[28], bool(r[29]), r[30], r[31], bool(r[32]))
        found = CaseFile(
            file_number=r[0],
            version=r[1],
            kind=r[2],
            stage=r[3],
            route=r[4],
            resume_to=r[5],
            assignee=r[6],
            received_at=r[7],
            channel=r[8],
            taken_by=r[9],
            police_service=r[10],
            service_kind=r[11],
            flags=_flags(r[12]),
            summary=r[13],
            checklist=json.loads(r[14] or "{}"),
            recommendation=json.loads(r[15]) if r[15] else None,
            level=r[16],
            ended_reason=r[17],
            occurred_on=r[18],
            occurred_time=r[19],
            location=r[20],
            narrative=r[21],
            desired_outcome=r[22],
            complainant=who,
            updated_at=r[33],
            changed_by=r[34],
        )
        key = (file_number,)
        found.officers_named = [
            NamedOfficer(*o)
            for o in await s._rows(
                "SELECT name, badge, description FROM complaint_officers WHERE file_number=? ORDER BY seq", key
            )
        ]
        found.attachments = [
            Attachment(*a)
            for a in await s._rows(
                "SELECT sha256, name, type, size FROM complaint_attachments WHERE file_number=? ORDER BY name", key
            )
        ]
        found.clocks = await self.clocks(file_number)
        found.allegations = [
            AllegationRow(*a) for a in await s._rows(f"{_ALLEGATION_SELECT} WHERE a.file_number=? ORDER BY a.id", key)
        ]
        found.timeline = [
            TimelineRow(t[0], t[1], t[2], t[3], t[4], t[5], bool(t[6]))
            for t in await s._rows(
                "SELECT id, at, by, act, detail, acting_for, transitory FROM case_timeline WHERE file_number=?"
                " ORDER BY id",
                key,
            )
        ]
        found.referrals = [
            ReferralRow(*x)
            for x in await s._rows(
                "SELECT id, body, level, sent_at, follow_up_due, outcome, outcome_at, notified_at, by"
                " FROM case_referrals WHERE file_number=? ORDER BY id",
                key,
            )
        ]
        found.messages = [
            MessageRow(*m)
            for m in await s._rows(
                "SELECT id, at, by, direction, channel, address, purpose, text FROM case_messages"
                " WHERE file_number=? ORDER BY id",
                key,
            )
        ]
        found.evidence = [
            EvidenceRow(*e)
            for e in await s._rows(
                "SELECT id, kind, ref, sha256, length(body), attached_by, attached_at FROM case_evidence"
                " WHERE file_number=? ORDER BY id",
                key,
            )
        ]
        return found

    async def clocks(self, file_number: str) -> list[ClockRow]:
        rows = await self.store._rows(
            f"SELECT {_CLOCK_COLUMNS} FROM complaint_clocks WHERE file_number=? ORDER BY started_at, clock",
            (file_number,),
        )
        return [_clock(r) for r in rows]

    async def clock(self, file_number: str, name: str) -> tuple[ClockRow, str, str | None, int] | None:
        """One clock, with its file's stage, assignee and version (what the sweeper needs)."""
        row = await self.store._row(
            f"SELECT {', '.join('k.' + c.strip() for c in _CLOCK_COLUMNS.split(','))}, c.stage, c.assignee, c.version"
            " FROM complaint_clocks k JOIN complaints c ON c.file_number = k.file_number"
            " WHERE k.file_number=? AND k.clock=?",
            (file_number, name),
        )
        if row is None:
            return None
        return _clock(row[:16]), row[16], row[17], row[18]

    async def counting_clocks(self, after: tuple[str, str] = ("", ""), limit: int = 5000) -> list[tuple[str, ClockRow]]:
        """(file number, clock) of every clock still counting, in key order from ``after``: what the
        sweeper's due set is seeded from (Redis lost it, or a hub starts)."""
        cols = ", ".join("k." + c.strip() for c in _CLOCK_COLUMNS.split(","))
        rows = await self.store._rows(
            f"SELECT k.file_number, {cols} FROM complaint_clocks k WHERE {_COUNTING}"
            " AND (k.file_number > ? OR (k.file_number = ? AND k.clock > ?))"
            " ORDER BY k.file_number, k.clock LIMIT ?",
            (after[0], after[0], after[1], limit),
        )
        return [(r[0], _clock(r[1:])) for r in rows]

    async def version(self, file_number: str) -> int | None:
        row = await self.store._row("SELECT version FROM complaints WHERE file_number=?", (file_number,))
        return int(row[0]) if row else None

    async def queue(self, ask: QueueFilter, now_ms: int) -> list[QueueRow]:
        """Open files, the most at risk first: the soonest due of their counting clocks (overdue
        first), then those with no clock counting, newest last."""
        where, args = self._where(ask, now_ms)
        sql = f"{_QUEUE_SELECT} WHERE {' AND '.join(where)}"
        sql += " ORDER BY c.next_due IS NULL, c.next_due, c.received_at LIMIT ?"
        rows = await self.store._rows(sql, (*args, max(1, min(ask.limit, 1000))))
        return [_queue_row(r) for r in rows]

    def _where(self, ask: QueueFilter, now_ms: int) -> tuple[list[str], list[Any]]:
        ended = ", ".join(f"'{s}'" for s in ENDED_STAGES)
        where = [f"c.stage IN ({ended})" if ask.ended else f"c.stage NOT IN ({ended})"]
        args: list[Any] = []
        if ask.stage:
            where.append("c.stage = ?")
            args.append(ask.stage)
        if ask.level is not None:
            where.append("c.level = ?")
            args.append(ask.level)
        if ask.police_service:
            where.append("c.police_service = ?")
            args.append(ask.police_service)
        if ask.assignee is not None:
            if ask.assignee:
                where.append("c.assignee = ?")
                args.append(ask.assignee)
            else:
                where.append("c.assignee IS NULL")
        if ask.overdue:
            where.append("c.next_due < ?")
            args.append(now_ms)
        if ask.at_risk:
            where.append("(c.next_due < ? OR c.next_warn <= ?)")
            args += [now_ms, now_ms]
        if ask.lead:
            where.append(
                "(c.flags <> '' OR (c.stage = 'jurisdiction' AND c.recommendation <> ''"
                " AND c.recommendation NOT LIKE '%\"confirmed_by\"%'))"
            )
        text = ask.text.strip()
        if text:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(
                "(c.file_number LIKE ? ESCAPE '\\' OR c.summary LIKE ? ESCAPE '\\'"
                " OR EXISTS (SELECT 1 FROM case_allegations a JOIN case_officers o ON o.id = a.officer"
                " WHERE a.file_number = c.file_number AND (o.name LIKE ? ESCAPE '\\' OR o.badge = ?))"
                " OR EXISTS (SELECT 1 FROM complaint_officers n WHERE n.file_number = c.file_number"
                " AND (n.name LIKE ? ESCAPE '\\' OR n.badge = ?)))"
            )
            args += [like, like, like, text, like, text]
        return where, args

    async def caseload(self, now_ms: int) -> list[CaseloadRow]:
        """Open files per coordinator (None: unassigned), with how many are at risk and overdue."""
        ended = ", ".join(f"'{s}'" for s in ENDED_STAGES)
        rows = await self.store._rows(
            "SELECT assignee, COUNT(*),"
            " SUM(CASE WHEN next_due >= ? AND next_warn <= ? THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN next_due < ? THEN 1 ELSE 0 END)"
            f" FROM complaints WHERE stage NOT IN ({ended}) GROUP BY assignee ORDER BY assignee",
            (now_ms, now_ms, now_ms),
        )
        return [CaseloadRow(r[0], int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in rows]

    async def officer_history(self, officer: int) -> list[OfficerHistoryRow]:
        rows = await self.store._rows(
            "SELECT c.file_number, c.received_at, c.stage, a.type, a.tier, a.level, a.finding"
            " FROM case_allegations a JOIN complaints c ON c.file_number = a.file_number"
            " WHERE a.officer = ? ORDER BY c.received_at, a.id",
            (officer,),
        )
        return [OfficerHistoryRow(*r) for r in rows]

    async def delegated_by(self, coordinator: str, now_ms: int) -> str | None:
        """The team lead this coordinator may act for now, if any."""
        row = await self.store._row(
            "SELECT lead FROM case_delegations WHERE coordinator=? AND revoked_at IS NULL"
            " AND from_at <= ? AND until_at > ? ORDER BY id DESC LIMIT 1",
            (coordinator, now_ms, now_ms),
        )
        return str(row[0]) if row else None

    async def evidence_body(self, file_number: str, evidence_id: int) -> tuple[str, str, bytes] | None:
        row = await self.store._row(
            "SELECT kind, sha256, body FROM case_evidence WHERE file_number=? AND id=?", (file_number, evidence_id)
        )
        return (row[0], row[1], bytes(row[2])) if row else None

    # ---- writing ------------------------------------------------------------------

    async def delegate(self, lead: str, coordinator: str, from_ms: int, until_ms: int) -> int:
        async with self.store.transaction() as db:
            await db.execute(
                "UPDATE case_delegations SET revoked_at=? WHERE lead=? AND revoked_at IS NULL AND until_at > ?",
                (from_ms, lead, from_ms),
            )
            made = await db.rows(
                "INSERT INTO case_delegations(lead, coordinator, from_at, until_at) VALUES (?,?,?,?) RETURNING id",
                (lead, coordinator, from_ms, until_ms),
            )
            await self.store.audit(lead, "case.delegate", coordinator, json.dumps({"until": until_ms}))
        return int(made[0][0])

    async def apply(self, file_number: str, expect_version: int, change: CaseChange) -> int:
        """Write one act whole: the file (only if it is still at ``expect_version``), its clocks,
        allegations, referrals, messages, evidence, the timeline line and the audit row.
        -> the new version. Raises ``VersionConflict`` or ``NoSuchFile``; then nothing is written."""
        bad = set(change.fields) - _SETTABLE
        if bad:
            raise ValueError(f"not columns a change may set: {sorted(bad)}")
        now = int(time.time() * 1000)
        names = list(change.fields)
        sets = "".join(f", {n}=?" for n in names)
        async with self.store.transaction() as db:
            done = await db.execute(
                f"UPDATE complaints SET version=version+1, updated_at=?, changed_by=?{sets}"
                " WHERE file_number=? AND version=?",
                (now, change.by, *(change.fields[n] for n in names), file_number, expect_version),
            )
            if done == 0:
                found = await db.row("SELECT version, changed_by FROM complaints WHERE file_number=?", (file_number,))
                if found is None:
                    raise NoSuchFile(file_number)
                raise VersionConflict(file_number, int(found[0]), str(found[1]))
            await self._write_clocks(db, file_number, change.clocks)
            await self._write_allegations(db, file_number, change.allegations, change.removed_allegations, now)
            await self._write_referrals(db, file_number, change.referrals, change.by)
            await db.executemany(
                "INSERT INTO case_messages(file_number, at, by, direction, channel, address, purpose, text)"
                " VALUES (?,?,?,?,?,?,?,?)",
                [(file_number, now, change.by, *m) for m in change.messages],
            )
            await db.executemany(
                "INSERT INTO case_evidence(file_number, kind, ref, sha256, body, attached_by, attached_at)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                [(file_number, k, ref, digest, body, change.by, now) for k, ref, digest, body in change.evidence],
            )
            lines = [(change.act, change.detail, int(change.transitory))]
            lines += [(act, detail, 0) for act, detail in change.more_timeline]
            await db.executemany(
                "INSERT INTO case_timeline(file_number, at, by, act, detail, acting_for, transitory)"
                " VALUES (?,?,?,?,?,?,?)",
                [(file_number, now, change.by, act, detail, change.acting_for, t) for act, detail, t in lines],
            )
            await self._refresh_next_due(db, file_number)
            detail = json.dumps({"act": change.act, "acting_for": change.acting_for} if change.acting_for else {})
            await self.store.audit(change.by, f"case.{change.act}", file_number, detail)
            row = await db.row("SELECT version FROM complaints WHERE file_number=?", (file_number,))
        assert row is not None
        return int(row[0])

    async def announce(self, file_number: str, clock: str, was: str, now_state: str, by: str, detail: str) -> bool:
        """Record that a clock turned (warning, overdue), once: only if it is still as it was
        announced (two sweepers claiming the same turn write it once). -> whether this one did."""
        async with self.store.transaction() as db:
            done = await db.execute(
                "UPDATE complaint_clocks SET announced=? WHERE file_number=? AND clock=? AND announced=?",
                (now_state, file_number, clock, was),
            )
            if done == 0:
                return False
            await db.execute(
                "INSERT INTO case_timeline(file_number, at, by, act, detail, acting_for) VALUES (?,?,?,?,?,'')",
                (file_number, int(time.time() * 1000), by, f"clock.{now_state}", detail),
            )
        return True

    async def opened(self, file_number: str, by: str, detail: str) -> None:
        """The first line of a file's timeline, and its next due date (written as it is filed)."""
        async with self.store.transaction() as db:
            await db.execute(
                "INSERT INTO case_timeline(file_number, at, by, act, detail, acting_for) VALUES (?,?,?,?,?,'')",
                (file_number, int(time.time() * 1000), by, "received", detail),
            )
            await self._refresh_next_due(db, file_number)

    async def _refresh_next_due(self, db: Tx, file_number: str) -> None:
        await db.execute(
            "UPDATE complaints SET"
            f" next_due=(SELECT MIN(k.due_at) FROM complaint_clocks k WHERE k.file_number=? AND {_COUNTING}),"
            f" next_warn=(SELECT MIN(k.warn_at) FROM complaint_clocks k WHERE k.file_number=? AND {_COUNTING})"
            " WHERE file_number=?",
            (file_number, file_number, file_number),
        )

    async def _write_clocks(self, db: Tx, file_number: str, clocks: Iterable[ClockRow]) -> None:
        rows = [
            (
                file_number,
                k.name,
                k.started_at,
                k.due_at,
                k.day_kind,
                k.warn_at,
                k.paused_at,
                k.remaining,
                k.extended_at,
                k.original_due,
                k.met_at,
                k.stopped,
                k.announced,
                k.delay_reason,
                k.extension,
                k.delay_expected,
                k.delay_action,
            )
            for k in clocks
        ]
        await db.executemany(
            f"INSERT INTO complaint_clocks(file_number, {_CLOCK_COLUMNS}) VALUES ({','.join('?' * 17)})"
            " ON CONFLICT(file_number, clock) DO UPDATE SET started_at=excluded.started_at, due_at=excluded.due_at,"
            " day_kind=excluded.day_kind, warn_at=excluded.warn_at, paused_at=excluded.paused_at,"
            " remaining=excluded.remaining, extended_at=excluded.extended_at, original_due=excluded.original_due,"
            " met_at=excluded.met_at, stopped=excluded.stopped, announced=excluded.announced,"
            " delay_reason=excluded.delay_reason, extension=excluded.extension,"
            " delay_expected=excluded.delay_expected, delay_action=excluded.delay_action",
            rows,
        )

    async def _officer(self, db: Tx, service: str, badge: str, name: str) -> int | None:
        """The register's row for an officer (by badge within the service, else by name), added if new."""
        badge, name = badge.strip(), name.strip()
        if not badge and not name:
            return None
        if badge:
            found = await db.row("SELECT id, name FROM case_officers WHERE service=? AND badge=?", (service, badge))
            if found is not None:
                if name and not found[1]:
                    await db.execute("UPDATE case_officers SET name=? WHERE id=?", (name, found[0]))
                return int(found[0])
        else:
            found = await db.row(
                "SELECT id FROM case_officers WHERE service=? AND badge='' AND name=?", (service, name)
            )
            if found is not None:
                return int(found[0])
        made = await db.rows(
            "INSERT INTO case_officers(service, badge, name) VALUES (?,?,?) ON CONFLICT DO NOTHING RETURNING id",
            (service, badge, name),
        )
        if made:
            return int(made[0][0])
        again = await db.row(
            "SELECT id FROM case_officers WHERE service=? AND badge=? AND name=?", (service, badge, name)
        )
        return int(again[0]) if again else None

    async def _write_allegations(
        self, db: Tx, file_number: str, writes: Iterable[AllegationWrite], removed: Iterable[int], now: int
    ) -> None:
        for a in writes:
            officer = await self._officer(db, a.officer_service, a.officer_badge, a.officer_name)
            if a.id is None:
                await db.execute(
                    "INSERT INTO case_allegations(file_number, officer, type, tier, summary, level, route, finding,"
                    " finding_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (file_number, officer, a.type, a.tier, a.summary, a.level, a.route, a.finding, a.finding_at)
                    + (now, now),
                )
            else:
                done = await db.execute(
                    "UPDATE case_allegations SET officer=?, type=?, tier=?, summary=?, level=?, route=?, finding=?,"
                    " finding_at=?, updated_at=? WHERE id=? AND file_number=?",
                    (officer, a.type, a.tier, a.summary, a.level, a.route, a.finding, a.finding_at, now)
                    + (a.id, file_number),
                )
                if done == 0:
                    raise NoSuchFile(f"{file_number} has no allegation {a.id}")
        for gone in removed:
            await db.execute("DELETE FROM case_allegations WHERE id=? AND file_number=?", (gone, file_number))

    async def _write_referrals(self, db: Tx, file_number: str, writes: Iterable[ReferralWrite], by: str) -> None:
        for r in writes:
            if r.id is None:
                await db.execute(
                    "INSERT INTO case_referrals(file_number, body, level, sent_at, follow_up_due, by)"
                    " VALUES (?,?,?,?,?,?)",
                    (file_number, r.body, r.level, r.sent_at, r.follow_up_due, by),
                )
                continue
            sets: list[str] = []
            args: list[Any] = []
            for column, value in (("outcome", r.outcome), ("outcome_at", r.outcome_at), ("notified_at", r.notified_at)):
                if value is not None:
                    sets.append(f"{column}=?")
                    args.append(value)
            if sets:
                done = await db.execute(
                    f"UPDATE case_referrals SET {', '.join(sets)} WHERE id=? AND file_number=?",
                    (*args, r.id, file_number),
                )
                if done == 0:
                    raise NoSuchFile(f"{file_number} has no referral {r.id}")
