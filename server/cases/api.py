"""The case workspace over HTTP: the queue, the caseload, a file (every view audited), its acts,
the officer register's history, delegations, and evidence from dispatch's records.

Every route here is for case staff only (the permission table); what each of them may do to a
file is the stage machine's to say (``server/cases/rules/stages.py``). A save names the version
it was made from: a file changed since answers 409 with who changed it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from server.access.roles import Principal, Role
from server.cases import acts as a
from server.cases.acts import ActIn
from server.cases.rules import screening
from server.cases.rules.stages import (
    GROUND_DEFINITIONS,
    PUBLIC_WORDS,
    Refused,
    Route,
    Stage,
    acting_as_lead,
    allowed,
    public_words,
)
from server.cases.timing import view
from server.cases.workspace import Workspace, given_fields
from server.context import context
from server.http.endpoints import Endpoint, answer, error
from server.http.inputs import Ms, read_json, read_query
from server.records.cases import (
    CaseFile,
    CaseloadRow,
    NoSuchFile,
    OfficerHistoryRow,
    QueueFilter,
    QueueRow,
    VersionConflict,
)
from server.records.store import RecordsStore

__all__ = [
    "Caseload",
    "CheckView",
    "ClockView",
    "Delegation",
    "DelegationIn",
    "EvidenceFound",
    "EvidenceIn",
    "EvidenceQuery",
    "EvidenceSource",
    "FileView",
    "OfficerHistory",
    "Queue",
    "QueueItem",
    "QueueQuery",
    "Reference",
    "act",
    "attach_evidence",
    "caseload",
    "delegate",
    "endpoints",
    "find_evidence",
    "officer_history",
    "queue",
    "read_evidence",
    "read_file",
    "reference",
]

_MAX_BODY = 64 * 1024
FileNumber = Annotated[str, Meta(min_length=3, max_length=40, pattern=r"^[A-Za-z0-9-]+$")]


@dataclass(frozen=True, slots=True)
class EvidenceSource:
    """Dispatch's record of an incident as one document (EIDO with its timeline and radio log).
    Made by the app, which knows both domains: cases never imports dispatch."""

    export: Callable[[str], Awaitable[dict[str, Any] | None]]


class QueueQuery(msgspec.Struct, forbid_unknown_fields=True):
    stage: Annotated[str, Meta(max_length=20)] | None = None
    level: Annotated[int, Meta(ge=1, le=5)] | None = None
    service: Annotated[str, Meta(max_length=120)] | None = None
    assignee: Annotated[str, Meta(max_length=64)] | None = None  # "-": unassigned; "me": mine
    overdue: bool = False
    at_risk: bool = False
    lead: bool = False
    ended: bool = False
    q: Annotated[str, Meta(max_length=100)] = ""
    limit: Annotated[int, Meta(ge=1, le=1000)] = 200


class ClockView(msgspec.Struct):
    name: str
    state: str
    due_at: int
    overdue_days: int
    due_day: str  # the last day, in the agency's time zone (a clock is due at its end)


class QueueItem(msgspec.Struct):
    file: QueueRow
    state: str  # the worst of its clocks: overdue, warning, running, paused... ("" for none)


class Queue(msgspec.Struct):
    files: list[QueueItem]
    server_time: int


class Caseload(msgspec.Struct):
    coordinators: list[CaseloadRow]
    server_time: int


class CheckView(msgspec.Struct):
    key: str
    label: str
    present: bool
    mark: str | None
    met: bool


class FileView(msgspec.Struct):
    file: CaseFile
    clocks: list[ClockView]
    checklist: list[CheckView]
    acts: list[str]  # what this person may do now
    acting_for: str  # the team lead they may act for ("" if none)
    public_words: str  # what the complainant's status check says
    server_time: int


class Reference(msgspec.Struct):
    """What the workspace offers: allegation types, checklists, findings, grounds with their meaning."""

    allegation_types: list[dict[str, Any]]
    checklists: dict[str, list[dict[str, str]]]
    grounds: dict[str, str]
    findings: list[str]
    service_kinds: dict[str, str]
    police_services: list[str]
    stages: dict[str, str]
    timezone: str  # the agency's: due dates are shown in it


class DelegationIn(msgspec.Struct, forbid_unknown_fields=True):
    coordinator: Annotated[str, Meta(min_length=1, max_length=64)]
    hours: Annotated[int, Meta(ge=1, le=24 * 30)] = 8


class Delegation(msgspec.Struct):
    id: int
    lead: str
    coordinator: str
    until: int


class EvidenceQuery(msgspec.Struct, forbid_unknown_fields=True):
    since: Ms | None = None
    until: Ms | None = None
    words: Annotated[str, Meta(max_length=100)] = ""
    unit: Annotated[str, Meta(max_length=64)] = ""


class EvidenceFound(msgspec.Struct):
    incidents: list[dict[str, Any]]
    radio: list[dict[str, Any]]


class EvidenceIn(msgspec.Struct, forbid_unknown_fields=True):
    incident: Annotated[str, Meta(min_length=1, max_length=64)]
    version: Annotated[int, Meta(ge=1, le=2**53 - 1)]


class OfficerHistory(msgspec.Struct):
    officer: int
    allegations: list[OfficerHistoryRow]


def _workspace(request: Request) -> Workspace:
    return context(request).part(Workspace)


def _store(request: Request) -> RecordsStore:
    return context(request).store


def _worst(states: list[str]) -> str:
    order = ("overdue", "warning", "running", "extended", "paused", "referred")
    for s in order:
        if s in states:
            return s
    return ""


async def queue(request: Request, who: Principal | None) -> Response:
    assert who is not None
    ask = read_query(request, QueueQuery)
    ws = _workspace(request)
    now = int(time.time() * 1000)
    assignee = {"-": "", "me": who.user}.get(ask.assignee or "", ask.assignee)
    rows = await ws.records.queue(
        QueueFilter(
            stage=ask.stage,
            level=ask.level,
            police_service=ask.service,
            assignee=assignee,
            overdue=ask.overdue,
            at_risk=ask.at_risk,
            lead=ask.lead,
            text=ask.q,
            ended=ask.ended,
            limit=ask.limit,
        ),
        now,
    )
    items = []
    for row in rows:
        if row.next_due is not None and row.next_due < now:
            state = "overdue"
        elif row.next_warn is not None and row.next_warn <= now:
            state = "warning"
        elif row.next_due is not None:
            state = "running"
        else:
            state = ""
        items.append(QueueItem(row, state))
    return answer(Queue(items, now))


async def caseload(request: Request, who: Principal | None) -> Response:
    now = int(time.time() * 1000)
    return answer(Caseload(await _workspace(request).records.caseload(now), now))


async def _file_view(request: Request, who: Principal, f: CaseFile) -> FileView:
    ws = _workspace(request)
    now = int(time.time() * 1000)
    clocks = []
    for row in f.clocks:
        state, late = view(row, ws.policy, now)
        due_day = dt.datetime.fromtimestamp(row.due_at / 1000, ZoneInfo(ws.policy.complaints.timezone)).date()
        clocks.append(ClockView(row.name, state, row.due_at, late, due_day.strftime("%a %b %-d, %Y")))
    items = screening.checklist(f.kind, given_fields(f), f.checklist)
    lead = ""
    if who.role is Role.CASE_COORDINATOR:
        lead = await ws.records.delegated_by(who.user, now) or ""
    stage = Stage(f.stage)
    route = Route(f.route) if f.route in {r.value for r in Route} else None
    acts = [str(x) for x in allowed(stage, who.role, acting=bool(lead))]
    return FileView(
        file=f,
        clocks=clocks,
        checklist=[CheckView(i.key, i.label, i.present, i.mark, i.met) for i in items],
        acts=acts,
        acting_for=lead if lead and acting_as_lead(who.role, True) else "",
        public_words=public_words(stage, route),
        server_time=now,
    )


async def read_file(request: Request, who: Principal | None) -> Response:
    """A file, whole: the view is written to the audit trail."""
    assert who is not None
    number = request.path_params["file"]
    ws = _workspace(request)
    f = await ws.records.file(number)
    if f is None:
        return error(404, f"no file {number}")
    await _store(request).audit(who.user, "case.view", number)
    return answer(await _file_view(request, who, f))


async def act(request: Request, who: Principal | None) -> Response:
    assert who is not None
    number = request.path_params["file"]
    body = await read_json(request, ActIn, _MAX_BODY)
    ws = _workspace(request)
    try:
        f = await ws.act(who, number, body)
    except NoSuchFile:
        return error(404, f"no file {number}")
    except VersionConflict as exc:
        return error(
            409,
            f"{exc.changed_by or 'Someone else'} changed this file while you had it open (it is now version"
            f" {exc.version}). Nothing of yours was saved: reload it, then make your change again.",
        )
    except Refused as exc:
        return error(422, exc.message)
    return answer(await _file_view(request, who, f))


async def reference(request: Request, who: Principal | None) -> Response:
    ws = _workspace(request)
    rules = ws.policy.complaints
    return answer(
        Reference(
            allegation_types=[
                {"code": t.code, "label": t.label, "tier": t.tier, "category": t.category} for t in ws.taxonomy.values()
            ],
            checklists={
                kind: [{"key": i.key, "label": i.label, "ask": i.ask} for i in items]
                for kind, items in screening.CHECKLISTS.items()
            },
            grounds={str(k): v for k, v in GROUND_DEFINITIONS.items()},
            findings=["unfounded", "exonerated", "not_sustained", "sustained", "no_cooperation", "withdrawn"],
            service_kinds=dict(rules.service_kinds),
            police_services=list(rules.police_services),
            stages={str(k): v for k, v in PUBLIC_WORDS.items()},
            timezone=rules.timezone,
        )
    )


async def delegate(request: Request, who: Principal | None) -> Response:
    """The team lead names a coordinator to act for them for some hours."""
    assert who is not None
    if who.role is not Role.TEAM_LEAD:
        return error(403, "Only the team lead may delegate acting for the team lead.")
    ask = await read_json(request, DelegationIn, 4096)
    now = int(time.time() * 1000)
    until = now + ask.hours * 3_600_000
    made = await _workspace(request).records.delegate(who.user, ask.coordinator, now, until)
    return answer(Delegation(made, who.user, ask.coordinator, until), 201)


async def officer_history(request: Request, who: Principal | None) -> Response:
    assert who is not None
    officer = int(request.path_params["id"])
    rows = await _workspace(request).records.officer_history(officer)
    await _store(request).audit(who.user, "case.officer_history", str(officer))
    return answer(OfficerHistory(officer, rows))


async def find_evidence(request: Request, who: Principal | None) -> Response:
    """Dispatch's records near the complaint's time and place: incidents and radio (audited)."""
    assert who is not None
    number = request.path_params["file"]
    ask = read_query(request, EvidenceQuery)
    ws = _workspace(request)
    f = await ws.records.file(number)
    if f is None:
        return error(404, f"no file {number}")
    since, until = _window(f, ask, ws.policy.complaints.timezone)
    store = _store(request)
    incidents = await store.incidents_between(since, until, ask.words or f.location, limit=50)
    radio = await store.search_radio(unit=ask.unit or None, since=since, until=until, limit=200)
    detail = msgspec.json.encode({"since": since, "until": until, "words": ask.words, "unit": ask.unit}).decode()
    await store.audit(who.user, "case.evidence.search", number, detail)
    return answer(EvidenceFound(incidents, [msgspec.to_builtins(r) for r in radio]))


def _window(f: CaseFile, ask: EvidenceQuery, tz: str) -> tuple[int, int]:
    """The time to look in: what was asked, else the day it happened (with half a day either
    side), else the week before it was received."""
    if ask.since is not None and ask.until is not None:
        return ask.since, ask.until
    zone = ZoneInfo(tz)
    try:
        day = dt.date.fromisoformat(f.occurred_on)
        start = dt.datetime.combine(day, dt.time(), zone) - dt.timedelta(hours=12)
        return int(start.timestamp() * 1000), int((start + dt.timedelta(hours=48)).timestamp() * 1000)
    except ValueError:
        return f.received_at - 7 * 86_400_000, f.received_at


async def attach_evidence(request: Request, who: Principal | None) -> Response:
    """Attach dispatch's record of an incident to the file: immutable, hashed, audited."""
    assert who is not None
    number = request.path_params["file"]
    ask = await read_json(request, EvidenceIn, 4096)
    ctx = context(request)
    source = ctx.find(EvidenceSource)
    if source is None:
        return error(503, "dispatch records are not available on this hub")
    doc = await source.export(ask.incident)
    if doc is None:
        return error(404, f"no incident {ask.incident}")
    body = msgspec.json.encode(doc)
    digest = hashlib.sha256(body).hexdigest()
    ws = _workspace(request)
    note = ActIn(
        version=ask.version, act=a.Note(text=f"dispatch record of incident {ask.incident} attached ({digest[:12]})")
    )
    try:
        f = await ws.attach(who, number, note, ("incident", ask.incident, digest, body))
    except NoSuchFile:
        return error(404, f"no file {number}")
    except VersionConflict as exc:
        return error(409, f"{exc.changed_by or 'Someone else'} changed this file; reload it and attach again.")
    except Refused as exc:
        return error(422, exc.message)
    return answer(await _file_view(request, who, f), 201)


async def read_evidence(request: Request, who: Principal | None) -> Response:
    assert who is not None
    number = request.path_params["file"]
    eid = int(request.path_params["id"])
    found = await _workspace(request).records.evidence_body(number, eid)
    if found is None:
        return error(404, f"no evidence {eid} on {number}")
    _, digest, body = found
    await _store(request).audit(who.user, "case.evidence.view", number, str(eid))
    return Response(body, media_type="application/json", headers={"X-Content-SHA256": digest})


def endpoints() -> list[Endpoint]:
    tag, fid, cap = "cases", {"file": "PC-2026-00001"}, _MAX_BODY
    return [
        Endpoint("GET", "/api/cases", queue, "The case queue, most at risk first", tag, {200: Queue}, query=QueueQuery),
        Endpoint("GET", "/api/cases/caseload", caseload, "Open files per coordinator", tag, {200: Caseload}),
        Endpoint(
            "GET", "/api/cases/reference", reference, "Allegation types, checklists, grounds", tag, {200: Reference}
        ),
        Endpoint(
            "POST",
            "/api/cases/delegations",
            delegate,
            "Delegate acting for the team lead",
            tag,
            {201: Delegation},
            body=DelegationIn,
            max_body=4096,
        ),
        Endpoint(
            "GET",
            "/api/cases/officers/{id:rowid}",
            officer_history,
            "An officer's history across files",
            tag,
            {200: OfficerHistory},
            examples={"id": 1},
        ),
        Endpoint("GET", "/api/cases/{file}", read_file, "Read a file (audited)", tag, {200: FileView}, examples=fid),
        Endpoint(
            "POST",
            "/api/cases/{file}/acts",
            act,
            "Act on a file",
            tag,
            {200: FileView},
            body=ActIn,
            examples=fid,
            max_body=cap,
        ),
        Endpoint(
            "GET",
            "/api/cases/{file}/evidence/search",
            find_evidence,
            "Find dispatch records for a file",
            tag,
            {200: EvidenceFound},
            query=EvidenceQuery,
            examples=fid,
        ),
        Endpoint(
            "POST",
            "/api/cases/{file}/evidence",
            attach_evidence,
            "Attach a dispatch record",
            tag,
            {201: FileView},
            body=EvidenceIn,
            examples=fid,
            max_body=4096,
        ),
        Endpoint(
            "GET",
            "/api/cases/{file}/evidence/{id:rowid}",
            read_evidence,
            "Read attached evidence",
            tag,
            {200: None},
            examples={"file": "PC-2026-00001", "id": 1},
        ),
    ]
