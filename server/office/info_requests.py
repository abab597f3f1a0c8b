"""Information requests over HTTP: requests received by email (or from 311), routed to a
business area by the directory's keywords, and worked to an answer. For the desk; every change
audited (the SQL is in server/records/office.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from server.access.roles import Principal
from server.context import context
from server.http.endpoints import Endpoint, answer, error
from server.http.inputs import read_json, read_query
from server.records.office import InfoRequestRecord, OfficeRecords

__all__ = [
    "InfoRequestChange",
    "InfoRequestIn",
    "InfoRequestQuery",
    "InfoRequests",
    "change_info_request",
    "endpoints",
    "list_info_requests",
    "receive_info_request",
    "route_request",
]

Short = Annotated[str, Meta(max_length=200)]
Long = Annotated[str, Meta(max_length=20_000)]
_MAX_BODY = 64 * 1024


InfoStatus = Literal["new", "routed", "answered", "closed"]


class InfoRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    sender: Annotated[str, Meta(min_length=1, max_length=200)]
    subject: Short
    body: Long = ""


class InfoRequestChange(msgspec.Struct, forbid_unknown_fields=True):
    status: InfoStatus | None = None
    business_area: Short | None = None
    incident: Short | None = None
    notes: Long | None = None  # what was done; a 311 referral's status notes


def route_request(areas: list[tuple[str, list[str]]], subject: str, body: str) -> str | None:
    """The business area whose keywords appear most often in the request (ties: the first listed)."""
    text = f"{subject} {body}".lower()
    best, best_hits = None, 0
    for name, keywords in areas:
        hits = sum(text.count(k.lower()) for k in keywords if k.strip())
        if hits > best_hits:
            best, best_hits = name, hits
    return best


class InfoRequests(msgspec.Struct):
    info_requests: list[InfoRequestRecord]


class InfoRequestQuery(msgspec.Struct):
    status: InfoStatus | None = None


def _office(request: Request) -> OfficeRecords:
    return OfficeRecords(context(request).store)


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


def endpoints() -> list[Endpoint]:
    tag, rid, cap = "office", {"id": 1}, _MAX_BODY
    return [
        Endpoint(
            "GET",
            "/api/info-requests",
            list_info_requests,
            "List the information requests",
            tag,
            {200: InfoRequests},
            query=InfoRequestQuery,
        ),
        Endpoint(
            "POST",
            "/api/info-requests",
            receive_info_request,
            "Receive an information request",
            tag,
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
            {200: InfoRequestRecord},
            body=InfoRequestChange,
            examples=rid,
            max_body=cap,
        ),
    ]
