"""One WebSocket session: authentication, the command loop, and its writer.

The fan-out never awaits a client. Under the hub's own server a session has
an ``Outlet`` (see server/realtime/wire.py): while nothing is queued and the socket's
write buffer has room, a frame is written at once, already framed. Otherwise
frames go into bounded queues, and a writer task (alive only while there is
a backlog) drains them, alarms first, waiting for the client to read. A client
that stops reading fills its queue and is closed with 4108, slow consumer (it
resumes on reconnect); nobody else waits for it. Positions do not queue up: a session
holds at most one pending positions frame, and one that falls behind gets
the full current positions instead.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosed

from protocol.codec import Codec, FrameError, UndecodableFrame
from protocol.codes import CloseReason, ErrorCode
from protocol.messages import (
    COMMANDS,
    Ack,
    ClientFrame,
    Error,
    Hello,
    Ping,
    Pong,
    Subscribe,
    Unsubscribe,
    Welcome,
)
from protocol.state import Incident
from server.access.roles import Principal, Scope
from server.access.tokens import COOKIE_NAME, AuthError, verify_token
from server.realtime.ratelimit import TokenBucket
from server.realtime.wire import Outlet, frame, prove

if TYPE_CHECKING:
    from server.realtime.hub import Hub

__all__ = ["CatchUp", "Session", "SessionState", "Subscription", "refused"]

log = logging.getLogger("dispatch.session")

Frame = str | bytes
_MAX_BAD_FRAMES = 20  # undecodable frames in a row before close 1007 (frames of the wrong shape do not count)


def refused(why: str) -> CloseReason:
    """The close for a sign-in that is no longer good (``why``, from the token check)."""
    return CloseReason.ACCOUNT_DISABLED if why == CloseReason.ACCOUNT_DISABLED.text else CloseReason.SIGNED_OUT


class SessionState(enum.Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class CatchUp:
    """A frame of a catch-up (missed events, a snapshot) of one topic. It is sent
    ahead of the live frames that follow it and not counted against the live
    queue's limits, since a client that was away long must be able to come
    back; it has limits of its own: one catch-up per topic at a time, and
    ``catch_up_max_bytes`` in all."""

    __slots__ = ("data", "topic")

    def __init__(self, data: Frame, topic: str) -> None:
        self.data = data
        self.topic = topic


@dataclass(slots=True)
class Subscription:
    # While catching up, live frames wait here: (offset, frame, lane) with lane
    # "urgent", "normal" or "positions".
    buffer: list[tuple[tuple[int, int], Frame, str]] | None = field(default_factory=list)
    # Live events at or below this offset were already sent by the catch-up.
    floor: tuple[int, int] | None = None
    # For an officer's incidents feed: which incidents it may see (None: all).
    sees: Callable[[Incident], bool] | None = None


class Session:
    def __init__(self, hub: Hub, ws: WebSocket, codec: Codec, outlet: Outlet | None = None) -> None:
        self.hub = hub
        self.ws = ws
        self.codec = codec
        self.outlet = outlet
        # Sessions with the same key take the same encoded bytes (the fan-out encodes once per key).
        self.key: tuple[str, bool] = (codec.format.value, outlet is not None)
        self.id = uuid.uuid4().hex[:12]
        self.principal: Principal | None = None
        self.state = SessionState.CONNECTING
        self.subs: dict[str, Subscription] = {}
        s = hub.settings
        self._max_messages = s.queue_max_messages
        self._max_bytes = s.queue_max_bytes
        # Made when first needed and dropped when drained: thousands of idle boards hold none.
        self._urgent: deque[Frame | CatchUp] | None = None
        self._normal: deque[Frame | CatchUp] | None = None
        self._queued_bytes = 0  # live frames only
        self._catching_up = 0  # CatchUp frames queued
        self._catch_up_bytes = 0
        self._catch_ups: dict[str, int] | None = None  # CatchUp frames queued per topic
        self._max_catch_up_bytes = s.catch_up_max_bytes
        self._positions: Frame | None = None
        self._positions_behind = False
        self._bucket = TokenBucket(s.commands_per_s, s.commands_burst, time.monotonic())
        # Each subscribe reads a snapshot or a replay from Redis: they have a rate of their own.
        self._subscribes = TokenBucket(s.subscribes_per_s, s.subscribes_burst, time.monotonic())
        self._writer: asyncio.Task[None] | None = None  # only while there is a backlog
        self._closing: asyncio.Task[None] | None = None
        self._text = not codec.binary
        self._expiry: asyncio.TimerHandle | None = None
        self.admitted = False  # counted against the account's session limit

    # ---- outbound: called by the fan-out, never awaits ---------------------

    @property
    def depth(self) -> int:
        return len(self._urgent or ()) + len(self._normal or ())

    def push(self, data: Frame, urgent: bool = False) -> None:
        """Send an encoded frame (see ``encode``): at once if the socket has room, else queued."""
        if self.state is not SessionState.OPEN:
            return
        outlet = self.outlet
        if outlet is not None and self._writer is None and outlet.ready():
            outlet.write(data)  # type: ignore[arg-type]
            return
        self._queue(urgent).append(data)
        self._queued_bytes += len(data)
        if self.depth - self._catching_up > self._max_messages or self._queued_bytes > self._max_bytes:
            self._slow()
            return
        self._kick()

    def push_catch_up(self, topic: str, frame: Any, urgent: bool) -> None:
        """Queue a catch-up frame of ``topic`` (encoded here), outside the live queue's limits.

        A session whose catch-ups pass ``catch_up_max_bytes`` (it asks for more than it reads)
        is closed 4108 (slow consumer) like any slow reader."""
        if self.state is not SessionState.OPEN:
            return
        data = self.encode(frame)
        self._queue(urgent).append(CatchUp(data, topic))
        self._catching_up += 1
        self._catch_up_bytes += len(data)
        if self._catch_ups is None:
            self._catch_ups = {}
        self._catch_ups[topic] = self._catch_ups.get(topic, 0) + 1
        if self._catch_up_bytes > self._max_catch_up_bytes:
            self._slow()
            return
        self._kick()

    def catching_up(self, topic: str) -> bool:
        """Whether a catch-up of ``topic`` is still queued, not yet written."""
        return bool(self._catch_ups and self._catch_ups.get(topic))

    @property
    def backlog_bytes(self) -> int:
        """Bytes queued for this session and not yet written: live frames and catch-ups."""
        return self._queued_bytes + self._catch_up_bytes

    def _sent_catch_up(self, item: CatchUp) -> None:
        self._catching_up -= 1
        self._catch_up_bytes -= len(item.data)
        pending = self._catch_ups
        if pending is not None:
            left = pending.get(item.topic, 1) - 1
            if left > 0:
                pending[item.topic] = left
            else:
                pending.pop(item.topic, None)
                if not pending:
                    self._catch_ups = None

    def push_positions(self, data: Frame) -> None:
        if self.state is not SessionState.OPEN:
            return
        outlet = self.outlet
        if outlet is not None and self._writer is None and not self._positions_behind and outlet.ready():
            outlet.write(data)  # type: ignore[arg-type]
            return
        if self._positions is not None:
            # Still holding the last tick's frame: this client is behind on
            # positions. Drop both and send everyone's latest when it catches up.
            self._positions = None
            self._positions_behind = True
        elif not self._positions_behind:
            self._positions = data
        self._kick()

    def send_frame(self, frame: Any, urgent: bool = False) -> None:
        self.push(self.encode(frame), urgent)

    def encode(self, message: Any) -> Frame:
        """The bytes this session sends for ``message``: a whole frame when it has an outlet."""
        data = self.codec.encode(message)
        if self.outlet is not None:
            return frame(data, not self._text)
        return data.decode() if self._text else data

    def _queue(self, urgent: bool) -> deque[Frame | CatchUp]:
        if urgent:
            if self._urgent is None:
                self._urgent = deque()
            return self._urgent
        if self._normal is None:
            self._normal = deque()
        return self._normal

    def _kick(self) -> None:
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())
            self._writer.add_done_callback(self._writer_done)

    def _slow(self) -> None:
        self.hub.metrics.slow_closes.inc()
        log.warning(
            "slow consumer closed session=%s user=%s queued=%d bytes=%d",
            self.id,
            self.principal.user if self.principal else "-",
            self.depth,
            self.backlog_bytes,
        )
        self.close(CloseReason.SLOW_CONSUMER)

    def close(self, why: CloseReason, text: str | None = None, *, flush: bool = False) -> None:
        """Start closing (idempotent), with ``why``'s code and text (or ``text``: which check
        failed); queued frames are dropped, or with ``flush`` written first (within a bound): the
        answer to the frame that closed the session gets through."""
        if self.state in (SessionState.CLOSING, SessionState.CLOSED):
            return
        self.state = SessionState.CLOSING
        if not flush:
            self._drop_queued()
        reason = why.text if text is None else text
        self._closing = asyncio.get_running_loop().create_task(self._close(why.code, reason, flush))

    def _drop_queued(self) -> None:
        self._urgent = self._normal = None
        self._positions = None
        self._positions_behind = False
        self._queued_bytes = 0
        self._catching_up = 0
        self._catch_up_bytes = 0
        self._catch_ups = None

    async def wait_closed(self, timeout: float) -> None:
        """Wait (bounded) for the close handshake that close() started."""
        if self._closing is not None:
            await _settled(self._closing, timeout)

    async def _close(self, code: int, reason: str, flush: bool = False) -> None:
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
            await _settled(self._writer)
        if flush:
            try:
                await asyncio.wait_for(self._flush(), 2.0)
            except Exception:
                pass  # the peer is not reading: it gets the close code alone
            self._drop_queued()
        # Bounded: a peer that never answers the close handshake must not hold the session.
        # The close frame waits behind what is buffered for a client that stopped reading;
        # one that does not read it within the bound is cut (it resumes when it reconnects).
        try:
            await asyncio.wait_for(self.ws.close(code, reason), 5.0)
        except Exception:
            if self.outlet is not None:
                self.outlet.abort()

    async def _write(self) -> None:
        """Drain the backlog, alarms first, then end (the next backlog starts another)."""
        send = self.ws.send
        key = "text" if self._text else "bytes"
        outlet = self.outlet
        while self.state is SessionState.OPEN:
            urgent, normal = self._urgent, self._normal
            if urgent or normal:
                item = urgent.popleft() if urgent else normal.popleft()  # type: ignore[union-attr]
                if type(item) is CatchUp:
                    data = item.data
                    self._sent_catch_up(item)
                else:
                    data = item  # type: ignore[assignment]
                    self._queued_bytes -= len(data)
            elif self._positions_behind:
                self._positions_behind = False
                data = self.hub.positions_catch_up(self)
            elif self._positions is not None:
                data, self._positions = self._positions, None
            else:
                break
            if outlet is not None:
                if not outlet.open():
                    self._drop_queued()  # the connection is going; the session ends with it
                    break
                outlet.write(data)  # type: ignore[arg-type]
                await outlet.drain()
            else:
                await send({"type": "websocket.send", key: data})
        self._urgent = self._normal = None
        self._writer = None  # before returning: a push from now on starts a new writer

    async def _flush(self) -> None:
        """Write what is queued (alarms first), for a session that is closing."""
        key = "text" if self._text else "bytes"
        for queue in (self._urgent, self._normal):
            while queue:
                item = queue.popleft()
                data = item.data if type(item) is CatchUp else item
                if self.outlet is not None:
                    if not self.outlet.open():
                        return
                    self.outlet.write(data)  # type: ignore[arg-type]
                    await self.outlet.drain()
                else:
                    await self.ws.send({"type": "websocket.send", key: data})

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self.state is not SessionState.OPEN:
            return
        exc = task.exception()
        if exc is None:
            return
        if not isinstance(exc, WebSocketDisconnect | OSError | ConnectionClosed):
            log.error("writer failed session=%s: %r", self.id, exc)
        # The socket is gone or broken: stop taking frames for it.
        self.close(CloseReason.WRITER_STOPPED)

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) until what is queued has been written."""
        deadline = time.monotonic() + timeout
        while self.state is SessionState.OPEN and self._writer is not None:
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.02)

    # ---- inbound -----------------------------------------------------------

    def _token_from_handshake(self) -> str | None:
        auth = self.ws.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return self.ws.cookies.get(COOKIE_NAME)

    async def _receive_frame(self) -> Frame | None:
        """The next data frame; None when the peer has gone."""
        msg = await self.ws.receive()
        if msg["type"] == "websocket.disconnect":
            return None
        text, data = msg.get("text"), msg.get("bytes")
        if self._text and text is None:
            self.close(CloseReason.BINARY_ON_JSON)
            return None
        if not self._text and data is None:
            self.close(CloseReason.TEXT_ON_MSGPACK)
            return None
        return text if text is not None else data  # type: ignore[no-any-return]

    async def _authenticate(self) -> Principal | None:
        secret = self.hub.settings.secret
        token = self._token_from_handshake()
        if token is not None:
            try:
                return verify_token(secret, token)
            except AuthError as exc:
                self.close(CloseReason.TOKEN_REFUSED, str(exc)[:120])
                return None
        return await self._hello(secret)

    async def _hello(self, secret: str) -> Principal | None:
        """Wait (bounded) for a hello frame with a token."""
        bad = 0
        try:
            async with asyncio.timeout(self.hub.settings.hello_timeout_s):
                while True:
                    raw = await self._receive_frame()
                    if raw is None:
                        return None
                    try:
                        frame = self.codec.decode_client(raw)
                    except FrameError as exc:
                        bad = self._invalid(raw, exc, bad)
                        if bad < 0:
                            return None
                        continue
                    if isinstance(frame, Hello):
                        try:
                            return verify_token(secret, frame.token)
                        except AuthError as exc:
                            self.close(CloseReason.TOKEN_REFUSED, str(exc)[:120])
                            return None
                    self.send_frame(Error(ErrorCode.UNAUTHENTICATED, "send hello with a token first", _ref(frame)))
        except TimeoutError:
            self.close(CloseReason.NO_HELLO)
            return None

    async def run(self) -> None:
        """Serve the session until the peer leaves or the hub closes it."""
        self.state = SessionState.OPEN
        try:
            who = await self._authenticate()
            if who is None:
                return
            why = (
                await self.hub.tokens.why_not(who) if who.scope is Scope.FULL else "this sign-in is only for enrolling"
            )
            if why is not None:
                self.close(refused(why), why)
                return
            self.principal = who
            prove(self.ws.scope)  # signed in: no longer counted as an anonymous connection
            self._forget_handshake()
            if not self.hub.admit(who.user):
                self.close(CloseReason.TOO_MANY_SESSIONS)
                return
            self.admitted = True
            if who.expires_at is not None:
                # The session ends with its token: sign in again for a new one.
                delay = max(0.0, who.expires_at - time.time())
                self._expiry = asyncio.get_running_loop().call_later(delay, self.close, CloseReason.TOKEN_EXPIRED)
            self.send_frame(
                Welcome(
                    session=self.id,
                    user=who.user,
                    role=who.role.value,
                    unit=who.unit,
                    server_time=int(time.time() * 1000),
                    heartbeat_s=self.hub.settings.heartbeat_s,
                    topics=self.hub.readable_topics(who),
                )
            )
            await self._command_loop(who)
        except WebSocketDisconnect:
            pass
        finally:
            if self._expiry is not None:
                self._expiry.cancel()
            self.hub.forget(self)
            if self.state is SessionState.OPEN:
                self.state = SessionState.CLOSED
            if self._writer is not None:
                self._writer.cancel()
                await _settled(self._writer)
            if self._closing is not None:
                await _settled(self._closing)
            self.state = SessionState.CLOSED

    def _invalid(self, raw: Frame, exc: FrameError, undecodable: int) -> int:
        """Answer a frame that did not decode (invalid_frame, with its id when it has one; or
        rate_limited, as it takes from the command rate too). -> the undecodable frames in a row
        now, or -1 when there were too many and the session is closing 1007 (after the answer)."""
        ref = self.codec.ref_of(raw)
        wait = self._bucket.take(time.monotonic())
        if wait:
            self.send_frame(Error(ErrorCode.RATE_LIMITED, f"too many commands; retry in {wait:.2f}s", ref))
        else:
            self.send_frame(Error(ErrorCode.INVALID_FRAME, str(exc), ref))
        run = undecodable + 1 if isinstance(exc, UndecodableFrame) else 0
        if run > _MAX_BAD_FRAMES:
            self.close(CloseReason.UNDECODABLE_FRAMES, flush=True)
            return -1
        return run

    def _forget_handshake(self) -> None:
        """Let go of the handshake's headers and cookies: read only to authenticate, and
        a few KiB on each of thousands of idle connections."""
        self.ws.scope["headers"].clear()  # in place: the host check up the stack holds the same list
        for cached in ("_headers", "_cookies"):
            self.ws.__dict__.pop(cached, None)

    async def _command_loop(self, who: Principal) -> None:
        bad = 0
        raw: Frame | None
        frame: ClientFrame | None = None
        while self.state is SessionState.OPEN:
            raw = frame = None  # hold nothing of the last command while waiting for the next
            raw = await self._receive_frame()
            if raw is None:
                return
            try:
                frame = self.codec.decode_client(raw)
            except FrameError as exc:
                bad = self._invalid(raw, exc, bad)
                if bad < 0:
                    return
                continue
            bad = 0
            wait = self._bucket.take(time.monotonic())
            if wait:
                self.send_frame(Error(ErrorCode.RATE_LIMITED, f"too many commands; retry in {wait:.2f}s", _ref(frame)))
                continue
            if isinstance(frame, Ping):
                self.send_frame(Pong(server_time=int(time.time() * 1000), ref=frame.id))
            elif isinstance(frame, Hello):
                self.send_frame(Error(ErrorCode.INVALID_FRAME, "already authenticated", frame.id))
            elif isinstance(frame, Subscribe):
                wait = self._subscribes.take(time.monotonic())
                if wait:
                    self.send_frame(
                        Error(ErrorCode.RATE_LIMITED, f"too many subscribes; retry in {wait:.1f}s", frame.id)
                    )
                    continue
                await self.hub.subscribe(self, frame)
            elif isinstance(frame, Unsubscribe):
                unknown = self.hub.unsubscribe(self, frame.topics)
                if unknown:
                    self.send_frame(Error(ErrorCode.UNKNOWN_TOPIC, f"no topic {unknown[0]!r}", frame.id))
                else:
                    self.send_frame(Ack(ref=frame.id))
            elif isinstance(frame, COMMANDS):
                self.send_frame(await self.hub.command(who, frame))


def _ref(frame: Any) -> str | None:
    ref = getattr(frame, "id", None)
    return ref if isinstance(ref, str) else None


async def _settled(task: asyncio.Task[Any], timeout: float | None = None) -> None:
    """Wait (bounded, if ``timeout``) for a task this session ended or started, without taking
    on its outcome: its cancellation or error stays its own (an error is logged where it is
    raised), while a cancellation of the waiting task itself still goes through."""
    await asyncio.wait({task}, timeout=timeout)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: asyncio would otherwise report it as never retrieved
