"""The directory over HTTP: the agencies the desk calls on, and the business areas that
information requests are routed to (by their keywords). For the desk; every change audited
(the SQL is in server/records/office.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from server.access.roles import Principal
from server.context import context
from server.http.endpoints import Endpoint, answer
from server.http.inputs import read_json, read_query
from server.records.office import AgencyRecord, BusinessAreaRecord, OfficeRecords

__all__ = [
    "Agencies",
    "Agency",
    "AgencyQuery",
    "BusinessArea",
    "BusinessAreas",
    "endpoints",
    "list_agencies",
    "list_business_areas",
    "save_agency",
    "save_business_area",
]

Short = Annotated[str, Meta(max_length=200)]
Long = Annotated[str, Meta(max_length=20_000)]
_MAX_BODY = 64 * 1024


Kind = Literal["police", "fire", "ems", "security", "311", "municipal", "other"]


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


class Agencies(msgspec.Struct):
    agencies: list[AgencyRecord]


class BusinessAreas(msgspec.Struct):
    business_areas: list[BusinessAreaRecord]


class AgencyQuery(msgspec.Struct):
    kind: Kind | None = None


def _office(request: Request) -> OfficeRecords:
    return OfficeRecords(context(request).store)


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


def endpoints() -> list[Endpoint]:
    tag, cap = "office", _MAX_BODY
    return [
        Endpoint("GET", "/api/agencies", list_agencies, "List the agencies", tag, {200: Agencies}, query=AgencyQuery),
        Endpoint(
            "POST",
            "/api/agencies",
            save_agency,
            "Save an agency",
            tag,
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
            {200: BusinessAreas},
        ),
        Endpoint(
            "POST",
            "/api/business-areas",
            save_business_area,
            "Save a business area",
            tag,
            {200: BusinessAreas},
            body=BusinessArea,
            max_body=cap,
        ),
    ]
