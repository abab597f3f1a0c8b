"""A lean WebSocket client for boards that only listen: an asyncio protocol, no per-message tasks.

The generator shares the machine with the server it measures, so what a
board costs per message is taken from the server. The ``websockets`` client
spends tens of microseconds per message; this one parses frames straight
from ``data_received`` and hands each whole message to a callback. It speaks
what a board needs (RFC 6455): the opening handshake, unfragmented data
frames, answering pings, and the closing handshake. Frames it sends are
masked, as a client's must be.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = ["RawSocket", "open_raw"]

_OP_CONT, _OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def _masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    body = b""
    if n:
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        body = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")
    return head + mask + body


class RawSocket(asyncio.Protocol):
    """One client connection. ``on_message(sock, data)`` gets each text (str) or binary (bytes) message."""

    def __init__(self, on_message: Callable[[RawSocket, str | bytes], None]) -> None:
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.close_code: int | None = None
        self._buf = bytearray()
        self._upgraded = False
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # ---- asyncio.Protocol --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            if not head.startswith("HTTP/1.1 101"):
                self._fail(ConnectionError(head.split("\r\n", 1)[0]))
                return
            self._upgraded = True
            if not self.opened.done():
                self.opened.set_result(None)
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            n = b1 & 0x7F
            at = pos + 2
            if n == 126:
                if size - at < 2:
                    break
                n = int.from_bytes(buf[at : at + 2], "big")
                at += 2
            elif n == 127:
                if size - at < 8:
                    break
                n = int.from_bytes(buf[at : at + 8], "big")
                at += 8
            if size - at < n:
                break
            payload = bytes(buf[at : at + n])
            pos = at + n
            opcode = b0 & 0x0F
            if opcode == _OP_TEXT:
                self.on_message(self, payload.decode())
            elif opcode == _OP_BINARY:
                self.on_message(self, payload)
            elif opcode == _OP_PING:
                self._send(_OP_PONG, payload)
            elif opcode == _OP_CLOSE:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self._send(_OP_CLOSE, payload[:2])
                if self.transport is not None:
                    self.transport.close()
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.close_code is None:
            self.close_code = 1006
        self._fail(exc or ConnectionError("closed"))
        if not self.closed.done():
            self.closed.set_result(None)

    # ---- use ---------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_masked(opcode, payload))

    def send(self, message: str | bytes) -> None:
        if isinstance(message, str):
            self._send(_OP_TEXT, message.encode())
        else:
            self._send(_OP_BINARY, message)

    async def close(self, timeout: float = 5.0) -> None:
        """The closing handshake (1000), bounded."""
        if self.transport is None or self.transport.is_closing():
            return
        self._send(_OP_CLOSE, (1000).to_bytes(2, "big"))
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            self.transport.abort()


async def open_raw(
    url: str,
    on_message: Callable[[RawSocket, str | bytes], None],
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> RawSocket:
    """Connect to ``url`` (ws://host:port/path?query) and finish the opening handshake."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    loop = asyncio.get_running_loop()
    _, sock = await asyncio.wait_for(loop.create_connection(lambda: RawSocket(on_message), host, port), timeout)
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    assert sock.transport is not None
    sock.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        await asyncio.wait_for(asyncio.shield(sock.opened), timeout)
    except BaseException:
        sock.transport.abort()
        raise
    return sock
