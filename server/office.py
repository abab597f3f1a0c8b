"""Office records in the records store: the directory of agencies and business
areas, the inbox of emailed information requests (routed to a business area by
keywords), and investigations opened from incidents. REST, audited.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.api import _desk
from server.inputs import read_json

__all__ = ["office_routes", "route_request"]

Short = Annotated[str, Meta(max_length=200)]
Long = Annotated[str, Meta(max_length=20_000)]
_MAX_BODY = 64 * 1024
T = TypeVar("T")


class Agency(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    kind: Literal["police", "fire", "ems", "security", "311", "municipal", "other"]
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
    status: Literal["new", "routed", "answered", "closed"] | None = None
    business_area: Short | None = None
    incident: Short | None = None
    notes: Long | None = None  # what was done; a 311 referral's status notes


class InvestigationIn(msgspec.Struct, forbid_unknown_fields=True):
    incident: Annotated[str, Meta(min_length=1, max_length=64)]
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    assigned_to: Short | None = None


class InvestigationChange(msgspec.Struct, forbid_unknown_fields=True):
    assigned_to: Short | None = None
    status: Literal["open", "assigned", "closed"] | None = None
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


async def _body(request: Request, kind: type[T]) -> T:
    return await read_json(request, kind, _MAX_BODY)


def _rows(cur_rows: list[Any], names: list[str]) -> list[dict[str, Any]]:
    return [dict(zip(names, row, strict=True)) for row in cur_rows]


async def _select(request: Request, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    db = request.app.state.ctx.store.db
    async with db.execute(sql, args) as cur:
        rows = await cur.fetchall()
        names = [d[0] for d in cur.description]
    return _rows(list(rows), names)


async def agencies(request: Request) -> Response:
    who = await _desk(request)
    if isinstance(who, JSONResponse):
        return who
    store = request.app.state.ctx.store
    if request.method == "POST":
        item = await _body(request, Agency)
        await store.db.execute(
            "INSERT INTO agencies(name, kind, phone, email, notes) VALUES (?,?,?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET kind=excluded.kind, phone=excluded.phone, email=excluded.email,"
            " notes=excluded.notes",
            (item.name, item.kind, item.phone, item.email, item.notes),
        )
        await store.audit(who.user, "agency.save", item.name, commit=False)
        await store.db.commit()
    kind = request.query_params.get("kind")
    sql = "SELECT id, name, kind, phone, email, notes FROM agencies"
    rows = await _select(
        request, sql + (" WHERE kind=? ORDER BY name" if kind else " ORDER BY name"), (kind,) if kind else ()
    )
    return JSONResponse({"agencies": rows})


async def business_areas(request: Request) -> Response:
    who = await _desk(request)
    if isinstance(who, JSONResponse):
        return who
    store = request.app.state.ctx.store
    if request.method == "POST":
        item = await _body(request, BusinessArea)
        await store.db.execute(
            "INSERT INTO business_areas(name, email, keywords) VALUES (?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET email=excluded.email, keywords=excluded.keywords",
            (item.name, item.email, ",".join(k.strip() for k in item.keywords)),
        )
        await store.audit(who.user, "business_area.save", item.name, commit=False)
        await store.db.commit()
    rows = await _select(request, "SELECT id, name, email, keywords FROM business_areas ORDER BY id")
    for row in rows:
        row["keywords"] = [k for k in row["keywords"].split(",") if k]
    return JSONResponse({"business_areas": rows})


async def info_requests(request: Request) -> Response:
    """GET: the inbox (?status=); POST: a request received by email, routed by the directory."""
    who = await _desk(request)
    if isinstance(who, JSONResponse):
        return who
    store = request.app.state.ctx.store
    if request.method == "POST":
        item = await _body(request, InfoRequestIn)
        areas = [
            (r["name"], r["keywords"].split(","))
            for r in await _select(request, "SELECT name, keywords FROM business_areas ORDER BY id")
        ]
        area = route_request(areas, item.subject, item.body)
        now = int(time.time() * 1000)
        cur = await store.db.execute(
            "INSERT INTO info_requests(received_at, sender, subject, body, status, business_area, updated_at,"
            " updated_by) VALUES (?,?,?,?,?,?,?,?)",
            (now, item.sender, item.subject, item.body, "routed" if area else "new", area, now, who.user),
        )
        await store.audit(who.user, "info_request.receive", str(cur.lastrowid), f"routed to {area}", commit=False)
        await store.db.commit()
        (row,) = await _select(request, "SELECT * FROM info_requests WHERE id=?", (cur.lastrowid,))
        return JSONResponse(row, status_code=201)
    status = request.query_params.get("status")
    sql = "SELECT * FROM info_requests" + (" WHERE status=?" if status else "") + " ORDER BY received_at DESC LIMIT 500"
    return JSONResponse({"info_requests": await _select(request, sql, (status,) if status else ())})


async def info_request(request: Request) -> Response:
    """PATCH: route to another business area, link an incident, or change status."""
    who = await _desk(request)
    if isinstance(who, JSONResponse):
        return who
    store = request.app.state.ctx.store
    rid = request.path_params["id"]
    change = await _body(request, InfoRequestChange)
    fields = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not None}
    if "business_area" in fields and "status" not in fields:
        fields["status"] = "routed"
    if fields:
        sets = ", ".join(f"{k}=?" for k in fields)
        cur = await store.db.execute(
            f"UPDATE info_requests SET {sets}, updated_at=?, updated_by=? WHERE id=?",
            (*fields.values(), int(time.time() * 1000), who.user, rid),
        )
        if cur.rowcount == 0:
            return JSONResponse({"error": f"no information request {rid}"}, status_code=404)
        await store.audit(who.user, "info_request.update", str(rid), repr(fields), commit=False)
        await store.db.commit()
    rows = await _select(request, "SELECT * FROM info_requests WHERE id=?", (rid,))
    return JSONResponse(rows[0]) if rows else JSONResponse({"error": f"no information request {rid}"}, status_code=404)


async def investigations(request: Request) -> Response:
    """GET: investigations (?incident=, ?status=); POST: open one from an incident."""
    who = await _desk(request)
    if isinstance(who, JSONResponse):
        return who
    ctx = request.app.state.ctx
    if request.method == "POST":
        item = await _body(request, InvestigationIn)
        live, _ = await ctx.hub.service.live.incident_or_none(item.incident)
        if live is None and await ctx.store.archived_incident(item.incident) is None:
            return JSONResponse({"error": f"no incident {item.incident}"}, status_code=404)
        now = int(time.time() * 1000)
        cur = await ctx.store.db.execute(
            "INSERT INTO investigations(incident, title, status, assigned_to, opened_at, opened_by)"
            " VALUES (?,?,?,?,?,?)",
            (item.incident, item.title, "assigned" if item.assigned_to else "open", item.assigned_to, now, who.user),
        )
        await ctx.store.audit(who.user, "investigation.open", str(cur.lastrowid), item.incident, commit=False)
        await ctx.store.db.commit()
        return JSONResponse(await _investigation(request, cur.lastrowid), status_code=201)
    where, args = [], []
    for key in ("incident", "status"):
        if request.query_params.get(key):
            where.append(f"{key}=?")
            args.append(request.query_params[key])
    sql = "SELECT * FROM investigations" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
    return JSONResponse({"investigations": await _select(request, sql, tuple(args))})


async def _investigation(request: Request, iid: Any) -> dict[str, Any] | None:
    rows = await _select(request, "SELECT * FROM investigations WHERE id=?", (iid,))
    if not rows:
        return None
    rows[0]["notes"] = await _select(
        request, "SELECT at, by, text FROM investigation_notes WHERE investigation=? ORDER BY at, rowid", (iid,)
    )
    return rows[0]


async def investigation(request: Request) -> Response:
    """GET one with its notes; PATCH: assign, add a note, close with an outcome."""
    who = await _desk(request)
    if isinstance(who, JSONResponse):
        return who
    store = request.app.state.ctx.store
    iid = request.path_params["id"]
    current = await _investigation(request, iid)
    if current is None:
        return JSONResponse({"error": f"no investigation {iid}"}, status_code=404)
    if request.method == "PATCH":
        change = await _body(request, InvestigationChange)
        if current["status"] == "closed" and change.status != "open":
            return JSONResponse({"error": "the investigation is closed; reopen it first"}, status_code=409)
        now = int(time.time() * 1000)
        status = change.status or ("assigned" if change.assigned_to else current["status"])
        await store.db.execute(
            "UPDATE investigations SET assigned_to=COALESCE(?, assigned_to), status=?, outcome=?,"
            " closed_at=? WHERE id=?",
            (
                change.assigned_to,
                status,
                change.outcome or current["outcome"],
                now if status == "closed" else None,
                iid,
            ),
        )
        if change.note:
            await store.db.execute(
                "INSERT INTO investigation_notes(investigation, at, by, text) VALUES (?,?,?,?)",
                (iid, now, who.user, change.note),
            )
        await store.audit(who.user, "investigation.update", str(iid), status, commit=False)
        await store.db.commit()
        current = await _investigation(request, iid)
    return JSONResponse(current)


def office_routes() -> list[Route]:
    return [
        Route("/api/agencies", agencies, methods=["GET", "POST"]),
        Route("/api/business-areas", business_areas, methods=["GET", "POST"]),
        Route("/api/info-requests", info_requests, methods=["GET", "POST"]),
        Route("/api/info-requests/{id:int}", info_request, methods=["PATCH"]),
        Route("/api/investigations", investigations, methods=["GET", "POST"]),
        Route("/api/investigations/{id:int}", investigation, methods=["GET", "PATCH"]),
    ]
