"""Guards on every HTTP request: the hosts the hub answers to, state changes only from its own
pages, and no caching of what it answers.

- **Hosts** (``ALLOWED_HOSTS``, checked by Starlette's ``TrustedHostMiddleware``
  for HTTP and for ``/ws``): a page on a rebinding domain that points at the
  hub is refused, and the URLs the hub hands out (Open311 discovery) name
  only hosts it was told about. By default: the names of the address it
  listens on (for ``0.0.0.0``, this machine's own names and addresses).
- **Same origin** (``SameOriginGuard``): a request that changes something and
  carries the sign-in cookie must come from a page of this hub, or of an
  origin in ``ALLOWED_ORIGINS``: its ``Origin`` says so, else its
  ``Sec-Fetch-Site``, else its ``Referer``. (A client that sends none of the
  three is not a browser, and no other site's page is behind it.)
  ``SameSite=Strict`` alone is not enough: a page on another port of the
  same host is the same *site*. Requests with a Bearer token or an API key
  carry no ambient authority and pass.
- **No caching** (``NoStore``): every answer under ``/api``, ``/open311``,
  ``/healthz`` and ``/metrics`` says ``Cache-Control: no-store`` (unless the
  route said otherwise): they hold personal or operational data.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.access.tokens import COOKIE_NAME

__all__ = ["NoStore", "SameOriginGuard", "allowed_hosts", "same_origin"]

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_LOCAL = ["localhost", "127.0.0.1", "::1"]


def allowed_hosts(configured: str, bind_host: str) -> list[str]:
    """The Host names to answer: ``configured`` (comma-separated, ``*`` for any), else those of
    the address the hub listens on."""
    given = [h.strip().lower() for h in configured.split(",") if h.strip()]
    if given:
        return given
    hosts = list(_LOCAL)
    try:
        unspecified = ipaddress.ip_address(bind_host).is_unspecified
    except ValueError:
        unspecified = False
    if not unspecified:
        return list(dict.fromkeys([*hosts, bind_host.lower()]))
    # Listening everywhere: this machine's names, and the addresses it has.
    name = socket.gethostname()
    hosts += [name.lower(), socket.getfqdn().lower()]
    try:
        hosts += [str(info[4][0]) for info in socket.getaddrinfo(name, None)]
    except OSError:
        pass
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:  # the address this machine reaches others from (a UDP connect sends nothing)
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                hosts.append(str(s.getsockname()[0]))
        except OSError:
            pass
    return list(dict.fromkeys(h for h in hosts if h))


def same_origin(origin: str, host: str, extra: frozenset[str]) -> bool:
    """Whether a page of ``origin`` may act on this hub, reached as ``host`` (host:port): the same
    host and port (whatever the scheme: a proxy may have ended TLS), or one listed in ``extra``."""
    origin = origin.strip().rstrip("/")
    if origin in extra:
        return True
    parts = urlsplit(origin)
    return bool(parts.netloc) and parts.netloc.lower() == host.lower()


class SameOriginGuard:
    """Refuses cookie-authenticated state changes that do not come from this hub's own pages."""

    def __init__(self, app: ASGIApp, extra_origins: str = "") -> None:
        self.app = app
        self.extra = frozenset(o.strip().rstrip("/") for o in extra_origins.split(",") if o.strip())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookie = headers.get("cookie", "")
        if f"{COOKIE_NAME}=" not in cookie or headers.get("authorization", "").lower().startswith("bearer "):
            await self.app(scope, receive, send)  # nothing ambient to borrow
            return
        why = self._refusal(headers)
        if why is None:
            await self.app(scope, receive, send)
            return
        await JSONResponse({"error": why}, status_code=403)(scope, receive, send)

    def _refusal(self, headers: Headers) -> str | None:
        host = headers.get("host", "")
        origin = headers.get("origin")
        if origin is not None and origin != "null":
            return None if same_origin(origin, host, self.extra) else f"a page of {origin} may not act here"
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            return None if fetch_site in ("same-origin", "none") else "a page of another site may not act here"
        referer = headers.get("referer")
        if referer:
            parts = urlsplit(referer)
            return None if same_origin(f"{parts.scheme}://{parts.netloc}", host, self.extra) else "not from this site"
        # None of the three: not a browser (every browser sends Sec-Fetch-Site, or Origin on a
        # cross-site POST), so no page of another site is borrowing the cookie.
        return None


class NoStore:
    """``Cache-Control: no-store`` on the answers that hold data, unless the route set its own."""

    _PREFIXES = ("/api/", "/open311/", "/healthz", "/metrics")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self._PREFIXES):
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)
