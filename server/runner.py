"""``dispatch serve``: the embedded Valkey (if needed), then uvicorn.

Shutdown goes in steps: stop accepting, drain each session's queue (bounded),
close sessions with 1001, then uvicorn's own shutdown and the app lifespan;
last, the embedded Valkey is stopped so it flushes its append-only file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess, multiprocess

from protocol.limits import MAX_FRAME_BYTES
from server.access.roles import Principal, Role
from server.access.tokens import issue_token
from server.bus.valkey import EmbeddedValkey, _die_with_parent
from server.config import PRIVATE_UMASK, Settings
from server.logs import configure_logging, log_config
from server.realtime.reception import HubHttpProtocol
from server.realtime.wire import HubWebSocketProtocol

__all__ = ["HubServer", "serve", "uvicorn_config"]

log = logging.getLogger("dispatch.runner")


def _find_starlette(app: Any) -> Starlette | None:
    for _ in range(10):
        if isinstance(app, Starlette):
            return app
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


class HubServer(uvicorn.Server):
    """uvicorn's server, with the hub's own drain before connections are cut.

    ``freeze_heap``: once started, collect and then freeze what is left (modules,
    classes, functions, the app: tens of thousands of objects that live as long as
    the process) out of the collector's reach. A full collection then walks only
    what came later, so its pause, which holds up every alarm, is about half as
    long at 1,000 connections. For the hub's own process, not one shared with others.
    """

    freeze_heap = False

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.freeze_heap and not self.should_exit:
            gc.collect()
            gc.freeze()
            log.debug("%d objects from start-up frozen out of the collector's reach", gc.get_freeze_count())

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        app = _find_starlette(self.config.loaded_app)
        ctx = getattr(app.state, "ctx", None) if app is not None else None
        if ctx is not None:
            await ctx.hub.shutdown()
        await super().shutdown(sockets)


class _HubProcess(multiprocess.Process):
    """A uvicorn worker process that runs HubServer instead of the plain Server."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = HubServer(config=self.config)
            self._server.freeze_heap = True
        return self._server


def uvicorn_config(
    settings: Settings, app: Any = "server.app:create_app", *, configure_logs: bool = True
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        # httptools (the C parser: the intake doors take HTTP traffic beside dispatch), with
        # admission caps, a head deadline and bounded heads (server/realtime/reception.py).
        http=HubHttpProtocol,
        timeout_keep_alive=settings.keepalive_s,  # type: ignore[arg-type]  # a float works as well
        # X-Forwarded-For and -Proto only from the proxies named; none by default.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        # uvicorn's sans-I/O websockets protocol, extended to let sessions write whole frames
        # straight to the socket, watching its write buffer themselves (server/realtime/wire.py).
        ws=HubWebSocketProtocol,
        ws_max_size=MAX_FRAME_BYTES,
        ws_per_message_deflate=False,
        ws_ping_interval=settings.heartbeat_s,
        ws_ping_timeout=settings.heartbeat_s,
        lifespan="on",
        log_config=log_config(settings.log_level) if configure_logs else None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.drain_s + 5),
        server_header=False,
    )


def _exit_on_term(signum: int, frame: Any) -> None:
    # uvicorn re-raises the signal it caught once it has shut down; with the
    # default SIGTERM action that would kill us before the embedded Valkey is
    # stopped below. Exiting normally lets the finally clause run.
    raise SystemExit(0)


# The demo shift's units: two per district (see clients/demo.py for their districts and equipment).
DEMO_UNITS = [f"PO{district}{n}" for district in range(1, 6) for n in (1, 2)]
# The unit a person drives from the officer app in the demo (rostered, not simulated).
DEMO_HUMAN_UNIT = "PO60"


def _demo_accounts(settings: Settings) -> dict[str, str]:
    """Sign-in accounts for a person trying the demo: a dispatcher and an officer on PO60.
    New passwords at every start, shown on the terminal and kept in DATA_DIR/demo-accounts.txt."""
    from server.records.store import RecordsStore

    passwords = {"dispatcher": secrets.token_urlsafe(9), "officer": secrets.token_urlsafe(9)}

    async def write() -> None:
        store = RecordsStore(settings.records_target, sqlite_synchronous=settings.sqlite_synchronous)
        await store.open()
        try:
            await store.set_user("dispatcher", Role.DISPATCHER, passwords["dispatcher"])
            await store.set_user("officer", Role.OFFICER, passwords["officer"], DEMO_HUMAN_UNIT)
        finally:
            await store.close()

    asyncio.run(write())
    path = settings.data_dir / "demo-accounts.txt"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.writelines(f"{name} {password}\n" for name, password in passwords.items())
    return passwords


async def _with_keys(settings: Settings) -> Settings:
    """The settings with the shared keys, read (or made) in the records store once, so that every
    worker process (and the demo) signs with the same key: the workers get it in the environment."""
    from server.records.keys import with_shared_keys
    from server.records.store import RecordsStore

    store = RecordsStore(settings.records_target, sqlite_synchronous=settings.sqlite_synchronous)
    await store.open()
    try:
        return await with_shared_keys(settings, store)
    finally:
        await store.close()


def _write_demo_tokens(settings: Settings) -> Path:
    """Tokens for the demo's dispatcher and officers, in a file only this user can read."""
    ttl = 7 * 24 * 3600
    tokens = {
        "dispatcher": issue_token(settings.secret, Principal("demo-dispatcher", Role.DISPATCHER), ttl),
        "officers": {u: issue_token(settings.secret, Principal(f"demo-{u}", Role.OFFICER, u), ttl) for u in DEMO_UNITS},
    }
    path = settings.data_dir / "demo-tokens.json"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(tokens, fh)
    return path


def _wait_serving(settings: Settings, stop: threading.Event, healthy: bool = False) -> None:
    """Until the hub answers HTTP (``healthy``: with 200), or ``stop``."""
    url = f"http://{settings.host}:{settings.port}/healthz"
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200 or not healthy:
                    return
        except urllib.error.HTTPError:
            if not healthy:
                return
        except OSError:
            pass
        stop.wait(0.2)


def _start_demo(settings: Settings, stop: threading.Event, children: list[subprocess.Popen[bytes]]) -> None:
    """Once the hub answers healthy, run the demo shift as a child process."""
    _wait_serving(settings, stop, healthy=True)
    if stop.is_set():
        return
    tokens = _write_demo_tokens(settings)
    cmd = [
        sys.executable,
        "-m",
        "clients.demo",
        "--url",
        f"ws://{settings.host}:{settings.port}/ws",
        "--tokens",
        str(tokens),
    ]
    # The death signal follows the thread that forks, so this thread lives as long as the demo.
    child = subprocess.Popen(cmd, preexec_fn=_die_with_parent)  # noqa: PLW1509
    children.append(child)
    log.info("demo shift running: %d units, calls arriving", len(DEMO_UNITS))
    stop.wait()


def _intake_worker() -> subprocess.Popen[bytes]:
    """One intake worker (``python -m server.intake``), in a session of its own; it sets its own
    death signal (server.intake.__main__), so it stops when the hub dies, even by SIGKILL."""
    env = {**os.environ, "DISPATCH_PARENT_PID": str(os.getpid())}
    return subprocess.Popen([sys.executable, "-m", "server.intake"], start_new_session=True, env=env)


def _supervise_intake(
    workers: list[subprocess.Popen[bytes]], stop: threading.Event, children: list[subprocess.Popen[bytes]]
) -> None:
    """Restart any intake worker that dies (its entries are taken over by the next one).

    The workers are started from the main thread before the event loop runs; this thread
    only forks again after a worker died."""
    while not stop.wait(1.0):
        for i, child in enumerate(workers):
            if child.poll() is not None and not stop.is_set():
                log.error("intake worker %d exited (%s); starting another", child.pid, child.returncode)
                workers[i] = _intake_worker()
                children.append(workers[i])


def _raise_file_limit() -> None:
    """Take the hard file limit as the soft one: each client connection is a descriptor, and
    the connection caps (server/realtime/admission.py) are set below this limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            log.warning("file limit stays at %d (could not raise it to %d: %s)", soft, hard, exc)


def serve(settings: Settings, demo: bool = False) -> None:
    os.umask(PRIVATE_UMASK)  # its children (Valkey, the intake workers) too
    configure_logging(settings.log_level)
    _raise_file_limit()
    signal.signal(signal.SIGTERM, _exit_on_term)
    settings = asyncio.run(_with_keys(settings.resolved()))
    valkey: EmbeddedValkey | None = None
    if not settings.redis_url:
        valkey = EmbeddedValkey(settings.data_dir, fsync=settings.valkey_fsync)
        valkey.start()
        settings = dataclasses.replace(settings, redis_url=valkey.url)
    # Workers build their settings from the environment.
    os.environ.update(settings.to_env())
    demo_stop = threading.Event()
    demo_children: list[subprocess.Popen[bytes]] = []
    if settings.intake_workers > 0:
        # They run niced, so intake only takes the CPU that dispatch leaves over.
        intake = [_intake_worker() for _ in range(settings.intake_workers)]
        demo_children.extend(intake)
        threading.Thread(target=_supervise_intake, args=(intake, demo_stop, demo_children), daemon=True).start()
    if demo:
        accounts = _demo_accounts(settings)
        base = f"http://{settings.host}:{settings.port}/"
        print(
            f"\n  Demo shift: open {base} and sign in as\n"
            f"    dispatcher / {accounts['dispatcher']}   (the dispatcher board)\n"
            f"    officer    / {accounts['officer']}   (the officer app, unit {DEMO_HUMAN_UNIT}; phone-sized)\n"
            f"  (also in {settings.data_dir / 'demo-accounts.txt'})\n",
            file=sys.stderr,
            flush=True,
        )
        threading.Thread(target=_start_demo, args=(settings, demo_stop, demo_children), daemon=True).start()
    try:
        config = uvicorn_config(settings)
        server = HubServer(config)
        server.freeze_heap = True
        log.info(
            "serving on http://%s:%s (workers=%s, redis=%s, data=%s)",
            settings.host,
            settings.port,
            settings.workers,
            settings.redis_url,
            settings.data_dir,
        )
        if settings.workers > 1:
            sock = config.bind_socket()
            # Multiprocess builds its workers from this module-level name, in
            # this (parent) process; the workers unpickle _HubProcess by reference.
            multiprocess.Process = _HubProcess  # type: ignore[misc]
            Multiprocess(config, sockets=[sock]).run()
        else:
            server.run()
            if not server.started:  # the app refused to start (its reason is in the log above)
                raise SystemExit(3)
    finally:
        demo_stop.set()
        for child in demo_children:
            child.terminate()
        for child in demo_children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if valkey is not None:
            valkey.stop()
            log.info("embedded valkey stopped")
