"""The hub under test, as its own process, and what it costs (RSS, CPU) read from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

__all__ = ["HubUnderTest", "raise_fd_limit", "start_hub"]

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_fd_limit() -> int:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HubUnderTest:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK

    def token(self, user: str, role: str = "dispatcher", unit: str | None = None) -> str:
        cli = [sys.executable, "-m", "server.cli"]
        add = [
            *cli,
            "user",
            "add",
            user,
            "--role",
            role,
            "--password",
            "loadtest",
            "--data-dir",
            str(self.data_dir),
        ]
        if unit:
            add += ["--unit", unit]
        subprocess.run(add, check=False, capture_output=True)
        out = subprocess.run(
            [*cli, "token", user, "--data-dir", str(self.data_dir)],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()


@contextlib.contextmanager
def start_hub(env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[HubUnderTest]:
    """A hub with its own embedded Valkey in a temporary data dir, stopped (SIGTERM) on exit."""
    with tempfile.TemporaryDirectory(prefix="dispatch-loadtest-") as tmp:
        data_dir = Path(tmp)
        port = _free_port()
        full_env = {**os.environ, **(env or {})}
        full_env.pop("REDIS_URL", None)
        log = open(data_dir / "hub.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--log-level",
                "warning",
            ],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        hub = HubUnderTest(proc, port, data_dir)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError((data_dir / "hub.log").read_text()[-2000:])
                with contextlib.suppress(URLError, OSError):
                    with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                        if r.status == 200:
                            break
                if time.monotonic() > deadline:
                    raise RuntimeError("hub did not become healthy")
                time.sleep(0.1)
            yield hub
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()
