"""The HTTP read API: a board's first load, incidents, EIDO export, radio search, reports.

Signed-in desk roles only (the same token as the WebSocket: Bearer header
or the HttpOnly cookie). Every read of an incident is in the audit trail.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from protocol.limits import MAX_ID
from protocol.state import Alarm, Incident, Position, TrafficMode, UnitState
from server.auth import COOKIE_NAME, AuthError, Principal, Role, Scope
from server.eido import incident_to_eido
from server.inputs import InputError, Ms, read_query
from server.live import ALARMS, INCIDENTS, POSITIONS, RADIO, UNITS
from server.records.store import search_words
from server.rules import ResponseRow, response_time_report, welfare_state

__all__ = ["api_routes", "principal", "request_token"]

_DESK = {Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN}
_to_builtins = msgspec.to_builtins
_alarm_or_mode = msgspec.msgpack.Decoder(Alarm | TrafficMode)
_decoders: dict[str, Any] = {
    INCIDENTS.name: msgspec.msgpack.Decoder(Incident),
    UNITS.name: msgspec.msgpack.Decoder(UnitState),
    POSITIONS.name: msgspec.msgpack.Decoder(Position),
    ALARMS.name: _alarm_or_mode,
}


def request_token(request: Request) -> str | None:
    """The token a request carries: a Bearer token, else the sign-in cookie."""
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME)


async def principal(request: Request, *, scopes: frozenset[Scope] = frozenset({Scope.FULL})) -> Principal | None:
    """The signed-in user, if the request carries a token that is still good (server/tokens.py)
    and whose scope this route takes (a token only good for enrolling a second factor is not
    signed in anywhere else). Looked up once per request."""
    cached = request.scope.get("dispatch.principal", False)
    if cached is False:
        token = request_token(request)
        cached = None
        if token:
            try:
                cached = await request.app.state.ctx.tokens.principal(token)
            except AuthError:
                cached = None
        request.scope["dispatch.principal"] = cached
    who: Principal | None = cached
    return who if who is not None and who.scope in scopes else None


async def _desk(request: Request) -> Principal | JSONResponse:
    who = await principal(request)
    if who is None:
        return JSONResponse({"error": "sign in first"}, status_code=401)
    if who.role not in _DESK:
        return JSONResponse({"error": f"{who.role.value} may not read this"}, status_code=403)
    return who


class RadioQuery(msgspec.Struct):
    """``GET /api/radio``: words (full text), a unit, an incident, a time range (ms), how many."""

    q: Annotated[str, Meta(max_length=200)] = ""
    unit: Annotated[str, Meta(max_length=MAX_ID)] | None = None
    incident: Annotated[str, Meta(max_length=MAX_ID)] | None = None
    since: Ms | None = None
    until: Ms | None = None
    limit: Annotated[int, Meta(ge=1, le=1000)] = 200


class ReportQuery(msgspec.Struct):
    """``GET /api/reports/response-times``: calls received in [since, until) (ms); the last 30 days by default."""

    since: Ms | None = None
    until: Ms | None = None


async def board(request: Request) -> Response:
    """Everything a dispatcher board needs on first load, with the offset each topic is current as of."""
    who = await _desk(request)
    if isinstance(who, JSONResponse):
        return who
    ctx = request.app.state.ctx
    out: dict[str, Any] = {"offsets": {}, "epochs": {}}
    for topic in (INCIDENTS, UNITS, POSITIONS, ALARMS, RADIO):
        snap = await ctx.bus.snapshot(topic)
        out["offsets"][topic.name], out["epochs"][topic.name] = snap.offset, snap.epoch
        out[topic.name] = [_to_builtins(item) for item in snap.items]
    now = int(time.time() * 1000)
    for unit in out[UNITS.name]:  # green, warning or critical, as of now
        unit["welfare"] = welfare_state(now, unit.get("welfare_warn_at"), unit.get("welfare_critical_at"))
    policy = ctx.policy
    out["priorities"] = {str(k): _to_builtins(v) for k, v in policy.priorities.items()}
    out["unit_statuses"] = {k: v.availability for k, v in policy.unit_statuses.items()}
    out["welfare"] = _to_builtins(policy.welfare)
    out["stale_after_s"] = policy.positions.stale_after_s
    out["service_area"] = policy.area.outline() if policy.area else []
    out["server_time"] = int(time.time() * 1000)
    return JSONResponse(out)


async def _incident_and_timeline(request: Request, incident_id: str) -> tuple[Incident | None, list[Any]]:
    ctx = request.app.state.ctx
    live = ctx.hub.service.live
    incident, _ = await live.incident_or_none(incident_id)
    if incident is not None:
        return incident, await live.timeline(incident_id)
    archived = await ctx.store.archived_incident(incident_id)
    return archived, (await ctx.store.incident_timeline(incident_id) if archived else [])


async def incident(request: Request) -> Response:
    who = await _desk(request)
    if isinstance(who, JSONResponse):
        return who
    incident_id = request.path_params["incident"]
    found, timeline = await _incident_and_timeline(request, incident_id)
    if found is None:
        return JSONResponse({"error": f"no incident {incident_id}"}, status_code=404)
    await request.app.state.ctx.store.audit(who.user, "incident.read", incident_id)
    return JSONResponse({"incident": _to_builtins(found), "timeline": _to_builtins(timeline)})


async def eido(request: Request) -> Response:
    """The incident as NENA EIDO JSON."""
    who = await _desk(request)
    if isinstance(who, JSONResponse):
        return who
    ctx = request.app.state.ctx
    incident_id = request.path_params["incident"]
    found, timeline = await _incident_and_timeline(request, incident_id)
    if found is None:
        return JSONResponse({"error": f"no incident {incident_id}"}, status_code=404)
    units = {u.id: u for u in await ctx.hub.service.live.all_units()}
    await ctx.store.audit(who.user, "incident.export.eido", incident_id)
    doc = incident_to_eido(ctx.policy, found, timeline, units, agency=f"dispatch-hub@{request.url.hostname}")
    return JSONResponse(doc, media_type="application/json")


async def radio_search(request: Request) -> Response:
    """Search the radio log: ?q=words&unit=&incident=&since=ms&until=ms&limit=."""
    who = await _desk(request)
    if isinstance(who, JSONResponse):
        return who
    ask = read_query(request, RadioQuery)
    if ask.q and not search_words(ask.q):
        raise InputError(400, "bad query: q has no words to search for")
    entries = await request.app.state.ctx.store.search_radio(
        text=ask.q, unit=ask.unit, incident=ask.incident, since=ask.since, until=ask.until, limit=ask.limit
    )
    return JSONResponse({"entries": _to_builtins(entries)})


async def response_times(request: Request) -> Response:
    """Call to first dispatch per priority (against target), per day and per type: ?since=ms&until=ms."""
    who = await _desk(request)
    if isinstance(who, JSONResponse):
        return who
    ctx = request.app.state.ctx
    ask = read_query(request, ReportQuery)
    now = int(time.time() * 1000)
    until = now + 1 if ask.until is None else ask.until
    since = until - 30 * 86_400_000 if ask.since is None else ask.since
    if since >= until:
        raise InputError(400, "bad query: since must be before until")
    rows = [ResponseRow(*r) for r in await ctx.store.response_rows(since, until)]
    return JSONResponse({"since": since, "until": until, **response_time_report(ctx.policy, rows)})


def api_routes() -> list[Route]:
    return [
        Route("/api/board", board),
        Route("/api/incidents/{incident}", incident),
        Route("/api/incidents/{incident}/eido", eido),
        Route("/api/radio", radio_search),
        Route("/api/reports/response-times", response_times),
    ]
