"""The field side of a shift: officers reporting positions, a panic button, a call-taker.

Each connection sends commands paced by the clock and reads the acks in its
own task, so a slow hub shows as acks that come late (``ack_ms``) and as a
rate achieved below the rate asked, never as a generator that slowed down.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections.abc import Callable
from typing import Any

import uvloop
from websockets import Subprotocol
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from loadtest.clients import radio_text
from loadtest.hubproc import raise_fd_limit
from loadtest.workers import open_in_waves
from protocol.codec import WireFormat, codec_for
from protocol.messages import Ack, Error

__all__ = ["Commander", "calls_process", "officers_process", "open_commander", "panic_process", "unit_name"]

WIRE = "dispatch.v1.msgpack"
_codec = codec_for(WireFormat(WIRE))
# Around downtown Edmonton, inside the service area.
_LAT, _LON = 53.5461, -113.4938


class Commander:
    """One hub connection that sends commands and times their acks."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.sent = 0
        self.acked = 0
        self.errors: dict[str, int] = {}
        self.ack_ms: list[float] = []
        self._at: dict[str, float] = {}
        self._prefix = secrets.token_hex(4)
        self._n = 0
        self._reader = asyncio.create_task(self._acks())

    async def send(self, cmd: dict[str, Any]) -> None:
        self.sent += 1
        self._n += 1
        # Every simulated client signs in as one account, and the hub answers a command id it has
        # seen from that account as a duplicate: ids are unique across connections.
        cmd["id"] = f"{self._prefix}-{self._n}"
        self._at[cmd["id"]] = time.perf_counter()
        await self.ws.send(_codec.encode(cmd))

    async def _acks(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                frame = _codec.decode_server(raw)
                if isinstance(frame, Ack | Error) and frame.ref in self._at:
                    began = self._at.pop(frame.ref)
                    if isinstance(frame, Ack):
                        self.acked += 1
                        self.ack_ms.append((time.perf_counter() - began) * 1000)
                    else:
                        self.errors[frame.code] = self.errors.get(frame.code, 0) + 1

    async def _answered(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._at and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait for every answer, then forget what was counted (commands made before the run)."""
        await self._answered(timeout)
        self.sent, self.acked, self.errors, self.ack_ms = 0, 0, {}, []

    async def finish(self, timeout: float = 20.0) -> None:
        await self._answered(timeout)
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader

    def report(self, keep: int = 2000) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "acked": self.acked,
            "errors": self.errors,
            "ack_ms": self.ack_ms[:: max(1, len(self.ack_ms) // keep)],
        }


async def open_commander(url: str, token: str) -> Commander:
    ws = await connect(
        url,
        subprotocols=[Subprotocol(WIRE)],
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
        max_size=None,
        open_timeout=60,
        ping_interval=None,
    )
    await ws.recv()  # welcome
    return Commander(ws)


def _merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    errors: dict[str, int] = {}
    for r in reports:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    return {
        "sent": sum(r["sent"] for r in reports),
        "acked": sum(r["acked"] for r in reports),
        "errors": errors,
        "ack_ms": [x for r in reports for x in r["ack_ms"]],
    }


def officers_process(
    url: str, token: str, first: int, count: int, rate: float, start_v: Any, stop_at: Any, out: Any
) -> None:
    """``count`` officers (units L<first>...), each reporting its position ``rate`` times a second
    from the shared start time ``start_v`` (set by the parent once everyone is connected)."""
    raise_fd_limit()

    async def main() -> dict[str, Any]:
        officers, took = await open_in_waves(lambda: open_commander(url, token), count)
        # On the roster first, as on a real shift: the panic button's cover search then has a
        # fleet to rank (the roster commands are not counted in the report).
        for i, officer in enumerate(officers):
            await officer.send({"type": "unit.roster", "unit": unit_name(first + i)})
        await asyncio.gather(*(o.settle() for o in officers))
        out.put({"kind": "ready", "n": count, "connect_s": took})
        while start_v.value > time.time() + 600:
            await asyncio.sleep(0.05)
        start_at = start_v.value

        async def report(i: int, officer: Commander) -> None:
            unit = unit_name(first + i)
            lat, lon = _LAT + random.uniform(-0.05, 0.05), _LON + random.uniform(-0.08, 0.08)
            period = 1.0 / rate
            due = start_at + random.uniform(0, period)  # spread over the first period
            while due < stop_at.value:
                await asyncio.sleep(max(0.0, due - time.time()))
                lat += random.uniform(-0.0003, 0.0003)
                lon += random.uniform(-0.0003, 0.0003)
                await officer.send({"type": "unit.position", "unit": unit, "lat": lat, "lon": lon, "speed": 12.0})
                due += period

        await asyncio.gather(*(report(i, o) for i, o in enumerate(officers)))
        await asyncio.gather(*(o.finish() for o in officers))
        return {"kind": "officers", **_merge([o.report() for o in officers])}

    out.put(uvloop.run(main()))


def _paced(
    url: str,
    token: str,
    rate: float,
    start_at: float,
    stop_at: float,
    kind: str,
    out: Any,
    command: Callable[[int], dict[str, Any]],
) -> None:
    """One connection sending ``command(n)`` ``rate`` times a second from ``start_at`` to ``stop_at``."""

    async def main() -> dict[str, Any]:
        sender = await open_commander(url, token)
        out.put({"kind": "ready", "n": 1, "connect_s": 0.0})
        n = 0
        while time.time() < stop_at:
            await asyncio.sleep(max(0.0, start_at + n / rate - time.time()))
            n += 1
            await sender.send(command(n))
        await sender.finish()
        return {"kind": kind, **sender.report()}

    out.put(uvloop.run(main()))


def unit_name(n: int) -> str:
    return f"L{n:05d}"


def panic_process(url: str, token: str, officers: int, rate: float, start_at: float, stop_at: float, out: Any) -> None:
    """Panic buttons pressed ``rate`` times a second, each by another of the reporting officers' units
    (so each alarm carries a position and gets cover); the reason carries the press time."""

    def press(n: int) -> dict[str, Any]:
        at = int(time.time() * 1000)
        return {"type": "unit.panic", "unit": unit_name((n * 7919) % officers), "reason": f"{at:013d} load"}

    _paced(url, token, rate, start_at, stop_at, "panics", out, press)


def _call(n: int) -> dict[str, Any]:
    lat, lon = _LAT + random.uniform(-0.05, 0.05), _LON + random.uniform(-0.08, 0.08)
    return {
        "type": "incident.create",
        "call_type": "NOISE",
        "location": {"lat": lat, "lon": lon, "address": f"{n} load test avenue"},
        "narrative": radio_text(int(time.time() * 1000)),
    }


def calls_process(url: str, token: str, rate: float, start_at: float, stop_at: float, out: Any) -> None:
    """A call-taker creating incidents ``rate`` times a second."""
    _paced(url, token, rate, start_at, stop_at, "calls", out, _call)
