"""The HTTP read API of the desk: a board's first load, incidents, EIDO export, radio search, reports.

Signed-in desk roles only (the same token as the WebSocket: Bearer header
or the HttpOnly cookie). Every read of an incident is in the audit trail.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from protocol.limits import MAX_ID
from protocol.state import Alarm, Incident, Position, RadioEntry, TimelineEntry, TrafficMode, UnitState
from server.access.roles import Principal
from server.agency.policy import PriorityLevel, Welfare
from server.context import context
from server.dispatch.commands import DispatchService
from server.dispatch.eido import incident_to_eido
from server.dispatch.live import ALARMS, INCIDENTS, POSITIONS, RADIO, UNITS
from server.dispatch.rules import ResponseReport, ResponseRow, response_time_report, welfare_state
from server.http.endpoints import Endpoint, answer, error
from server.http.inputs import InputError, Ms, read_query
from server.records.store import search_words

__all__ = [
    "Board",
    "IncidentRecord",
    "RadioEntries",
    "RadioQuery",
    "ReportQuery",
    "ResponseTimes",
    "board",
    "eido",
    "endpoints",
    "incident",
    "radio_search",
    "response_times",
]


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


class Board(msgspec.Struct):
    """Everything a board draws on first load, and the offset and epoch each topic is current as of."""

    offsets: dict[str, str]
    epochs: dict[str, str]
    incidents: list[Incident]
    units: list[UnitState]
    positions: list[Position]
    alarms: list[Alarm | TrafficMode]
    radio: list[RadioEntry]
    welfare_states: dict[str, str]  # unit -> green, warning or critical, as of server_time
    priorities: dict[str, PriorityLevel]
    unit_statuses: dict[str, str]  # status -> availability
    welfare: Welfare
    stale_after_s: float
    service_area: list[list[float]]  # the outline: [lon, lat] pairs
    server_time: int


class IncidentRecord(msgspec.Struct):
    incident: Incident
    timeline: list[TimelineEntry]


class RadioEntries(msgspec.Struct):
    entries: list[RadioEntry]


class ResponseTimes(ResponseReport):
    since: int
    until: int


async def board(request: Request, who: Principal | None) -> Response:
    ctx = context(request)
    got: dict[str, Any] = {}
    offsets, epochs = {}, {}
    for topic in (INCIDENTS, UNITS, POSITIONS, ALARMS, RADIO):
        snap = await ctx.bus.snapshot(topic)
        offsets[topic.name], epochs[topic.name] = snap.offset, snap.epoch
        got[topic.name] = snap.items
    now = int(time.time() * 1000)
    policy = ctx.policy
    units: list[UnitState] = got[UNITS.name]
    return answer(
        Board(
            offsets=offsets,
            epochs=epochs,
            incidents=got[INCIDENTS.name],
            units=units,
            positions=got[POSITIONS.name],
            alarms=got[ALARMS.name],
            radio=got[RADIO.name],
            welfare_states={u.id: welfare_state(now, u.welfare_warn_at, u.welfare_critical_at) for u in units},
            priorities={str(k): v for k, v in policy.priorities.items()},
            unit_statuses={k: v.availability for k, v in policy.unit_statuses.items()},
            welfare=policy.welfare,
            stale_after_s=policy.positions.stale_after_s,
            service_area=policy.area.outline() if policy.area else [],
            server_time=now,
        )
    )


async def _incident_and_timeline(request: Request, incident_id: str) -> tuple[Incident | None, list[TimelineEntry]]:
    ctx = context(request)
    live = ctx.part(DispatchService).live
    incident, _ = await live.incident_or_none(incident_id)
    if incident is not None:
        return incident, await live.timeline(incident_id)
    archived = await ctx.store.archived_incident(incident_id)
    return archived, (await ctx.store.incident_timeline(incident_id) if archived else [])


async def incident(request: Request, who: Principal | None) -> Response:
    assert who is not None
    incident_id = request.path_params["incident"]
    found, timeline = await _incident_and_timeline(request, incident_id)
    if found is None:
        return error(404, f"no incident {incident_id}")
    await context(request).store.audit(who.user, "incident.read", incident_id)
    return answer(IncidentRecord(found, timeline))


async def eido(request: Request, who: Principal | None) -> Response:
    assert who is not None
    ctx = context(request)
    incident_id = request.path_params["incident"]
    found, timeline = await _incident_and_timeline(request, incident_id)
    if found is None:
        return error(404, f"no incident {incident_id}")
    units = {u.id: u for u in await ctx.part(DispatchService).live.all_units()}
    await ctx.store.audit(who.user, "incident.export.eido", incident_id)
    return answer(incident_to_eido(ctx.policy, found, timeline, units, agency=f"dispatch-hub@{request.url.hostname}"))


async def radio_search(request: Request, who: Principal | None) -> Response:
    ask = read_query(request, RadioQuery)
    if ask.q and not search_words(ask.q):
        raise InputError(400, "bad query: q has no words to search for")
    entries = await context(request).store.search_radio(
        text=ask.q, unit=ask.unit, incident=ask.incident, since=ask.since, until=ask.until, limit=ask.limit
    )
    return answer(RadioEntries(entries))


async def response_times(request: Request, who: Principal | None) -> Response:
    ctx = context(request)
    ask = read_query(request, ReportQuery)
    now = int(time.time() * 1000)
    until = now + 1 if ask.until is None else ask.until
    since = until - 30 * 86_400_000 if ask.since is None else ask.since
    if since >= until:
        raise InputError(400, "bad query: since must be before until")
    report = response_time_report(ctx.policy, [ResponseRow(*r) for r in await ctx.store.response_rows(since, until)])
    return answer(ResponseTimes(report.by_priority, report.by_day, report.by_type, since=since, until=until))


def endpoints() -> list[Endpoint]:
    example = {"incident": "I261123-00001"}
    return [
        Endpoint("GET", "/api/board", board, "Load a board", "desk", {200: Board}),
        Endpoint(
            "GET",
            "/api/incidents/{incident}",
            incident,
            "Read an incident and its timeline",
            "desk",
            {200: IncidentRecord},
            examples=example,
        ),
        Endpoint(
            "GET",
            "/api/incidents/{incident}/eido",
            eido,
            "Export an incident as NENA EIDO",
            "desk",
            {200: dict[str, Any]},
            examples=example,
        ),
        Endpoint(
            "GET",
            "/api/radio",
            radio_search,
            "Search the radio log",
            "desk",
            {200: RadioEntries},
            query=RadioQuery,
        ),
        Endpoint(
            "GET",
            "/api/reports/response-times",
            response_times,
            "Report response times",
            "desk",
            {200: ResponseTimes},
            query=ReportQuery,
        ),
    ]
