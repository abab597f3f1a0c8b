"""Access-to-information requests over HTTP: the request log, a request (every view audited),
its moves, the records gathered (read as they came, audited), redaction boxes drawn or matched,
the release package and notices, and the year's statistics as JSON or CSV. For access staff,
case coordinators and the team lead (the permission table); a dispatcher or an officer sees none.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from typing import Annotated, Literal

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from server.access.roles import Principal
from server.cases.access_requests import AccessDesk, BoxIn, MatchIn, MoveIn, ReceiveIn, RecordIn
from server.cases.rules.access import PATTERNS
from server.cases.rules.stages import Refused
from server.context import context
from server.http.endpoints import Endpoint, answer, error
from server.http.inputs import read_body, read_json, read_query
from server.records.access import AccessRequest, RequestConflict, RequestRow

__all__ = [
    "Boxes",
    "BoxesIn",
    "ClockView",
    "Made",
    "RequestLog",
    "RequestView",
    "Statistics",
    "StatsQuery",
    "UploadQuery",
    "boxes",
    "endpoints",
    "gather",
    "matches",
    "move",
    "package",
    "read_request",
    "receive",
    "record",
    "request_log",
    "statistics",
    "unbox",
    "upload",
]

_MAX_UPLOAD = 25 * 1024 * 1024
_PDF_OR_IMAGE = ("application/pdf", "image/png", "image/jpeg")


class ClockView(msgspec.Struct):
    state: str  # running, warning, overdue, paused, extended, met, stopped
    due_at: int
    due_day: str


class RequestLog(msgspec.Struct):
    requests: list[RequestRow]
    clocks: list[ClockView | None]
    server_time: int


class RequestView(msgspec.Struct):
    request: AccessRequest
    clock: ClockView | None
    reasons: dict[str, str]
    grounds: dict[str, str]
    patterns: list[str]
    server_time: int


class Made(msgspec.Struct):
    ids: list[int]
    view: RequestView


class BoxesIn(msgspec.Struct, forbid_unknown_fields=True):
    boxes: Annotated[list[BoxIn], Meta(min_length=1, max_length=200)]


class Boxes(msgspec.Struct):
    ids: list[int]


class UploadQuery(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, Meta(min_length=1, max_length=200)] = "Uploaded document"


class StatsQuery(msgspec.Struct, forbid_unknown_fields=True):
    year: Annotated[int, Meta(ge=2000, le=2100)] | None = None
    format: Literal["json", "csv"] = "json"


class Statistics(msgspec.Struct):
    year: int
    received: int
    completed: int
    completed_within_time: int
    extended: dict[str, int]
    exceptions: dict[str, int]


def _desk(request: Request) -> AccessDesk:
    return context(request).part(AccessDesk)


def _clock(desk: AccessDesk, found: AccessRequest | None, row: object, now: int) -> ClockView | None:
    from server.records.cases import ClockRow

    if not isinstance(row, ClockRow):
        return None
    day = dt.datetime.fromtimestamp(row.due_at / 1000, desk.zone).strftime("%a %b %-d, %Y")
    return ClockView(desk.state(row, now), row.due_at, day)


async def _view(request: Request, number: str) -> RequestView | None:
    desk = _desk(request)
    found = await desk.records.request(number)
    if found is None:
        return None
    now = int(time.time() * 1000)
    s = desk.settings
    clock = _clock(desk, found, found.clock, now)
    return RequestView(found, clock, dict(s.reasons), dict(s.grounds), sorted(PATTERNS), now)


async def request_log(request: Request, who: Principal | None) -> Response:
    assert who is not None
    desk = _desk(request)
    now = int(time.time() * 1000)
    rows = await desk.records.log(open_only=request.query_params.get("all") != "true")
    await context(request).store.audit(who.user, "access.log.view")
    return answer(RequestLog([r for r, _ in rows], [_clock(desk, None, k, now) for _, k in rows], now))


async def receive(request: Request, who: Principal | None) -> Response:
    assert who is not None
    ask = await read_json(request, ReceiveIn, 32 * 1024)
    try:
        number = await _desk(request).receive(who, ask)
    except Refused as exc:
        return error(422, exc.message)
    view = await _view(request, number)
    return answer(view, 201)


async def read_request(request: Request, who: Principal | None) -> Response:
    assert who is not None
    number = request.path_params["number"]
    view = await _view(request, number)
    if view is None:
        return error(404, f"no request {number}")
    await context(request).store.audit(who.user, "access.view", number)
    return answer(view)


def _conflict(exc: RequestConflict) -> Response:
    return error(
        409, f"{exc.changed_by} changed this request (it is now version {exc.version}): reload it and try again."
    )


async def move(request: Request, who: Principal | None) -> Response:
    assert who is not None
    number = request.path_params["number"]
    ask = await read_json(request, MoveIn, 16 * 1024)
    try:
        await _desk(request).move(who, number, ask)
    except LookupError:
        return error(404, f"no request {number}")
    except RequestConflict as exc:
        return _conflict(exc)
    except Refused as exc:
        return error(422, exc.message)
    return answer(await _view(request, number))


async def gather(request: Request, who: Principal | None) -> Response:
    assert who is not None
    number = request.path_params["number"]
    ask = await read_json(request, RecordIn, 4096)
    try:
        ids = await _desk(request).gather(who, number, ask)
    except LookupError:
        return error(404, f"no request {number}")
    except Refused as exc:
        return error(422, exc.message)
    view = await _view(request, number)
    assert view is not None
    return answer(Made(ids, view), 201)


async def upload(request: Request, who: Principal | None) -> Response:
    """A document as it came (the body: a PDF, PNG or JPEG, with its Content-Type)."""
    assert who is not None
    number = request.path_params["number"]
    ask = read_query(request, UploadQuery)
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind not in _PDF_OR_IMAGE:
        return error(415, "send a PDF, a PNG or a JPEG, with its Content-Type")
    data = await read_body(request, _MAX_UPLOAD)
    if not data:
        return error(400, "the body is empty")
    try:
        made = await _desk(request).upload(who, number, data, kind, ask.title)
    except LookupError:
        return error(404, f"no request {number}")
    except Refused as exc:
        return error(422, exc.message)
    view = await _view(request, number)
    assert view is not None
    return answer(Made([made], view), 201)


async def record(request: Request, who: Principal | None) -> Response:
    """A gathered record as it came: the original, never the released copy (audited)."""
    assert who is not None
    number, doc = request.path_params["number"], int(request.path_params["id"])
    found = await _desk(request).records.document(doc)
    if found is None or found[0] != number:
        return error(404, f"no record {doc} on {number}")
    await context(request).store.audit(who.user, "access.record.view", number, f"document={doc}")
    return Response(found[2], media_type="application/pdf", headers={"X-Content-SHA256": found[1]})


async def boxes(request: Request, who: Principal | None) -> Response:
    assert who is not None
    number = request.path_params["number"]
    ask = await read_json(request, BoxesIn, 64 * 1024)
    try:
        ids = await _desk(request).box(who, number, list(ask.boxes))
    except LookupError:
        return error(404, f"no request {number}")
    except Refused as exc:
        return error(422, exc.message)
    return answer(Boxes(ids), 201)


async def matches(request: Request, who: Principal | None) -> Response:
    assert who is not None
    number = request.path_params["number"]
    ask = await read_json(request, MatchIn, 4096)
    try:
        ids = await _desk(request).match(who, number, ask)
    except LookupError:
        return error(404, f"no request {number}")
    except Refused as exc:
        return error(422, exc.message)
    return answer(Boxes(ids), 201)


async def unbox(request: Request, who: Principal | None) -> Response:
    assert who is not None
    number, box = request.path_params["number"], int(request.path_params["id"])
    desk = _desk(request)
    found = await desk.records.request(number)
    if found is None:
        return error(404, f"no request {number}")
    if found.request.stage not in ("received", "gathering"):
        return error(422, "Boxes are changed while the records are being gathered.")
    if not await desk.records.unmark(number, box, who.user):
        return error(404, f"no box {box} on {number}")
    return answer(Boxes([box]))


async def package(request: Request, who: Principal | None) -> Response:
    """A release package or an extension notice, as issued (audited)."""
    assert who is not None
    number, rid = request.path_params["number"], int(request.path_params["id"])
    found = await _desk(request).records.package(rid)
    if found is None or found[0] != number:
        return error(404, f"no release {rid} on {number}")
    await context(request).store.audit(who.user, "access.release.view", number, found[1])
    return Response(
        found[3],
        media_type="application/pdf",
        headers={"X-Content-SHA256": found[2], "Content-Disposition": f'inline; filename="{found[1]}.pdf"'},
    )


async def statistics(request: Request, who: Principal | None) -> Response:
    assert who is not None
    ask = read_query(request, StatsQuery)
    desk = _desk(request)
    year = ask.year or dt.datetime.now(desk.zone).year
    got = await desk.statistics(year)
    await context(request).store.audit(who.user, "access.statistics", str(year), ask.format)
    if ask.format == "json":
        return answer(Statistics(**got))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["year", "measure", "key", "count"])
    for key in ("received", "completed", "completed_within_time"):
        w.writerow([year, key, "", got[key]])
    for ground, n in sorted(got["extended"].items()):
        w.writerow([year, "extended", ground, n])
    for reason, n in sorted(got["exceptions"].items()):
        w.writerow([year, "exception applied", reason, n])
    name = f"access-statistics-{year}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


def endpoints() -> list[Endpoint]:
    tag, one = "access requests", {"number": "AR-2026-00001"}
    two = {"number": "AR-2026-00001", "id": 1}
    return [
        Endpoint("GET", "/api/access", request_log, "The request log, the soonest due first", tag, {200: RequestLog}),
        Endpoint("POST", "/api/access", receive, "Log a request received", tag, {201: RequestView}, body=ReceiveIn,
                 max_body=32 * 1024),
        Endpoint("GET", "/api/access/statistics", statistics, "The year's statistics (JSON or CSV)", tag,
                 {200: Statistics}, query=StatsQuery, also=("text/csv",)),
        Endpoint("GET", "/api/access/{number}", read_request, "Read a request (audited)", tag, {200: RequestView},
                 examples=one),
        Endpoint("POST", "/api/access/{number}/moves", move, "Move a request on", tag, {200: RequestView}, body=MoveIn,
                 examples=one, max_body=16 * 1024),
        Endpoint("POST", "/api/access/{number}/records", gather, "Gather a record the system holds", tag, {201: Made},
                 body=RecordIn, examples=one, max_body=4096),
        Endpoint("POST", "/api/access/{number}/uploads", upload, "Gather an uploaded document", tag, {201: Made},
                 query=UploadQuery, body={"application/pdf": bytes, "image/png": bytes, "image/jpeg": bytes},
                 examples=one, max_body=_MAX_UPLOAD),
        Endpoint("GET", "/api/access/{number}/records/{id:rowid}", record, "A gathered record as it came (audited)",
                 tag, {200: None}, examples=two, media="application/pdf"),
        Endpoint("POST", "/api/access/{number}/boxes", boxes, "Draw redaction boxes", tag, {201: Boxes}, body=BoxesIn,
                 examples=one, max_body=64 * 1024),
        Endpoint("POST", "/api/access/{number}/matches", matches, "Box every match of a text or pattern", tag,
                 {201: Boxes}, body=MatchIn, examples=one, max_body=4096),
        Endpoint("DELETE", "/api/access/{number}/boxes/{id:rowid}", unbox, "Remove a box", tag, {200: Boxes},
                 examples=two),
        Endpoint("GET", "/api/access/{number}/releases/{id:rowid}", package, "A release or notice as issued (audited)",
                 tag, {200: None}, examples=two, media="application/pdf"),
    ]  # fmt: skip
