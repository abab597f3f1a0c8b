"""The Starlette app: ``/ws``, health, metrics, protocol schema, sign-in.

Every resource (Redis, records store, bus, hub, archiver, metrics) is made
in the lifespan and kept in the app's context (server/context.py); nothing lives in globals.
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

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from protocol.codec import codec_for, negotiate
from protocol.codes import CloseReason
from protocol.schema import json_schema
from server.access.roles import Principal
from server.access.tokens import AuthError, Tokens, verify_token
from server.agency.policy import Policy, load_policy
from server.bus.connect import connect, describe
from server.bus.log import Bus
from server.bus.topics import Family
from server.bus.topology import TopologyCollector, TopologyWatch
from server.cases import access_api, letters_api, reports_api
from server.cases import api as cases_api
from server.cases.access_requests import AccessDesk
from server.cases.api import EvidenceSource
from server.cases.clock_board import ClockBoard
from server.cases.letters import LetterDesk
from server.cases.pdf import PdfRenderer
from server.cases.reports import Reports
from server.cases.workspace import Workspace
from server.config import Settings
from server.context import AppContext, context
from server.dispatch import board, places
from server.dispatch.commands import DispatchService
from server.dispatch.eido import incident_to_eido
from server.dispatch.places import Geocoder
from server.dispatch.recovery import attach_recovery
from server.dispatch.timers import TimerService
from server.http import account, admin, operations, signin
from server.http import pages as web
from server.http.endpoints import Endpoint, error, openapi, routes_of
from server.http.guards import NoStore, SameOriginGuard, allowed_hosts, same_origin
from server.http.inputs import InputError
from server.http.pages import web_routes
from server.http.signin import SignInLimits
from server.intake import complaint_door, deadletters, open311
from server.intake.doors import IntakeDoors
from server.intake.lane import REFERRALS, Door, IntakeStream, NotReplicated
from server.metrics import HubMetrics
from server.office import directory, info_requests, investigations
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
from server.records.complaints import ComplaintRecords
from server.records.keys import with_shared_keys
from server.records.referrals import ReferralRecords
from server.records.store import RecordsStore

__all__ = [
    "HubApp",
    "HubContext",
    "all_endpoints",
    "create_app",
    "input_error",
    "not_allowed",
    "not_found",
    "openapi_document",
    "protocol_schema",
    "reception_for",
    "ws_endpoint",
]

log = logging.getLogger("dispatch.app")


@dataclass(slots=True, kw_only=True)
class HubContext(AppContext):
    """The app's context, with the services made in the lifespan named (for it and for tests);
    requests find them as parts (``context(request).part(Hub)``)."""

    hub: Hub
    archiver: Archiver
    service: DispatchService
    login_limits: SignInLimits
    intake: IntakeDoors
    geocoder: Geocoder | None

    def __post_init__(self) -> None:
        self.add(self.hub, self.archiver, self.service, self.login_limits, self.intake)
        if self.geocoder is not None:
            self.add(self.geocoder)


async def input_error(request: Request, exc: Exception) -> Response:
    """A body the route cannot take (server/http/inputs.py), in the API's one error shape."""
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


async def _stopped(task: asyncio.Task[None], timeout_s: float = 5.0) -> None:
    """Await a loop that was asked to stop, bounded: one that does not end is named and cancelled."""
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        log.error("shutdown: %s did not end when asked to stop; cancelled", task.get_name())
        task.cancel()
    elif not task.cancelled() and task.exception() is not None:
        log.error("shutdown: %s had failed", task.get_name(), exc_info=task.exception())


async def _step(name: str, work: Awaitable[None], timeout_s: float = 5.0) -> None:
    try:
        await asyncio.wait_for(work, timeout_s)
    except TimeoutError:
        log.error("shutdown: %s did not finish in %.0fs; going on", name, timeout_s)
    except Exception:
        log.exception("shutdown: %s failed; going on", name)


def _origin_allowed(ws: WebSocket, settings: Settings) -> bool:
    """Browsers send Origin: only pages served by this hub (or listed) may use its cookie.
    Clients that send no Origin (Python, load tests) authenticate by token anyway."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    extra = frozenset(o.strip().rstrip("/") for o in settings.allowed_origins.split(",") if o.strip())
    return same_origin(origin, ws.headers.get("host", ""), extra)


async def ws_endpoint(ws: WebSocket) -> None:
    ctx = context(ws)
    hub = ctx.part(Hub)
    offered = list(ws.scope.get("subprotocols") or [])
    fmt = negotiate(offered)
    if not _origin_allowed(ws, ctx.settings):
        await ws.close(CloseReason.OTHER_SITE.code, CloseReason.OTHER_SITE.text)  # HTTP 403
        return
    if fmt is None:
        await ws.close(CloseReason.NO_SUBPROTOCOL.code, CloseReason.NO_SUBPROTOCOL.text)  # HTTP 403
        return
    await ws.accept(subprotocol=fmt.value if offered else None)
    if not hub.accepting or not hub.redis_ok:
        await ws.close(CloseReason.NOT_READY.code, CloseReason.NOT_READY.text)
        return
    session = Session(hub, ws, codec_for(fmt), outlet_of(ws.scope))
    hub.attach(session)
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


async def _not_replicated(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotReplicated)
    return error(503, str(exc))


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
            {200: dict[str, Any]},
        ),
        Endpoint("GET", "/api/openapi.json", openapi_document, "Get this document", docs, {200: dict[str, Any]}),
        *signin.endpoints(),
        *web.endpoints(),
        *account.endpoints(),
        *admin.endpoints(),
        *board.endpoints(),
        *places.endpoints(),
        *directory.endpoints(),
        *info_requests.endpoints(),
        *investigations.endpoints(),
        *complaint_door.endpoints(),
        *letters_api.endpoints(),  # before the file routes: /api/cases/letters is not a file
        *access_api.endpoints(),
        *reports_api.endpoints(),
        *cases_api.endpoints(),
        *deadletters.endpoints(),
        *open311.endpoints(),
    ]


def _evidence(store: RecordsStore, policy: Policy, service: DispatchService) -> EvidenceSource:
    """Dispatch's record of an incident for a case file: EIDO, its timeline and its radio log,
    from the records (or the live state, for a call still open). The app knows both domains;
    neither imports the other."""

    async def export(incident_id: str) -> dict[str, Any] | None:
        found, _ = await service.live.incident_or_none(incident_id)
        if found is None:
            found = await store.archived_incident(incident_id)
        if found is None:
            return None
        timeline = await store.incident_timeline(incident_id)
        radio = await store.search_radio(incident=incident_id, limit=1000)
        eido = incident_to_eido(policy, found, timeline, {}, agency="dispatch-hub")
        return {
            "eido": eido,
            "timeline": [msgspec.to_builtins(t) for t in timeline],
            "radio": [msgspec.to_builtins(r) for r in reversed(radio)],
        }  # no export time: the same record attached twice has the same hash (when is the attachment's)

    return EvidenceSource(export)


def _reference_floor(store: RecordsStore) -> Callable[[IntakeStream], Awaitable[int]]:
    """The highest reference of a lane in the records store (filed or dead-lettered): where its
    counter starts again if Redis lost it, so that no reference is handed out twice."""

    async def floor(lane: IntakeStream) -> int:
        if lane.name == REFERRALS.name:
            return await ReferralRecords(store).highest_request_id()
        return await ComplaintRecords(store).highest_file_number()

    return floor


def _door_waits(bus: Bus) -> Callable[[], int]:
    """Replicas an intake submission waits for: the primary's, unless only alarms wait."""
    return lambda: bus.replicas if bus.settings.replica_wait == "dispatch" else 0


def reception_for(settings: Settings, secret: Callable[[], str] | None = None) -> Reception:
    """The connection caps and head bounds of one hub process (see server/realtime/reception.py).
    ``secret``: the token key (read from the records store once it is open); else the settings'."""
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
    key = secret or (lambda: settings.secret)

    def token_ok(token: str) -> bool:
        try:
            verify_token(key(), token)
        except AuthError:
            return False
        return True

    return Reception(Admission(limits), head, token_ok)


def create_app(settings: Settings | None = None) -> Starlette:
    given = (settings or Settings.from_env()).resolved()
    policy = load_policy(given.policy_path)  # fail at start, not at the first call
    keys: list[Settings] = [given]  # with the keys filled in, once the records store is open
    reception = reception_for(given, lambda: keys[0].secret)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # One server: a blocking pool, so a burst of catch-ups (a reconnect storm) waits for a
        # connection instead of failing; the bus reader and archiver hold one each. A cluster or
        # a Sentinel's primary: their own clients (server/bus/connect.py).
        settings = given
        connected = connect(
            settings.redis_url, cluster=settings.redis_cluster, max_connections=settings.redis_connections
        )
        redis = connected.redis
        await _wait_for_redis(redis, 30.0)
        store = RecordsStore(settings.records_target, sqlite_synchronous=settings.sqlite_synchronous)
        try:
            await store.open()
            settings = keys[0] = await with_shared_keys(settings, store)
            bus = Bus(redis, settings)
            await attach_recovery(bus, redis, store, policy)
        except BaseException:
            # Not started: close what was opened, or its threads keep the process from exiting.
            await _step("records store", store.close())
            await _step("redis", connected.close())
            raise
        metrics_ = HubMetrics()
        metrics_.watch(AdmissionCollector(reception.admission))
        service = DispatchService(
            bus, redis, policy, archived_incident=store.archived_incident, archived_alarm=store.archived_alarm
        )
        tokens = Tokens(redis, store, settings.secret, settings.token_ttl_s, bus.part.tag(Family.AUTH))
        hub = Hub(settings, redis, bus, service, metrics_, tokens)
        archiver = Archiver(redis, store, metrics_, settings, part=bus.part)
        topology = TopologyWatch(connected, bus)
        topology.on_failover = hub.failed_over
        metrics_.watch(TopologyCollector(topology))

        async def after_fired(timer_id: str) -> None:
            if timer_id.startswith("welfare-critical:"):
                await service.safety.missed_check_in(timer_id.split(":", 1)[1])

        timers = TimerService(bus, after_fired=after_fired)
        ctx = HubContext(
            settings=settings,
            policy=policy,
            redis=redis,
            bus=bus,
            store=store,
            tokens=tokens,
            metrics=metrics_,
            started=time.time(),
            hub=hub,
            archiver=archiver,
            service=service,
            login_limits=SignInLimits.make(redis),
            intake=IntakeDoors.make(
                Door(redis, _reference_floor(store), bus.part, _door_waits(bus), settings.replica_wait_ms),
                settings,
                policy,
                metrics_,
            ),
            geocoder=Geocoder(settings.geocoder_url) if settings.geocoder_url else None,
        )
        ctx.add(connected, topology)
        pdfs = PdfRenderer()  # letters and reports laid out in a process of their own
        cases = Workspace(store, bus, policy, ClockBoard(redis, policy, bus.part))
        evidence = _evidence(store, policy, service)
        access = AccessDesk(
            store, bus, redis, policy, data_dir=settings.data_dir, attachments=settings.attachments_dir,
            renderer=pdfs, incident=evidence.export,
        )  # fmt: skip
        ctx.add(
            cases,
            pdfs,
            LetterDesk(store, bus, policy, settings.data_dir, pdfs, on_issued=cases.letter_issued),
            evidence,
            access,
            Reports(store, policy, pdfs),
        )
        app.state.ctx = ctx
        await tokens.start()
        await hub.start()
        archiving = asyncio.create_task(archiver.run(), name="archiver")
        timing = asyncio.create_task(timers.run(), name="timers")
        watching = asyncio.create_task(topology.run(), name="topology")
        log.info(
            "hub ready redis=%s (%s) partition=%s records=%s",
            describe(settings.redis_url),
            connected.target.kind,
            bus.part.label,
            store.describe,
        )
        log.info("answering to Host %s (set DISPATCH_ALLOWED_HOSTS for others)", ", ".join(hosts))
        try:
            yield
        finally:
            # Each step bounded and named: shutdown always completes, and a step that
            # hangs says so in the log.
            await _step("hub", hub.shutdown())  # idempotent: the runner may have drained already
            await _step("cover searches", service.safety.settle(2.0))
            archiver.stop()
            timers.stop()
            topology.stop()
            for task in (archiving, timing, watching):
                await _stopped(task)
            pdfs.close()
            if ctx.geocoder is not None:
                await _step("geocoder", ctx.geocoder.close())
            await _step("records store", store.close())
            await _step("redis", connected.close())

    hosts = allowed_hosts(given.allowed_hosts, given.host)
    endpoints = all_endpoints()
    app = HubApp(
        hosts=hosts,
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False),
            Middleware(SameOriginGuard, extra_origins=given.allowed_origins),
            Middleware(NoStore),
        ],
        routes=[*routes_of(endpoints), *web_routes(given)],
        lifespan=lifespan,
        exception_handlers={InputError: input_error, NotReplicated: _not_replicated, 404: not_found, 405: not_allowed},
    )
    app.state.schema = json_schema()
    app.state.openapi = openapi(endpoints, title="dispatch-hub", version=_version())
    app.state.reception = reception
    return app
