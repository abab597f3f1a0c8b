"""A hub connection that reconnects with backoff and resumes by offsets.

    async with Connection("ws://127.0.0.1:8000/ws", token=token, topics=["incidents"]) as conn:
        ack = await conn.command(IncidentCreate(id=conn.next_id(), ...))
        async for frame in conn.frames():
            ...

It remembers the last offset and epoch of every topic. After a drop it
reconnects (exponential backoff with jitter), subscribes again with those
offsets, and so receives exactly what it missed, in order; frames it has
already seen are dropped by offset, so a replay never shows twice. When the
hub answers with ``resync`` (history trimmed, or the stream lost) the frame
is passed on so the caller can replace what it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from protocol.codec import Codec, FrameError, WireFormat, codec_for
from protocol.codes import CloseCode, ErrorCode, should_reconnect
from protocol.messages import (
    Ack,
    Error,
    EventFrame,
    Hello,
    Pong,
    PositionsFrame,
    Resync,
    ServerFrame,
    Subscribe,
    TopicOffset,
    Welcome,
)

__all__ = ["CommandRejected", "Connection", "ConnectionLost", "HubClosed", "TopicPosition"]

log = logging.getLogger("dispatch.client")


class CommandRejected(Exception):
    """The hub answered a command with ``error``."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error
        self.code = error.code


class ConnectionLost(Exception):
    """The connection dropped before the command was answered: it may or may not have been applied."""


class HubClosed(Exception):
    """The hub closed us with a code that says not to reconnect (e.g. 4001, unauthenticated)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed by hub: {code} {reason}")
        self.code = code
        self.reason = reason


def _sid(offset: str) -> tuple[int, int]:
    ms, _, seq = offset.partition("-")
    return int(ms or 0), int(seq or 0)


@dataclass(slots=True)
class TopicPosition:
    offset: str | None = None
    epoch: str | None = None


@dataclass(slots=True)
class _Stats:
    connects: int = 0
    duplicates_dropped: int = 0
    resyncs: int = 0
    close_codes: list[int] = field(default_factory=list)


class Connection:
    def __init__(
        self,
        url: str,
        *,
        token: str,
        topics: Iterable[str] = (),
        wire: WireFormat = WireFormat.JSON,
        auth: str = "header",  # "header" (Bearer) or "hello"
        backoff: tuple[float, float] = (0.05, 5.0),
        on_frame: Callable[[ServerFrame], None] | None = None,
        queue_frames: bool = True,
        resume_from: dict[str, TopicPosition] | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self.topics = list(topics)
        self.codec: Codec = codec_for(wire)
        self.auth = auth
        self.backoff = backoff
        self.on_frame = on_frame
        self.positions: dict[str, TopicPosition] = {t: TopicPosition() for t in self.topics}
        for topic, pos in (resume_from or {}).items():
            self.positions[topic] = TopicPosition(pos.offset, pos.epoch)
        self.welcome: Welcome | None = None
        self.stats = _Stats()
        self._queue: asyncio.Queue[ServerFrame] | None = asyncio.Queue() if queue_frames else None
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)
        self._pending: dict[str, asyncio.Future[Ack]] = {}
        self._ws: ClientConnection | None = None
        self._ready = asyncio.Event()
        self._closed = False
        self._fatal: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self._was_ready = False

    # ---- life cycle --------------------------------------------------------

    async def __aenter__(self) -> Connection:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self, timeout: float = 10.0) -> None:
        """Connect and subscribe; returns once the first catch-up is acknowledged."""
        self._task = asyncio.create_task(self._run(), name=f"connection {self.url}")
        await self.wait_ready(timeout)

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Until connected and caught up; raises the fatal error if the hub refused us."""
        waiter = asyncio.ensure_future(self._ready.wait())
        try:
            async with asyncio.timeout(timeout):
                while not self._ready.is_set():
                    if self._fatal is not None:
                        raise self._fatal
                    watch = {waiter, self._task} if self._task else {waiter}
                    await asyncio.wait(watch, return_when="FIRST_COMPLETED")
                    if not waiter.done():
                        if self._fatal is not None:
                            raise self._fatal
                        raise ConnectionLost("connection task ended")
        finally:
            waiter.cancel()

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        self._fail_pending(ConnectionLost("closed"))

    async def drop(self) -> None:
        """Cut the socket without a close handshake (for tests of resume)."""
        if self._ws is not None:
            self._ws.transport.abort()

    def saved_positions(self) -> dict[str, TopicPosition]:
        """A copy of where this client is in each topic: pass it as ``resume_from`` later."""
        return {t: TopicPosition(p.offset, p.epoch) for t, p in self.positions.items()}

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    # ---- use ---------------------------------------------------------------

    def next_id(self) -> str:
        """A command id unique to this connection object: the hub treats a repeated id (per user,
        for 10 minutes) as a retry and answers it without applying it again."""
        return f"{self._prefix}-{next(self._ids)}"

    async def command(self, frame: Any, timeout: float = 10.0) -> Ack:
        """Send a command (a Struct with an ``id``) and wait for its ``ack``."""
        await self.wait_ready(timeout)
        assert self._ws is not None
        fut: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending[frame.id] = fut
        try:
            await self._ws.send(self._encode(frame))
            async with asyncio.timeout(timeout):
                return await fut
        except ConnectionClosed as exc:
            raise ConnectionLost(str(exc)) from None
        finally:
            self._pending.pop(frame.id, None)

    async def send_raw(self, data: str | bytes) -> None:
        await self.wait_ready()
        assert self._ws is not None
        await self._ws.send(data)

    async def frames(self) -> AsyncIterator[ServerFrame]:
        assert self._queue is not None, "created with queue_frames=False"
        while True:
            yield await self._queue.get()

    async def next_frame(self, timeout: float = 10.0) -> ServerFrame:
        assert self._queue is not None
        async with asyncio.timeout(timeout):
            return await self._queue.get()

    def pending_frames(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    # ---- internals ---------------------------------------------------------

    def _encode(self, frame: Any) -> str | bytes:
        data = self.codec.encode(frame)
        return data if self.codec.binary else data.decode()

    def _fail_pending(self, exc: BaseException) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(exc)
        self._pending.clear()

    async def _run(self) -> None:
        delay = self.backoff[0]
        while not self._closed:
            code: int | None = None
            reason = ""
            self._was_ready = False
            try:
                # Returns the close code when the hub closed cleanly (1000, 1001):
                # iterating a websockets connection ends without raising then.
                code, reason = await self._session()
            except ConnectionClosed as exc:
                rcvd = exc.rcvd
                code, reason = (rcvd.code, rcvd.reason) if rcvd is not None else (CloseCode.ABNORMAL, "")
            except InvalidStatus as exc:
                refused = exc.response.status_code in (401, 403)
                code = CloseCode.UNAUTHENTICATED if refused else CloseCode.TRY_AGAIN_LATER
            except (OSError, InvalidHandshake, TimeoutError, FrameError, ConnectionLost) as exc:
                code, reason = CloseCode.ABNORMAL, str(exc)
            except HubClosed as exc:
                code, reason = exc.code, exc.reason
            finally:
                self._ready.clear()
                self._ws = None
                self._fail_pending(ConnectionLost(f"connection dropped ({code})"))
            if self._closed:
                return
            if code is not None:
                self.stats.close_codes.append(code)
            if code is not None and not should_reconnect(code):
                self._fatal = HubClosed(code, reason)
                log.error("hub closed the connection: %s %s; not reconnecting", code, reason)
                return
            if self._was_ready:
                delay = self.backoff[0]  # it worked for a while: start the backoff over
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self.backoff[1])

    async def _session(self) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.auth == "header" else None
        async with connect(
            self.url,
            subprotocols=[websockets.Subprotocol(self.codec.format.value)],
            additional_headers=headers,
            max_size=None,
            compression=None,
            open_timeout=10,
        ) as ws:
            self._ws = ws
            self.stats.connects += 1
            if self.auth == "hello":
                await ws.send(self._encode(Hello(token=self.token)))
            first = self.codec.decode_server(await ws.recv())
            if isinstance(first, Error):
                raise HubClosed(CloseCode.UNAUTHENTICATED, first.message)
            assert isinstance(first, Welcome), first
            self.welcome = first
            sub_id = None
            if self.topics:
                sub_id = self.next_id()
                wanted = [
                    TopicOffset(t, p.offset, p.epoch) if t != "positions" and p.offset else TopicOffset(t)
                    for t, p in self.positions.items()
                ]
                await ws.send(self._encode(Subscribe(id=sub_id, topics=wanted)))
            else:
                self._ready.set()
                self._was_ready = True
            async for raw in ws:
                frame = self.codec.decode_server(raw)
                if sub_id is not None and isinstance(frame, Ack | Error) and frame.ref == sub_id:
                    if isinstance(frame, Error):
                        if frame.code == ErrorCode.UNAVAILABLE:
                            raise ConnectionLost(f"subscribe failed: {frame.message}")  # retry later
                        raise HubClosed(CloseCode.FORBIDDEN, f"subscribe refused: {frame.code}: {frame.message}")
                    self._ready.set()
                    self._was_ready = True
                    continue
                self._handle(frame)
            return ws.close_code or CloseCode.ABNORMAL, ws.close_reason or ""

    def _handle(self, frame: ServerFrame) -> None:
        if isinstance(frame, Ack | Error):
            fut = self._pending.get(frame.ref or "")
            if fut is not None and not fut.done():
                if isinstance(frame, Ack):
                    fut.set_result(frame)
                else:
                    fut.set_exception(CommandRejected(frame))
                return
        elif isinstance(frame, EventFrame | PositionsFrame):
            pos = self.positions.setdefault(frame.topic, TopicPosition())
            if pos.offset is not None and pos.epoch == frame.epoch and _sid(frame.offset) <= _sid(pos.offset):
                self.stats.duplicates_dropped += 1
                return
            pos.offset, pos.epoch = frame.offset, frame.epoch
        elif isinstance(frame, Resync):
            self.stats.resyncs += 1
            self.positions[frame.topic] = TopicPosition(frame.offset, frame.epoch)
        elif isinstance(frame, Pong):
            pass
        if self.on_frame is not None:
            self.on_frame(frame)
        if self._queue is not None:
            self._queue.put_nowait(frame)
