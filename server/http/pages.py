"""The browser clients' pages: sign-in, the dispatcher board, the officer app,
the public complaint portal and the 311 referral form.

Plain ES modules from ``static/`` (no build step); Leaflet from the npm
install the Makefile makes in ``static/vendor/``. ``/api/me`` gives a page
who is signed in and the parts of the policy a client draws with.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from protocol.codes import CLOSE_RULES, CloseRules
from server.access.permissions import home_for, may_open
from server.access.principals import principal
from server.access.roles import Principal, Scope
from server.agency.policy import PriorityLevel, Welfare
from server.config import Settings
from server.context import context
from server.http.endpoints import Endpoint, answer

__all__ = [
    "CallTypeInfo",
    "Me",
    "StatusInfo",
    "Tiles",
    "complaint",
    "endpoints",
    "me",
    "officer_worker",
    "root",
    "signin",
    "web_routes",
]

_ANY_SCOPE = frozenset(Scope)


def _security_headers(settings: Settings) -> dict[str, str]:
    tiles = urlsplit(settings.tile_url.replace("{s}", "a"))
    tile_origin = f"{tiles.scheme}://{tiles.netloc}" if tiles.netloc else ""
    if "{s}" in settings.tile_url and tiles.netloc:
        tile_origin = f"{tiles.scheme}://*.{tiles.netloc.split('.', 1)[1]}"
    csp = (
        "default-src 'self'; script-src 'self'; connect-src 'self'; "
        f"img-src 'self' data: {tile_origin}; style-src 'self' 'unsafe-inline'; "
        "media-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


class _StaticWithHeaders(StaticFiles):
    """Static files with the pages' security headers (so no page is served without its CSP)."""

    def __init__(self, headers: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extra_headers = {k: v for k, v in headers.items() if k != "Cache-Control"}

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(self.extra_headers)
        return response


def _page(settings: Settings, name: str) -> Response:
    return FileResponse(settings.static_path / name / "index.html", headers=_security_headers(settings))


def _guarded(path: str, folder: str) -> Route:
    """A page for the roles the permission table names (``PAGES``): strangers are sent to sign in
    (and come back here after), other roles to their home page."""

    async def page(request: Request) -> Response:
        settings: Settings = context(request).settings
        who = await principal(request, scopes=_ANY_SCOPE)
        if who is None:
            return RedirectResponse(f"/signin/?next={quote(path, safe='')}", status_code=303)
        if who.scope is Scope.ENROL and path != "/account/":
            return RedirectResponse("/account/", status_code=303)  # a second factor to set up first
        if not may_open(who.role, path):
            return RedirectResponse(home_for(who.role), status_code=303)
        return _page(settings, folder)

    return Route(path, page, name=folder)


async def root(request: Request) -> Response:
    who = await principal(request, scopes=_ANY_SCOPE)
    if who is not None and who.scope is Scope.ENROL:
        return RedirectResponse("/account/", status_code=303)
    return RedirectResponse(home_for(who.role) if who else "/signin/", status_code=303)


async def signin(request: Request) -> Response:
    return _page(context(request).settings, "signin")


async def complaint(request: Request) -> Response:
    """The public complaint portal: no account needed (case staff signed in enter phone complaints on it)."""
    return _page(context(request).settings, "complaint")


async def officer_worker(request: Request) -> Response:
    """The officer app's service worker (static/officer/sw.js), served beside its page so that it
    may control /officer/: it keeps the app shell for a phone with no signal."""
    settings: Settings = context(request).settings
    headers = {**_security_headers(settings), "Service-Worker-Allowed": "/officer/"}
    return FileResponse(settings.static_path / "officer" / "sw.js", media_type="text/javascript", headers=headers)


class Tiles(msgspec.Struct):
    url: str
    attribution: str


class StatusInfo(msgspec.Struct):
    availability: str
    next: list[str]


class CallTypeInfo(msgspec.Struct):
    priority: int
    needs: list[str]


class Me(msgspec.Struct):
    """Who is signed in, and what a client needs to draw: tiles, priorities, statuses, call types, area."""

    user: str
    role: str
    unit: str | None
    expires_at: float | None
    agency: str
    tiles: Tiles
    priorities: dict[str, PriorityLevel]
    unit_statuses: dict[str, StatusInfo]
    call_types: dict[str, CallTypeInfo]
    dispositions: list[str]
    stale_after_s: float
    welfare: Welfare
    area: dict[str, Any] | None  # the service area as GeoJSON
    server_time: int
    close_codes: CloseRules  # the protocol's close codes, and which mean: do not reconnect


async def me(request: Request, who: Principal | None) -> Response:
    assert who is not None
    ctx = context(request)
    settings: Settings = ctx.settings
    policy = ctx.policy
    return answer(
        Me(
            user=who.user,
            role=who.role.value,
            unit=who.unit,
            expires_at=who.expires_at,
            agency=policy.agency.name,
            tiles=Tiles(settings.tile_url, settings.tile_attribution),
            priorities={str(k): v for k, v in policy.priorities.items()},
            unit_statuses={k: StatusInfo(v.availability, list(v.next)) for k, v in policy.unit_statuses.items()},
            call_types={k: CallTypeInfo(v.priority, list(v.needs)) for k, v in policy.call_types.items()},
            dispositions=list(policy.dispositions.codes),
            stale_after_s=policy.positions.stale_after_s,
            welfare=policy.welfare,
            area=json.loads(policy.area.geojson) if policy.area and policy.area.geojson else None,
            server_time=int(time.time() * 1000),
            close_codes=CLOSE_RULES,
        )
    )


def endpoints() -> list[Endpoint]:
    return [Endpoint("GET", "/api/me", me, "Say who is signed in", "account", {200: Me})]


def web_routes(settings: Settings) -> list[BaseRoute]:
    static: Path = settings.static_path
    modules = static / "vendor" / "node_modules"
    return [
        Route("/", root),
        Route("/signin/", signin),
        Route("/complaint/", complaint),
        _guarded("/board/", "board"),
        _guarded("/officer/", "officer"),
        Route("/officer/sw.js", officer_worker),
        _guarded("/referral/", "referral"),
        _guarded("/intake/", "intake"),
        _guarded("/admin/", "admin"),
        _guarded("/cases/", "cases"),
        _guarded("/cases/letters/", "cases/letters"),
        _guarded("/cases/reports/", "cases/reports"),
        _guarded("/access/", "access"),
        _guarded("/account/", "account"),
        _guarded("/desk/investigations/", "desk/investigations"),
        _guarded("/desk/info-requests/", "desk/info-requests"),
        _guarded("/desk/directory/", "desk/directory"),
        _guarded("/desk/radio/", "desk/radio"),
        _guarded("/desk/reports/", "desk/reports"),
        _guarded("/desk/units/", "desk/units"),
        _guarded("/desk/resources/", "desk/resources"),
        # Leaflet as npm installed it (make serve / make test run `npm ci` in static/vendor).
        Mount("/vendor/leaflet", StaticFiles(directory=modules / "leaflet" / "dist", check_dir=False), name="leaflet"),
        # Chart.js's UMD build (window.Chart) for the report pages.
        Mount("/vendor/chart", StaticFiles(directory=modules / "chart.js" / "dist", check_dir=False), name="chart"),
        # pdf.js's ES module build and its worker, for the redaction viewer.
        Mount("/vendor/pdfjs", StaticFiles(directory=modules / "pdfjs-dist" / "build", check_dir=False), name="pdfjs"),
        Mount(
            "/static",
            _StaticWithHeaders(_security_headers(settings), directory=static, check_dir=False),
            name="static",
        ),
    ]
