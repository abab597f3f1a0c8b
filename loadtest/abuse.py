"""abuse: the panic scenario while one address attacks the hub, in alternating windows.

In every other window, one process on its own loopback address (127.0.0.2)
floods the hub the ways the security review found it could be stopped:

- **big heads**: requests with a header of up to 8 MB, sent as fast as the hub reads;
- **big bodies**: chunked sign-in bodies of up to 64 MB;
- **idle sockets**: connections that send nothing, opened at a steady rate and kept open;
- **slow heads**: request heads sent a byte a second;
- **subscribe storms**: a signed-in officer that reads nothing and sends subscribe frames.

Each attack is paced (the attacker shares this machine's two cores with the
hub and every client: unpaced, it would measure the machine rather than the
hub). Meanwhile the panic scenario runs throughout; a dispatcher signs in
and opens a board every 6.5 seconds (within its own address's sign-in limit); and the hub's memory is read ten times
a second. The report puts panic latency without and with the flood side by
side (the ratio of their p99), the hub's memory in each, and whether the
dispatcher got in.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import threading
import time
from typing import Any

import uvloop
from websockets.asyncio.client import connect

from loadtest.hubproc import raise_fd_limit
from loadtest.report import latency
from loadtest.shift import run_panic

__all__ = ["Attacks", "abuse", "abuser_process", "dispatcher_process"]

ATTACKER = "127.0.0.2"


def _flooding(windows: list[tuple[float, float]]) -> bool:
    now = time.time()
    return any(a <= now < b for a, b in windows)


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0), limit=1 << 16), 5
    )


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.transport.abort()


class Attacks:
    """What each attack did: connections opened, refused or cut, bytes the hub took."""

    def __init__(self, port: int, windows: list[tuple[float, float]], officer_token: str) -> None:
        self.port = port
        self.windows = windows
        self.officer_token = officer_token
        self.counts: dict[str, dict[str, int]] = {}

    def count(self, attack: str, what: str, n: int = 1) -> None:
        slot = self.counts.setdefault(attack, {})
        slot[what] = slot.get(what, 0) + n

    async def _window(self) -> bool:
        """Wait for a flood window; False once the last one is over."""
        while not _flooding(self.windows):
            if time.time() >= self.windows[-1][1]:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _oversized(self, attack: str, per_s: float, head: bytes, chunk: bytes, chunks: int) -> None:
        """Open a request, send its head, then ``chunks`` chunks for as long as the hub keeps reading."""
        while await self._window():
            await asyncio.sleep(1 / per_s)
            sent = 0
            try:
                _, w = await _open(self.port)
            except OSError:
                self.count(attack, "refused")
                await asyncio.sleep(0.1)
                continue
            self.count(attack, "opened")
            try:
                w.write(head)
                for _ in range(chunks):
                    w.write(chunk)
                    await w.drain()
                    sent += len(chunk)
                self.count(attack, "sent_whole")
            except OSError:
                self.count(attack, "cut")
            finally:
                self.count(attack, "bytes_written", sent)  # into this side's socket buffers, mostly
                _close(w)

    async def big_head(self, per_s: float) -> None:
        """A request with an 8 MB header."""
        head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
        await self._oversized("big_heads", per_s, head, b"a" * 65536, 128)

    async def big_body(self, per_s: float) -> None:
        """A chunked sign-in body of 64 MB."""
        head = (
            b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        await self._oversized("big_bodies", per_s, head, b"10000\r\n" + b"a" * 65536 + b"\r\n", 1024)

    async def idle(self, per_s: float, most: int) -> None:
        """Sockets that send nothing, opened at ``per_s`` and kept (the hub's side of it is in the
        report's hub_sockets: what it holds is what the caps let it hold)."""
        held: list[asyncio.StreamWriter] = []
        while await self._window():
            if len(held) < most:
                try:
                    _, w = await _open(self.port)
                    held.append(w)
                    self.count("idle_sockets", "opened")
                except OSError:
                    self.count("idle_sockets", "refused")
            await asyncio.sleep(1 / per_s)
        for w in held:
            _close(w)

    async def slow_head(self) -> None:
        line = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
        while await self._window():
            try:
                reader, w = await _open(self.port)
            except OSError:
                self.count("slow_heads", "refused")
                await asyncio.sleep(1)
                continue
            self.count("slow_heads", "opened")
            began = time.monotonic()
            try:
                for i in range(len(line)):
                    if not _flooding(self.windows):
                        self.count("slow_heads", "still_open_when_the_window_ended")
                        break
                    w.write(line[i : i + 1])
                    await w.drain()
                    await asyncio.sleep(1.0)
                    if reader.at_eof() or w.transport.is_closing():
                        raise ConnectionResetError
            except OSError:
                self.count("slow_heads", "cut_by_the_hub")
                self.count("slow_heads", "held_ms_in_all", int((time.monotonic() - began) * 1000))
            finally:
                _close(w)

    async def subscribe_storm(self, per_s: float) -> None:
        """A signed-in officer that reads nothing and keeps subscribing (a tiny receive buffer)."""
        import socket

        frame = json.dumps({"type": "subscribe", "id": "s", "topics": [{"topic": "units"}, {"topic": "alarms"}]})
        while await self._window():
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.bind((ATTACKER, 0))
            sock.setblocking(False)
            try:
                await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port)), 5)
                ws = await connect(
                    f"ws://127.0.0.1:{self.port}/ws",
                    sock=sock,
                    additional_headers={"Authorization": f"Bearer {self.officer_token}"},
                    max_queue=1,
                    compression=None,
                    ping_interval=None,
                    open_timeout=5,
                )
            except (OSError, TimeoutError, Exception):
                self.count("subscribe_storms", "refused")
                sock.close()
                await asyncio.sleep(0.5)
                continue
            self.count("subscribe_storms", "opened")
            try:
                while _flooding(self.windows):
                    await asyncio.wait_for(ws.send(frame), 5)
                    self.count("subscribe_storms", "frames")
                    await asyncio.sleep(1 / per_s)
            except Exception:
                self.count("subscribe_storms", "closed_by_hub")
            finally:
                ws.transport.abort()


def abuser_process(port: int, officer_token: str, windows: list[tuple[float, float]], out: Any) -> None:
    """One address's attacks, in the flood windows only."""
    raise_fd_limit()

    async def main() -> dict[str, Any]:
        attacks = Attacks(port, windows, officer_token)
        await asyncio.gather(
            attacks.big_head(per_s=25),
            attacks.big_head(per_s=25),
            attacks.big_body(per_s=25),
            attacks.big_body(per_s=25),
            attacks.idle(per_s=200, most=2000),
            *(attacks.slow_head() for _ in range(50)),
            attacks.subscribe_storm(per_s=20),
        )
        return {"kind": "abuse", "attacks": attacks.counts}

    out.put(uvloop.run(main()))


def _post_json(req: Any) -> Any:
    import urllib.request

    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def dispatcher_process(port: int, user: str, password: str, every_s: float, stop_at: float, out: Any) -> None:
    """A dispatcher who signs in and opens a board every ``every_s``: did it work, and how long it took."""
    import urllib.error
    import urllib.request

    async def main() -> dict[str, Any]:
        tries: list[dict[str, Any]] = []
        while time.time() < stop_at:
            began = time.time()
            ok, why = False, ""
            try:
                body = json.dumps({"user": user, "password": password}).encode()
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/login", body, {"Content-Type": "application/json"}
                )
                signed = await asyncio.to_thread(_post_json, req)
                async with connect(
                    f"ws://127.0.0.1:{port}/ws",
                    additional_headers={"Authorization": f"Bearer {signed['token']}"},
                    open_timeout=10,
                ) as ws:
                    ok = json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "welcome"
            except (urllib.error.URLError, OSError, TimeoutError, Exception) as exc:
                why = f"{type(exc).__name__}: {exc}"[:120]
            tries.append({"at": began, "ok": ok, "ms": round((time.time() - began) * 1000, 1), "why": why})
            await asyncio.sleep(max(0.0, began + every_s - time.time()))
        return {"kind": "dispatcher", "tries": tries}

    out.put(uvloop.run(main()))


def abuse(args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    samples: list[tuple[float, int, int]] = []  # when, hub RSS (KiB), hub descriptors
    extra: dict[str, Any] = {}

    def side(hub: Any, q: Any, start_at: float, end_at: float) -> list[Any]:
        """The attacker, the dispatcher and a memory watch, started with the panic run."""
        block = (end_at - start_at - args.warmup) / (2 * args.cycles)
        first = start_at + args.warmup
        windows = [(first + (2 * c + 1) * block, first + (2 * c + 2) * block) for c in range(args.cycles)]
        extra["windows"] = windows
        officer = hub.token("abuser", "officer", "AB001")
        hub.token("desk", "dispatcher")  # an account to sign in with: password "loadtest"
        procs = [
            ctx.Process(daemon=True, target=abuser_process, args=(hub.port, officer, windows, q)),
            # every 6.5 s: within the sign-in limit of its own address (10, then one every 6 s)
            ctx.Process(daemon=True, target=dispatcher_process, args=(hub.port, "desk", "loadtest", 6.5, end_at, q)),
        ]
        for p in procs:
            p.start()

        def watch() -> None:
            while time.time() < end_at + 1:
                with contextlib.suppress(OSError):
                    samples.append((time.time(), hub.rss_kib(), len(os.listdir(f"/proc/{hub.proc.pid}/fd"))))
                time.sleep(0.1)

        threading.Thread(target=watch, daemon=True).start()
        return procs

    result = run_panic(args, side, reports=("abuse", "dispatcher"))
    windows = extra["windows"]
    pressed = result.pop("_pressed")
    per_alarm = result.pop("_per_alarm")
    with_flood = [ms for alarm, ms in per_alarm if any(a <= pressed[alarm] / 1000 < b for a, b in windows)]
    without = [ms for alarm, ms in per_alarm if not any(a <= pressed[alarm] / 1000 < b for a, b in windows)]
    during = [(kib, fds) for at, kib, fds in samples if any(a <= at < b for a, b in windows)]
    before = [(kib, fds) for at, kib, fds in samples if at < windows[0][0]]  # all connected, no flood yet
    tries = result.pop("_dispatcher")["tries"]
    flood_tries = [t for t in tries if any(a <= t["at"] < b for a, b in windows)]
    quiet, loud = latency(without), latency(with_flood)
    result.update(
        scenario="abuse",
        flood_windows=[[round(a - windows[0][0], 1), round(b - windows[0][0], 1)] for a, b in windows],
        panic_without_flood_ms=quiet,
        panic_with_flood_ms=loud,
        p99_ratio=round(loud["p99"] / quiet["p99"], 2) if quiet.get("p99") and loud.get("p99") else None,
        hub_rss_mib={
            "before_flood_max": round(max((k for k, _ in before), default=0) / 1024, 1),
            "with_flood_max": round(max((k for k, _ in during), default=0) / 1024, 1),
        },
        hub_descriptors={
            "before_flood_max": max((f for _, f in before), default=0),
            "with_flood_max": max((f for _, f in during), default=0),
        },
        dispatcher_during_flood={
            "tries": len(flood_tries),
            "signed_in_and_connected": sum(t["ok"] for t in flood_tries),
            "ms": latency([t["ms"] for t in flood_tries if t["ok"]]),
            "failures": sorted({t["why"] for t in flood_tries if not t["ok"]})[:5],
        },
        attacks=result.pop("_abuse")["attacks"],
    )
    return result
