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
response (their headers are a few KiB per idle connection). Under any other
server the extension is absent and sessions send through ASGI as before.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Mapping
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["EXTENSION", "HubWebSocketProtocol", "Outlet", "frame", "outlet_of"]

EXTENSION = "dispatch.outlet"

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

    async def drain(self) -> None:
        """Until the write buffer is below its low-water mark (or the connection is gone)."""
        if self._transport.get_write_buffer_size() > HIGH_WATER:
            await self._proto.writable.wait()


def outlet_of(scope: Mapping[str, Any]) -> Outlet | None:
    proto = scope.get("extensions", {}).get(EXTENSION)
    if proto is None or proto.conn.extensions:  # a negotiated extension (compression) changes the framing
        return None
    return Outlet(proto)


class HubWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websockets protocol, offering the hub an ``Outlet`` through the ASGI scope."""

    async def run_asgi(self) -> None:
        extensions: dict[str, Any] = self.scope["extensions"]  # type: ignore[assignment]
        extensions[EXTENSION] = self
        await super().run_asgi()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            # Answered: uvicorn reads neither again, and their headers add up over thousands of boards.
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]
