"""The hub's HTTP/1.1 protocol: uvicorn's httptools protocol, bounded.

uvicorn takes a request head of any size, for as long as the peer likes: one
header of 200 MB is read whole (and httptools joins its pieces over and
over), and a socket that sends nothing, or a byte now and then, stays open
for ever. Here every connection:

- is admitted or refused before a byte is read (``server.realtime.admission``: caps per
  address and in all, with room kept for signed-in staff);
- must send its request head within ``head_timeout_s`` (``probation_s`` when
  it came in over a cap), and a keep-alive connection that sends nothing is
  closed after ``keepalive_s`` (uvicorn's own timer);
- is answered 431 and closed when a head passes ``max_head_bytes`` or
  ``max_headers``, counting the bytes that arrive before the head is complete,
  so a head that never ends is cut as soon as it is too long;
- is closed once answered if its request body has not all arrived (a body the
  route refused at its cap, ``server.http.inputs``), instead of reading the rest.

A head that shows a valid token (Bearer or the sign-in cookie) proves its
connection; the app still checks every request in full (revocation, role).
A WebSocket upgrade takes its connection's ticket with it
(``server.realtime.wire.HubWebSocketProtocol``), and a WebSocket that signs in with a
``hello`` frame proves its connection then.

Every refusal is counted (``dispatch_connections_refused{reason}``) and
logged, at most once per reason every ``LOG_EVERY_S`` with how many there were.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.realtime.admission import Admission, Refusal, Standing, Ticket

__all__ = ["HeadLimits", "HubHttpProtocol", "Reception", "reception_of", "token_in_headers"]

log = logging.getLogger("dispatch.reception")

LOG_EVERY_S = 10.0
_COOKIE = b"dispatch_token="  # server.access.tokens.COOKIE_NAME, as the bytes of a Cookie header


@dataclass(frozen=True, slots=True)
class HeadLimits:
    max_head_bytes: int = 16 * 1024  # request line and headers
    max_headers: int = 100
    head_timeout_s: float = 10.0  # from the first byte (or the connection) to the end of the head
    probation_s: float = 3.0  # the same, for a connection let in over a cap only to show a token


_REASONS = {
    Refusal.FULL: "the hub is at its connection limit; retry shortly",
    Refusal.BUSY: "too many connections; retry shortly",
    Refusal.ADDRESS: "too many connections from your address; close some and retry",
    Refusal.HEAD_TIMEOUT: "the request head did not arrive in time",
    Refusal.HEAD_TOO_LARGE: "request headers too large",
}


def _response(why: Refusal) -> bytes:
    body = (_REASONS[why] + "\n").encode()
    status = why.status
    phrase = {503: "Service Unavailable", 429: "Too Many Requests", 408: "Request Timeout"}.get(
        status, "Request Header Fields Too Large"
    )
    retry = b"retry-after: 5\r\n" if status in (429, 503) else b""
    return (
        f"HTTP/1.1 {status} {phrase}\r\n".encode()
        + b"content-type: text/plain; charset=utf-8\r\n"
        + f"content-length: {len(body)}\r\n".encode()
        + retry
        + b"connection: close\r\n\r\n"
        + body
    )


def token_in_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token a request head carries: ``Authorization: Bearer``, else the sign-in cookie."""
    cookie_token = None
    for name, value in headers:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip().decode("latin-1")
        if name == b"cookie" and _COOKIE in value:
            for part in value.split(b";"):
                part = part.strip()
                if part.startswith(_COOKIE):
                    cookie_token = part[len(_COOKIE) :].decode("latin-1")
    return cookie_token


class Reception:
    """What the hub's protocols consult for each connection (one per process, made by the app)."""

    def __init__(self, admission: Admission, head: HeadLimits, token_ok: Callable[[str], bool]) -> None:
        self.admission = admission
        self.head = head
        self._token_ok = token_ok
        self._logged: dict[Refusal, float] = {}
        self._unlogged: Counter[Refusal] = Counter()

    def admit(self, address: str) -> Ticket | Refusal:
        got = self.admission.admit(address)
        if isinstance(got, Refusal):
            self._log(got, address)
        return got

    def refuse(self, why: Refusal, address: str) -> None:
        """A refusal after admission (a probation head with no token, a head too slow or too large)."""
        self.admission.refuse(why)
        self._log(why, address)

    def proves(self, headers: list[tuple[bytes, bytes]]) -> bool:
        token = token_in_headers(headers)
        return token is not None and self._token_ok(token)

    def _log(self, why: Refusal, address: str) -> None:
        now = time.monotonic()
        if now - self._logged.get(why, -LOG_EVERY_S) < LOG_EVERY_S:
            self._unlogged[why] += 1
            return
        self._logged[why] = now
        more, self._unlogged[why] = self._unlogged[why], 0
        a = self.admission
        log.warning(
            "connection refused (%s) from %s%s; open=%d unproven=%d of %d, per address %d, max %d",
            why.value,
            address,
            f" (and {more} more since the last line)" if more else "",
            a.open,
            a.unproven_total,
            a.limits.unproven_cap,
            a.limits.per_address,
            a.limits.max_connections,
        )


def reception_of(config: Any) -> Reception | None:
    """The app's reception (``app.state.reception``), found once per server config."""
    if hasattr(config, "_dispatch_reception"):
        cached: Reception | None = config._dispatch_reception
        return cached
    app, found = config.loaded_app, None
    for _ in range(10):
        state = getattr(app, "state", None)
        if state is not None and hasattr(state, "reception"):
            found = state.reception
            break
        app = getattr(app, "app", None)
        if app is None:
            break
    config._dispatch_reception = found
    return found


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a head that is refused."""


class HubHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with admission, a head deadline and bounded heads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reception = reception_of(self.config)
        self.ticket: Ticket | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0  # bytes since the last head ended (a bound on one head being read)
        self._head_seen = 0  # bytes of the current head as the parser reports them
        self._headers_seen = 0
        self._in_body = False
        self._refusal: Refusal | None = None
        self._done = False  # refused: nothing more is read or written

    def _address(self) -> str:
        return self.client[0] if self.client else "local"

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.reception is None:
            return
        got = self.reception.admit(self._address())
        if isinstance(got, Refusal):
            self._refuse(got, counted=True)
            return
        self.ticket = got
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        if self.ticket is not None and self.reception is not None:
            self.reception.admission.release(self.ticket)
            self.ticket = None
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is None and self.reception is not None:
            head = self.reception.head
            probation = self.ticket is not None and self.ticket.standing is Standing.PROBATION
            wait = min(head.probation_s, head.head_timeout_s) if probation else head.head_timeout_s
            self._head_timer = self.loop.call_later(wait, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._done or self.transport.is_closing():
            return
        if self._head_bytes == 0 and self._head_seen == 0:
            # Nothing of a request arrived: an idle socket, closed without a word.
            assert self.reception is not None
            self.reception.refuse(Refusal.HEAD_TIMEOUT, self._address())
            self._done = True
            self.transport.close()
            return
        self._refuse(Refusal.HEAD_TIMEOUT)

    def _refuse(self, why: Refusal, counted: bool = False) -> None:
        """Answer ``why`` and close. ``counted``: admission already counted it."""
        self._done = True
        self._disarm_head_timer()
        if self.reception is not None and not counted:
            self.reception.refuse(why, self._address())
        if not self.transport.is_closing():
            self.transport.write(_response(why))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        r = self.reception
        if r is None:
            super().data_received(data)
            return
        counting = not self._in_body
        if counting:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(self._refusal)
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if counting and not self._in_body and self._head_bytes > r.head.max_head_bytes:
            self._refuse(Refusal.HEAD_TOO_LARGE)

    # ---- parser callbacks ----------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_seen = self._headers_seen = 0
        self._arm_head_timer()  # the next request on a kept-alive connection has its own deadline

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4, 1)
        super().on_header(name, value)

    def _count_head(self, n: int, headers: int) -> None:
        if self.reception is None:
            return
        self._head_seen += n
        self._headers_seen += headers
        head = self.reception.head
        if self._head_seen > head.max_head_bytes or self._headers_seen > head.max_headers:
            self._refusal = Refusal.HEAD_TOO_LARGE
            raise _Refused

    def on_headers_complete(self) -> None:
        r = self.reception
        if r is not None:
            self._disarm_head_timer()
            self._in_body = True
            self._head_bytes = 0
            ticket = self.ticket
            if ticket is not None and ticket.standing is not Standing.PROVEN:
                if r.proves(self.headers):
                    r.admission.prove(ticket)
                elif ticket.standing is Standing.PROBATION:
                    self._refusal = ticket.why
                    raise _Refused
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        if self._in_body and self.reception is not None:
            # Answered before its body ended (a body over its route's cap, say): read no more
            # of it. uvicorn would go on reading and dropping it, for as long as the peer sends.
            self._done = True
            self.transport.close()
        super().on_response_complete()

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        # The WebSocket protocol now owns the transport, and the ticket goes with it.
        ticket, self.ticket = self.ticket, None
        if ticket is None or self.reception is None:
            return
        protocol = self.transport.get_protocol()
        if hasattr(protocol, "adopt"):
            protocol.adopt(self.reception, ticket)
        else:
            self.reception.admission.release(ticket)
