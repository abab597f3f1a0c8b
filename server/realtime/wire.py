"""Whole WebSocket frames written straight to a client's socket.

The fan-out sends the same event to hundreds of sessions. Going through ASGI
costs each of them a message dict, several awaits and a frame built anew;
here the frame (header and payload) is built once per event and encoding,
and each session's share is one ``transport.write``. A server-to-client frame
is never masked, and the hub turns per-message compression off, so the same
bytes are right for every client.

``HubWebSocketProtocol`` is uvicorn's sans-I/O websockets protocol with two
additions: it puts itself in the ASGI scope under
``extensions["dispatch.outlet"]``, so a session can ask for an ``Outlet``; and
once the handshake is answered it lets go of the handshake's request and
response (their headers are a few KiB per idle connection). Its receive queue
and write gate hold nothing while idle. Under any other server the extension
is absent and sessions send through ASGI as before.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import Mapping
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from server.realtime.admission import Ticket
from server.realtime.reception import Reception

__all__ = ["EXTENSION", "PROVE", "HubWebSocketProtocol", "Outlet", "frame", "outlet_of", "prove"]

EXTENSION = "dispatch.outlet"
# A callable in the scope's extensions: the session signed in with a hello frame, so its
# connection no longer counts against the caps on unproven connections (server.realtime.admission).
PROVE = "dispatch.prove"

# Bytes waiting in a socket's write buffer above which a session stops writing
# directly and queues (bounded, see Session) until the client reads.
HIGH_WATER = 64 * 1024

_TEXT, _BINARY = 0x81, 0x82  # FIN set, opcode text / binary


def frame(payload: bytes, binary: bool) -> bytes:
    """One unmasked, unfragmented frame carrying ``payload`` (RFC 6455, section 5.2)."""
    first = _BINARY if binary else _TEXT
    n = len(payload)
    if n < 126:
        head = bytes((first, n))
    elif n < 1 << 16:
        head = struct.pack("!BBH", first, 126, n)
    else:
        head = struct.pack("!BBQ", first, 127, n)
    return head + payload


class Outlet:
    """Writes whole frames to one connection's transport, never awaiting."""

    __slots__ = ("_proto", "_transport")

    def __init__(self, proto: HubWebSocketProtocol) -> None:
        self._proto = proto
        self._transport: asyncio.WriteTransport = proto.transport  # type: ignore[assignment]

    def open(self) -> bool:
        """Handshake done, no close sent or seen: data frames may go out."""
        p = self._proto
        return p.handshake_complete and not p.close_sent and not p.disconnected and not self._transport.is_closing()

    def ready(self) -> bool:
        """Open, and with room in its write buffer: a frame may be written now."""
        return self.open() and self._transport.get_write_buffer_size() <= HIGH_WATER

    def write(self, data: bytes) -> None:
        self._transport.write(data)

    def abort(self) -> None:
        """Cut the connection now (its buffered bytes are dropped): for a client that stopped
        reading, to whom no close frame could get through."""
        self._transport.abort()

    async def drain(self) -> None:
        """Until the write buffer is below its low-water mark (or the connection is gone)."""
        if self._transport.get_write_buffer_size() > HIGH_WATER:
            await self._proto.writable.wait()


def prove(scope: Mapping[str, Any]) -> None:
    """Tell the server this connection's peer has signed in (a no-op under another server)."""
    proved = scope.get("extensions", {}).get(PROVE)
    if proved is not None:
        proved()


def outlet_of(scope: Mapping[str, Any]) -> Outlet | None:
    proto = scope.get("extensions", {}).get(EXTENSION)
    if proto is None or proto.conn.extensions:  # a negotiated extension (compression) changes the framing
        return None
    return Outlet(proto)


class _Inbox:
    """What uvicorn asks of its receive queue (``put_nowait``, ``get``, ``empty``; one reader),
    holding nothing while empty: an ``asyncio.Queue`` keeps three deques per connection."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item


class _Gate:
    """What uvicorn asks of its write-backpressure event (``set``, ``clear``, ``is_set``,
    ``wait``), with no deque of waiters until someone waits."""

    __slots__ = ("_open", "_waiters")

    def __init__(self) -> None:
        self._open = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        waiters, self._waiters = self._waiters, None
        for fut in waiters or ():
            if not fut.done():
                fut.set_result(None)

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> bool:
        if not self._open:
            fut = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(fut)
            await fut
        return True


class HubWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websockets protocol, offering the hub an ``Outlet`` through the ASGI scope,
    and holding its connection's admission ticket (``server.realtime.reception``) until the socket closes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Gate()  # type: ignore[assignment]
        self._reception: Reception | None = None
        self._ticket: Ticket | None = None

    def adopt(self, reception: Reception, ticket: Ticket) -> None:
        """Take over the ticket of the HTTP connection this WebSocket was upgraded from."""
        self._reception, self._ticket = reception, ticket

    def _prove(self) -> None:
        if self._reception is not None and self._ticket is not None:
            self._reception.admission.prove(self._ticket)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._reception is not None and self._ticket is not None:
            self._reception.admission.release(self._ticket)
            self._ticket = None

    async def run_asgi(self) -> None:
        extensions: dict[str, Any] = self.scope["extensions"]  # type: ignore[assignment]
        extensions[EXTENSION] = self
        extensions[PROVE] = self._prove
        await super().run_asgi()

    def keepalive_timeout(self) -> None:
        # uvicorn closes gracefully, and a graceful close waits for the write buffer to empty:
        # with a peer that answers no ping and reads nothing, that is forever.
        super().keepalive_timeout()
        self.transport.abort()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            # Answered: uvicorn reads neither again, and their headers add up over thousands of boards.
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]
