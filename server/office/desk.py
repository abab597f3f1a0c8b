"""Office records over HTTP: the directory of agencies and business areas, the
inbox of emailed information requests (routed to a business area by keywords),
and investigations opened from incidents. For the desk; every change audited
(the SQL is in server/records/office.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from server.access.auth import DESK_ROLES, Principal
from server.http.endpoints import Endpoint, answer, error
from server.http.inputs import read_json, read_query
from server.records.office import (
    AgencyRecord,
    BusinessAreaRecord,
    InfoRequestRecord,
    InvestigationRecord,
    OfficeRecords,
)

__all__ = ["endpoints", "route_request"]

Short = Annotated[str, Meta(max_length=200)]
Long = Annotated[str, Meta(max_length=20_000)]
_MAX_BODY = 64 * 1024


Kind = Literal["police", "fire", "ems", "security", "311", "municipal", "other"]
InfoStatus = Literal["new", "routed", "answered", "closed"]
InvestigationStatus = Literal["open", "assigned", "closed"]


class Agency(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    kind: Kind
    phone: Short = ""
    email: Short = ""
    notes: Long = ""


class BusinessArea(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    email: Short = ""
    keywords: Annotated[list[Short], Meta(max_length=50)] = []


class InfoRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    sender: Annotated[str, Meta(min_length=1, max_length=200)]
    subject: Short
    body: Long = ""


class InfoRequestChange(msgspec.Struct, forbid_unknown_fields=True):
    status: InfoStatus | None = None
    business_area: Short | None = None
    incident: Short | None = None
    notes: Long | None = None  # what was done; a 311 referral's status notes


class InvestigationIn(msgspec.Struct, forbid_unknown_fields=True):
    incident: Annotated[str, Meta(min_length=1, max_length=64)]
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    assigned_to: Short | None = None


class InvestigationChange(msgspec.Struct, forbid_unknown_fields=True):
    assigned_to: Short | None = None
    status: InvestigationStatus | None = None
    note: Long = ""
    outcome: Long = ""


def route_request(areas: list[tuple[str, list[str]]], subject: str, body: str) -> str | None:
    """The business area whose keywords appear most often in the request (ties: the first listed)."""
    text = f"{subject} {body}".lower()
    best, best_hits = None, 0
    for name, keywords in areas:
        hits = sum(text.count(k.lower()) for k in keywords if k.strip())
        if hits > best_hits:
            best, best_hits = name, hits
    return best


class Agencies(msgspec.Struct):
    agencies: list[AgencyRecord]


class BusinessAreas(msgspec.Struct):
    business_areas: list[BusinessAreaRecord]


class InfoRequests(msgspec.Struct):
    info_requests: list[InfoRequestRecord]


class Investigations(msgspec.Struct):
    investigations: list[InvestigationRecord]


class AgencyQuery(msgspec.Struct):
    kind: Kind | None = None


class InfoRequestQuery(msgspec.Struct):
    status: InfoStatus | None = None


class InvestigationQuery(msgspec.Struct):
    incident: Annotated[str, Meta(max_length=64)] | None = None
    status: InvestigationStatus | None = None


def _office(request: Request) -> OfficeRecords:
    return OfficeRecords(request.app.state.ctx.store)


async def list_agencies(request: Request, who: Principal | None) -> Response:
    ask = read_query(request, AgencyQuery)
    return answer(Agencies(await _office(request).agencies(ask.kind)))


async def save_agency(request: Request, who: Principal | None) -> Response:
    assert who is not None
    item = await read_json(request, Agency, _MAX_BODY)
    office = _office(request)
    await office.save_agency(item.name, item.kind, item.phone, item.email, item.notes, who.user)
    return answer(Agencies(await office.agencies()))


async def list_business_areas(request: Request, who: Principal | None) -> Response:
    return answer(BusinessAreas(await _office(request).business_areas()))


async def save_business_area(request: Request, who: Principal | None) -> Response:
    assert who is not None
    item = await read_json(request, BusinessArea, _MAX_BODY)
    office = _office(request)
    await office.save_business_area(item.name, item.email, item.keywords, who.user)
    return answer(BusinessAreas(await office.business_areas()))


async def list_info_requests(request: Request, who: Principal | None) -> Response:
    ask = read_query(request, InfoRequestQuery)
    return answer(InfoRequests(await _office(request).info_requests(ask.status)))


async def receive_info_request(request: Request, who: Principal | None) -> Response:
    """A request received by email, routed by the directory's keywords."""
    assert who is not None
    item = await read_json(request, InfoRequestIn, _MAX_BODY)
    office = _office(request)
    areas = [(a.name, a.keywords) for a in await office.business_areas()]
    area = route_request(areas, item.subject, item.body)
    return answer(await office.receive_info_request(item.sender, item.subject, item.body, area, who.user), 201)


async def change_info_request(request: Request, who: Principal | None) -> Response:
    """Route to another business area, link an incident, or change status."""
    assert who is not None
    rid = request.path_params["id"]
    change = await read_json(request, InfoRequestChange, _MAX_BODY)
    office = _office(request)
    fields = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not None}
    if "business_area" in fields and "status" not in fields:
        fields["status"] = "routed"
    if fields and not await office.change_info_request(rid, fields, who.user):
        return error(404, f"no information request {rid}")
    found = await office.info_request(rid)
    return answer(found) if found is not None else error(404, f"no information request {rid}")


async def list_investigations(request: Request, who: Principal | None) -> Response:
    ask = read_query(request, InvestigationQuery)
    return answer(Investigations(await _office(request).investigations(ask.incident, ask.status)))


async def open_investigation(request: Request, who: Principal | None) -> Response:
    """Open an investigation from an incident (live or archived)."""
    assert who is not None
    ctx = request.app.state.ctx
    item = await read_json(request, InvestigationIn, _MAX_BODY)
    live, _ = await ctx.hub.service.live.incident_or_none(item.incident)
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
    desk, tag, rid = DESK_ROLES, "office", {"id": 1}
    cap = _MAX_BODY
    return [
        Endpoint(
            "GET", "/api/agencies", list_agencies, "List the agencies", tag, desk, {200: Agencies}, query=AgencyQuery
        ),
        Endpoint(
            "POST",
            "/api/agencies",
            save_agency,
            "Save an agency",
            tag,
            desk,
            {200: Agencies},
            body=Agency,
            max_body=cap,
        ),
        Endpoint(
            "GET",
            "/api/business-areas",
            list_business_areas,
            "List the business areas",
            tag,
            desk,
            {200: BusinessAreas},
        ),
        Endpoint(
            "POST",
            "/api/business-areas",
            save_business_area,
            "Save a business area",
            tag,
            desk,
            {200: BusinessAreas},
            body=BusinessArea,
            max_body=cap,
        ),
        Endpoint(
            "GET",
            "/api/info-requests",
            list_info_requests,
            "List the information requests",
            tag,
            desk,
            {200: InfoRequests},
            query=InfoRequestQuery,
        ),
        Endpoint(
            "POST",
            "/api/info-requests",
            receive_info_request,
            "Receive an information request",
            tag,
            desk,
            {201: InfoRequestRecord},
            body=InfoRequestIn,
            max_body=cap,
        ),
        Endpoint(
            "PATCH",
            "/api/info-requests/{id:rowid}",
            change_info_request,
            "Change an information request",
            tag,
            desk,
            {200: InfoRequestRecord},
            body=InfoRequestChange,
            examples=rid,
            max_body=cap,
        ),
        Endpoint(
            "GET",
            "/api/investigations",
            list_investigations,
            "List the investigations",
            tag,
            desk,
            {200: Investigations},
            query=InvestigationQuery,
        ),
        Endpoint(
            "POST",
            "/api/investigations",
            open_investigation,
            "Open an investigation",
            tag,
            desk,
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
            desk,
            {200: InvestigationRecord},
            examples=rid,
        ),
        Endpoint(
            "PATCH",
            "/api/investigations/{id:rowid}",
            change_investigation,
            "Change an investigation",
            tag,
            desk,
            {200: InvestigationRecord},
            body=InvestigationChange,
            examples=rid,
            max_body=cap,
        ),
    ]
