"""Shared test helpers: timeouts scaled from one unit, hubs in-process and as processes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from server.access.roles import Principal, Role
from server.access.tokens import issue_token
from server.app import HubContext, create_app
from server.config import Settings
from server.runner import uvicorn_config

# The operator token of test hubs: /metrics and /healthz in full (server/http/operations.py).
OPERATOR_TOKEN = "test-operator-token-0123456789"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}

# Every timeout in the tests is a multiple of this; DISPATCH_TEST_SLOW=3 on a slow machine.
S = float(os.environ.get("DISPATCH_TEST_SLOW", "1"))
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Poll until predicate() is truthy (it may be async); return its value."""
    deadline = time.monotonic() + timeout * S
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout * S:.1f}s")
        await asyncio.sleep(interval)


def poll_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    """The blocking twin of wait_for, for sync tests and helpers: poll until predicate() is truthy."""
    deadline = time.monotonic() + timeout * S
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout * S:.1f}s")
        time.sleep(0.02)


def rss_mb(pid: int) -> float:
    """A process's resident memory, in MiB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def open_fds(pid: int) -> int:
    """How many file descriptors a process holds (from /proc)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def healthy(http: str) -> dict[str, Any] | None:
    """The /healthz body when the hub answers 200, else None."""
    with contextlib.suppress(httpx.HTTPError):
        r = httpx.get(http + "/healthz", timeout=1, headers=OPERATOR)
        if r.status_code == 200:
            body: dict[str, Any] = r.json()
            return body
    return None


@dataclasses.dataclass
class RunningHub:
    settings: Settings
    url: str
    http: str
    server: uvicorn.Server | None = None

    @property
    def ctx(self) -> HubContext:
        assert self.server is not None
        app: Any = self.server.config.loaded_app
        while not hasattr(app, "state"):
            app = app.app
        ctx: HubContext = app.state.ctx
        return ctx

    def token(self, user: str = "ana", role: Role = Role.DISPATCHER, unit: str | None = None) -> str:
        return issue_token(self.settings.secret, Principal(user, role, unit), 3600)


@contextlib.asynccontextmanager
async def hub_in_process(redis_url: str, data_dir: Path, **overrides: Any) -> AsyncIterator[RunningHub]:
    """The real app under uvicorn on a free port, in this event loop."""
    from server.runner import HubServer

    port = free_port()
    overrides.setdefault("drain_s", 1.0)  # tests need no long goodbye
    overrides.setdefault("operator_token", OPERATOR_TOKEN)
    settings = Settings(
        port=port,
        data_dir=data_dir,
        redis_url=redis_url,
        secret="test-secret-0123456789abcdef0123456789",
        **overrides,
    ).resolved()
    config = uvicorn_config(settings, create_app(settings), configure_logs=False)
    config.loop = "asyncio"
    server = HubServer(config)
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started or task.done(), 10)
    if task.done():
        task.result()
    hub = RunningHub(settings, f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}", server)
    await wait_for(lambda: hub.ctx.hub.redis_ok and hub.ctx.hub.reader_beat, 10)
    try:
        yield hub
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60 * S)


@dataclasses.dataclass
class HubProcess:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self, timeout: float = 30.0) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"hub exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            return healthy(self.http)

        body: dict[str, Any] = poll_until(check, timeout, "hub healthy")
        return body

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout * S)


def start_hub_process(
    data_dir: Path,
    *,
    redis_url: str = "",
    port: int | None = None,
    workers: int = 1,
    test_secret: bool = True,
    env: dict[str, str] | None = None,
    umask: int | None = None,
) -> HubProcess:
    """`dispatch serve` as a process; with test_secret, tokens from test_token() are valid for it."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"hub-{port}-{time.monotonic_ns()}.log"
    env = {**os.environ, **(env or {})}
    env.pop("DISPATCH_SECRET", None)
    if test_secret:
        env["DISPATCH_SECRET"] = "test-secret-0123456789abcdef0123456789"
    env.setdefault("DISPATCH_OPERATOR_TOKEN", OPERATOR_TOKEN)
    env.pop("REDIS_URL", None)
    cmd = [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    cmd += ["--workers", str(workers)]
    if redis_url:
        cmd += ["--redis-url", redis_url]
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, umask=umask or -1)
    return HubProcess(proc, port, data_dir, log_path)


def test_token(user: str = "ana", role: Role = Role.DISPATCHER, unit: str | None = None) -> str:
    """A token for hubs started by start_hub_process (they share the test secret)."""
    return issue_token("test-secret-0123456789abcdef0123456789", Principal(user, role, unit), 3600)


test_token.__test__ = False  # type: ignore[attr-defined]
