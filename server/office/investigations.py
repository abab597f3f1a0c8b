"""Investigations over HTTP: opened from an incident (live or archived), assigned, noted and
closed with an outcome. For the desk; every change audited (the SQL is in
server/records/office.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from server.access.roles import Principal
from server.context import context
from server.dispatch.commands import DispatchService
from server.http.endpoints import Endpoint, answer, error
from server.http.inputs import read_json, read_query
from server.records.office import InvestigationRecord, OfficeRecords

__all__ = [
    "InvestigationChange",
    "InvestigationIn",
    "InvestigationQuery",
    "Investigations",
    "change_investigation",
    "endpoints",
    "list_investigations",
    "open_investigation",
    "read_investigation",
]

Short = Annotated[str, Meta(max_length=200)]
Long = Annotated[str, Meta(max_length=20_000)]
_MAX_BODY = 64 * 1024


InvestigationStatus = Literal["open", "assigned", "closed"]


class InvestigationIn(msgspec.Struct, forbid_unknown_fields=True):
    incident: Annotated[str, Meta(min_length=1, max_length=64)]
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    assigned_to: Short | None = None


class InvestigationChange(msgspec.Struct, forbid_unknown_fields=True):
    assigned_to: Short | None = None
    status: InvestigationStatus | None = None
    note: Long = ""
    outcome: Long = ""


class Investigations(msgspec.Struct):
    investigations: list[InvestigationRecord]


class InvestigationQuery(msgspec.Struct):
    incident: Annotated[str, Meta(max_length=64)] | None = None
    status: InvestigationStatus | None = None


def _office(request: Request) -> OfficeRecords:
    return OfficeRecords(context(request).store)


async def list_investigations(request: Request, who: Principal | None) -> Response:
    ask = read_query(request, InvestigationQuery)
    return answer(Investigations(await _office(request).investigations(ask.incident, ask.status)))


async def open_investigation(request: Request, who: Principal | None) -> Response:
    """Open an investigation from an incident (live or archived)."""
    assert who is not None
    ctx = context(request)
    item = await read_json(request, InvestigationIn, _MAX_BODY)
    live, _ = await ctx.part(DispatchService).live.incident_or_none(item.incident)
    if live is None and await ctx.store.archived_incident(item.incident) is None:
        return error(404, f"no incident {item.incident}")
    office = _office(request)
    iid = await office.open_investigation(item.incident, item.title, item.assigned_to, who.user)
    return answer(await office.investigation(iid), 201)


async def read_investigation(request: Request, who: Principal | None) -> Response:
    iid = request.path_params["id"]
    found = await _office(request).investigation(iid)
    return answer(found) if found is not None else error(404, f"no investigation {iid}")


async def change_investigation(request: Request, who: Principal | None) -> Response:
    """Assign, add a note, close with an outcome (or reopen)."""
    assert who is not None
    iid = request.path_params["id"]
    office = _office(request)
    current = await office.investigation(iid)
    if current is None:
        return error(404, f"no investigation {iid}")
    change = await read_json(request, InvestigationChange, _MAX_BODY)
    if current.status == "closed" and change.status != "open":
        return error(409, "the investigation is closed; reopen it first")
    status = change.status or ("assigned" if change.assigned_to else current.status)
    await office.change_investigation(
        iid, change.assigned_to, status, change.outcome or current.outcome, change.note, who.user
    )
    return answer(await office.investigation(iid))


def endpoints() -> list[Endpoint]:
    tag, rid, cap = "office", {"id": 1}, _MAX_BODY
    return [
        Endpoint(
            "GET",
            "/api/investigations",
            list_investigations,
            "List the investigations",
            tag,
            {200: Investigations},
            query=InvestigationQuery,
        ),
        Endpoint(
            "POST",
            "/api/investigations",
            open_investigation,
            "Open an investigation",
            tag,
            {201: InvestigationRecord},
            body=InvestigationIn,
            max_body=cap,
        ),
        Endpoint(
            "GET",
            "/api/investigations/{id:rowid}",
            read_investigation,
            "Read an investigation",
            tag,
            {200: InvestigationRecord},
            examples=rid,
        ),
        Endpoint(
            "PATCH",
            "/api/investigations/{id:rowid}",
            change_investigation,
            "Change an investigation",
            tag,
            {200: InvestigationRecord},
            body=InvestigationChange,
            examples=rid,
            max_body=cap,
        ),
    ]
