"""For operators: health and metrics.

Anyone may ask ``/healthz`` whether the hub is up (200, or 503): a load
balancer needs that and nothing more. What is behind it (Redis, the records
store, the bus reader's lag, connections, the intake backlog) and
``/metrics`` (which count panics, police-support requests and every command)
tell an attacker how busy dispatch is, so they are for operators only:

- a client from ``OPERATIONS_ALLOW_IPS`` (addresses and networks; none by
  default; the client's own address, or, behind a proxy named in
  ``FORWARDED_ALLOW_IPS``, the one it forwards for), or
- a request with ``Authorization: Bearer <OPERATOR_TOKEN>`` (a secret of the
  deployment's, for Prometheus' ``authorization`` setting), or
- a signed-in admin or supervisor.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Any

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from server.access.permissions import Grant, holds
from server.access.principals import principal, request_token
from server.access.roles import Principal
from server.bus.topology import TopologyWatch
from server.context import context
from server.http.endpoints import Endpoint, answer, error
from server.intake.doors import client_address
from server.intake.lane import COMPLAINTS, REFERRALS
from server.realtime.admission import AddressSet
from server.realtime.hub import Hub
from server.records.archiver import Archiver

__all__ = ["Health", "endpoints", "healthz", "metrics", "operator"]

_OPERATORS_ONLY = "metrics are for operators: an OPERATOR_TOKEN, an address in OPERATIONS_ALLOW_IPS, or an admin"


class Health(msgspec.Struct, omit_defaults=True):
    status: str  # ok, unavailable
    checks: dict[str, Any] | None = None  # for operators: redis, records, bus, connections, intake


async def operator(request: Request) -> bool:
    """Whether this request may see the hub's inner workings."""
    settings = context(request).settings
    if client_address(request) in AddressSet(settings.operations_allow_ips):
        return True
    token = request_token(request) or ""
    if settings.operator_token and hmac.compare_digest(token.encode(), settings.operator_token.encode()):
        return True
    who = await principal(request)
    return holds(who, Grant.OPERATIONS)


async def healthz(request: Request, who: Principal | None) -> Response:
    """200 when Redis, the records store and the bus reader are fine and the hub takes connections,
    503 otherwise; each check named for operators."""
    ctx = context(request)
    hub = ctx.part(Hub)
    checks: dict[str, object] = {}
    try:
        async with asyncio.timeout(1.0):
            # A read of the partition's dispatch slot, not a PING: on a cluster that reaches the
            # node this hub's commands need, which a PING to any node would not.
            await ctx.redis.exists(ctx.bus.part.live)
        checks["redis"] = "ok"
    except (RedisError, OSError, TimeoutError) as exc:
        checks["redis"] = f"down: {exc or type(exc).__name__}"
    try:
        checks["records"] = "ok" if await ctx.store.ping() else "down"
    except Exception as exc:
        checks["records"] = f"down: {exc}"
    beat_age = time.monotonic() - hub.reader_beat if hub.reader_beat else None
    silence = hub.probe_silence()
    # Reading is not enough: the probe written must come back (a reader can read on, deaf).
    deaf = silence > ctx.settings.probe_stale_s
    reader_ok = beat_age is not None and beat_age < 5.0 and not deaf
    ready = checks["redis"] == "ok" and checks["records"] == "ok" and reader_ok and hub.accepting
    status = 200 if ready else 503
    body = Health("ok" if ready else "unavailable")
    if not await operator(request):
        return answer(body, status)
    checks["bus"] = {
        "reader": "ok" if reader_ok else "deaf" if deaf else "stalled",
        "reader_beat_age_s": None if beat_age is None else round(beat_age, 3),
        "probe": {"sent": hub.probe_sent, "heard": hub.probe_heard, "unheard_for_s": round(silence, 3)},
        "intake_reader": "ok" if hub.intake_reading() else "stalled",
        "lag_s": round(ctx.metrics.bus_lag._value.get(), 4),
        "archiver_lag": ctx.part(Archiver).lag,
    }
    checks["topology"] = ctx.part(TopologyWatch).now.as_health()
    checks["connections"] = len(hub.sessions)
    try:
        async with asyncio.timeout(1.0):
            lanes = (COMPLAINTS.at(ctx.bus.part), REFERRALS.at(ctx.bus.part))
            queued = {lane.name: int(await ctx.redis.xlen(lane.stream)) for lane in lanes}
        checks["intake"] = {"queued": queued, "dead_letters": await ctx.store.open_dead_letters()}
    except (RedisError, OSError, TimeoutError) as exc:
        checks["intake"] = f"unknown: {exc or type(exc).__name__}"
    body.checks = checks
    return answer(body, status)


async def metrics(request: Request, who: Principal | None) -> Response:
    """Prometheus text, for operators."""
    if not await operator(request):
        return error(
            403, "metrics are for operators: an OPERATOR_TOKEN, an address in OPERATIONS_ALLOW_IPS, or an admin"
        )
    ctx = context(request)
    hub = ctx.part(Hub)
    ctx.metrics.connections.set(len(hub.sessions))
    ctx.metrics.probe_silence.set(hub.probe_silence())
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def endpoints() -> list[Endpoint]:
    tag = "operations"
    return [
        Endpoint("GET", "/healthz", healthz, "Say whether the hub is up", tag, {200: Health, 503: Health}),
        Endpoint("GET", "/metrics", metrics, "Prometheus metrics", tag, {200: str}, media=CONTENT_TYPE_LATEST),
    ]
