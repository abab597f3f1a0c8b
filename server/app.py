"""The Starlette app: ``/ws``, health, metrics, protocol schema, sign-in.

Every resource (Redis, records store, bus, hub, archiver, metrics) is made
in the lifespan and kept on ``app.state.ctx``; nothing lives in globals.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from protocol.codec import codec_for, negotiate
from protocol.codes import CloseCode
from protocol.schema import json_schema
from server.access.auth import AuthError, Principal, verify_token
from server.access.tokens import Tokens
from server.agency.policy import Policy, load_policy
from server.bus.log import Bus
from server.cases import complaints
from server.config import Settings
from server.dispatch import board, places
from server.dispatch.commands import DispatchService
from server.dispatch.places import Geocoder
from server.dispatch.timers import TimerService
from server.http import account, admin, operations, signin
from server.http import pages as web
from server.http.endpoints import Endpoint, error, openapi, routes_of
from server.http.guards import NoStore, SameOriginGuard, allowed_hosts, same_origin
from server.http.inputs import InputError
from server.http.pages import web_routes
from server.http.signin import SignInLimits
from server.intake import deadletters, open311
from server.intake.doors import IntakeDoors
from server.intake.lane import REFERRALS, Door, IntakeStream
from server.metrics import HubMetrics
from server.office import desk as office
from server.realtime.admission import (
    AddressSet,
    Admission,
    AdmissionCollector,
    AdmissionLimits,
    default_max_connections,
)
from server.realtime.hub import Hub
from server.realtime.reception import HeadLimits, Reception
from server.realtime.session import Session
from server.realtime.wire import outlet_of
from server.records.archiver import Archiver
from server.records.store import RecordsStore

__all__ = ["HubContext", "create_app"]

log = logging.getLogger("dispatch.app")


@dataclass(slots=True)
class HubContext:
    settings: Settings
    redis: Redis
    store: RecordsStore
    bus: Bus
    hub: Hub
    archiver: Archiver
    metrics: HubMetrics
    started: float
    policy: Policy
    login_limits: SignInLimits
    intake: IntakeDoors
    tokens: Tokens
    geocoder: Geocoder | None


async def input_error(request: Request, exc: Exception) -> Response:
    """A body the route cannot take (server/bodies.py), in the API's one error shape."""
    assert isinstance(exc, InputError)
    return JSONResponse({"error": exc.message}, status_code=exc.status)


async def _wait_for_redis(redis: Redis, budget_s: float) -> bool:
    deadline = time.monotonic() + budget_s
    delay = 0.05
    while True:
        try:
            await redis.ping()
            return True
        except (RedisError, OSError) as exc:
            if time.monotonic() > deadline:
                log.error("redis not reachable after %.0fs (%s); starting anyway, health is red", budget_s, exc)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def _settle(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(BaseException):
        await task


async def _step(name: str, work: Awaitable[None], timeout_s: float = 5.0) -> None:
    try:
        await asyncio.wait_for(work, timeout_s)
    except TimeoutError:
        log.error("shutdown: %s did not finish in %.0fs; going on", name, timeout_s)
    except Exception:
        log.exception("shutdown: %s failed; going on", name)


def _ctx(request: Request | WebSocket) -> HubContext:
    ctx: HubContext = request.app.state.ctx
    return ctx


def _origin_allowed(ws: WebSocket, settings: Settings) -> bool:
    """Browsers send Origin: only pages served by this hub (or listed) may use its cookie.
    Clients that send no Origin (Python, load tests) authenticate by token anyway."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    extra = frozenset(o.strip().rstrip("/") for o in settings.allowed_origins.split(",") if o.strip())
    return same_origin(origin, ws.headers.get("host", ""), extra)


async def ws_endpoint(ws: WebSocket) -> None:
    ctx = _ctx(ws)
    offered = list(ws.scope.get("subprotocols") or [])
    fmt = negotiate(offered)
    if not _origin_allowed(ws, ctx.settings):
        await ws.close(CloseCode.POLICY_VIOLATION)  # a page of another site: HTTP 403
        return
    if fmt is None:
        await ws.close(CloseCode.POLICY_VIOLATION)  # refused handshake: HTTP 403
        return
    await ws.accept(subprotocol=fmt.value if offered else None)
    if not ctx.hub.accepting or not ctx.hub.redis_ok:
        await ws.close(CloseCode.TRY_AGAIN_LATER, "hub not ready: retry shortly")
        return
    session = Session(ctx.hub, ws, codec_for(fmt), outlet_of(ws.scope))
    ctx.hub.attach(session)
    await session.run()


async def _ws_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    await ws_endpoint(WebSocket(scope, receive=receive, send=send))


class HubApp(Starlette):
    """Starlette, with ``/ws`` served past its middleware and router.

    A board's connection lives for a whole shift, and every layer it passes
    through stays on its stack all that time (about 5 KiB per connection for
    the error and exception layers, the router and a second WebSocket object).
    ``ws_endpoint`` answers its own errors, so it is called directly, behind
    the one check it needs first: the Host (``TrustedHostMiddleware``).
    """

    def __init__(self, *, hosts: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ws = TrustedHostMiddleware(_ws_asgi, allowed_hosts=hosts, www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/ws":
            scope["app"] = self
            await self._ws(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def protocol_schema(request: Request, who: Principal | None) -> Response:
    return JSONResponse(request.app.state.schema)


async def openapi_document(request: Request, who: Principal | None) -> Response:
    return JSONResponse(request.app.state.openapi)


async def not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/open311/"):
        return open311.not_found(request)
    return error(404, f"nothing at {request.url.path}")


async def not_allowed(request: Request, exc: Exception) -> Response:
    return error(405, f"{request.method} is not taken at {request.url.path}")


def _version() -> str:
    try:
        return importlib.metadata.version("dispatch-hub")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def all_endpoints() -> list[Endpoint]:
    """Every HTTP endpoint of the hub, as declared by its module (server/http/endpoints.py)."""
    docs = "documents"
    return [
        *operations.endpoints(),
        Endpoint(
            "GET",
            "/protocol/schema.json",
            protocol_schema,
            "Get the WebSocket protocol's JSON Schema",
            docs,
            None,
            {200: dict[str, Any]},
        ),
        Endpoint("GET", "/api/openapi.json", openapi_document, "Get this document", docs, None, {200: dict[str, Any]}),
        *signin.endpoints(),
        *web.endpoints(),
        *account.endpoints(),
        *admin.endpoints(),
        *board.endpoints(),
        *places.endpoints(),
        *office.endpoints(),
        *complaints.endpoints(),
        *deadletters.endpoints(),
        *open311.endpoints(),
    ]


def _reference_floor(store: RecordsStore) -> Callable[[IntakeStream], Awaitable[int]]:
    """The highest reference of a lane in the records store (filed or dead-lettered): where its
    counter starts again if Redis lost it, so that no reference is handed out twice."""

    async def floor(lane: IntakeStream) -> int:
        if lane is REFERRALS:
            sql = (
                "SELECT MAX(n) FROM (SELECT CAST(id AS INTEGER) AS n FROM service_requests UNION ALL"
                " SELECT CAST(ref AS INTEGER) FROM intake_dead_letters WHERE stream='referrals')"
            )
        else:
            # PC-2026-00042: the number after the last dash
            sql = (
                "SELECT MAX(CAST(substr(r, length(rtrim(r, '0123456789')) + 1) AS INTEGER)) FROM"
                " (SELECT file_number AS r FROM complaints UNION ALL"
                " SELECT ref FROM intake_dead_letters WHERE stream='complaints')"
            )
        async with store.db.execute(sql) as cur:
            row = await cur.fetchone()
        return int(row[0] or 0) if row else 0

    return floor


def reception_for(settings: Settings) -> Reception:
    """The connection caps and head bounds of one hub process (see server/realtime/reception.py)."""
    most = settings.max_connections or default_max_connections()
    reserve = settings.staff_reserve or max(16, most // 10)
    limits = AdmissionLimits(
        max_connections=most,
        staff_reserve=min(reserve, most - 1),
        per_address=settings.connections_per_address,
        exempt=AddressSet(settings.forwarded_allow_ips),  # a proxy speaks for many clients
    )
    head = HeadLimits(
        max_head_bytes=settings.max_head_bytes,
        max_headers=settings.max_headers,
        head_timeout_s=settings.head_timeout_s,
    )
    secret = settings.secret

    def token_ok(token: str) -> bool:
        try:
            verify_token(secret, token)
        except AuthError:
            return False
        return True

    return Reception(Admission(limits), head, token_ok)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = (settings or Settings.from_env()).resolved()
    policy = load_policy(settings.policy_path)  # fail at start, not at the first call
    reception = reception_for(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # A blocking pool: a burst of catch-ups (a reconnect storm) waits for a
        # connection instead of failing; the bus reader and archiver hold one each.
        pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.redis_connections,
            timeout=10,
            socket_connect_timeout=2,
            health_check_interval=10,
        )
        redis = Redis(connection_pool=pool)
        await _wait_for_redis(redis, 30.0)
        store = RecordsStore(settings.db_path)
        await store.open()
        metrics_ = HubMetrics()
        metrics_.watch(AdmissionCollector(reception.admission))
        bus = Bus(redis, settings)
        service = DispatchService(
            bus, redis, policy, archived_incident=store.archived_incident, archived_alarm=store.archived_alarm
        )
        tokens = Tokens(redis, store, settings.secret, settings.token_ttl_s)
        hub = Hub(settings, redis, bus, service, metrics_, tokens)
        archiver = Archiver(redis, store, metrics_, settings)

        async def after_fired(timer_id: str) -> None:
            if timer_id.startswith("welfare-critical:"):
                await service.safety.missed_check_in(timer_id.split(":", 1)[1])

        timers = TimerService(bus, after_fired=after_fired)
        app.state.ctx = HubContext(
            settings,
            redis,
            store,
            bus,
            hub,
            archiver,
            metrics_,
            time.time(),
            policy,
            SignInLimits.make(redis),
            IntakeDoors.make(Door(redis, _reference_floor(store)), settings, policy, metrics_),
            tokens,
            Geocoder(settings.geocoder_url) if settings.geocoder_url else None,
        )
        await tokens.start()
        await hub.start()
        archiving = asyncio.create_task(archiver.run(), name="archiver")
        timing = asyncio.create_task(timers.run(), name="timers")
        log.info("hub ready redis=%s records=%s", settings.redis_url, settings.db_path)
        log.info("answering to Host %s (set DISPATCH_ALLOWED_HOSTS for others)", ", ".join(hosts))
        try:
            yield
        finally:
            # Each step bounded and named: shutdown always completes, and a step that
            # hangs says so in the log.
            await _step("hub", hub.shutdown())  # idempotent: the runner may have drained already
            await _step("cover searches", service.safety.settle(2.0))
            for task in (archiving, timing):
                task.cancel()
                await _step(task.get_name(), _settle(task))
            if app.state.ctx.geocoder is not None:
                await _step("geocoder", app.state.ctx.geocoder.close())
            await _step("records store", store.close())
            await _step("redis client", redis.aclose())
            await _step("redis pool", pool.aclose())  # a pool passed in explicitly is not closed by the client

    hosts = allowed_hosts(settings.allowed_hosts, settings.host)
    endpoints = all_endpoints()
    app = HubApp(
        hosts=hosts,
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False),
            Middleware(SameOriginGuard, extra_origins=settings.allowed_origins),
            Middleware(NoStore),
        ],
        routes=[*routes_of(endpoints), *web_routes(settings)],
        lifespan=lifespan,
        exception_handlers={InputError: input_error, 404: not_found, 405: not_allowed},
    )
    app.state.schema = json_schema()
    app.state.openapi = openapi(endpoints, title="dispatch-hub", version=_version())
    app.state.reception = reception
    return app
