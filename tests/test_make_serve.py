"""`make serve` as a user runs it: health goes green, a client connects, SIGTERM leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clients.connection import Connection
from protocol.messages import RadioAppend
from tests.helpers import ROOT, S, free_port, healthy, poll_until, wait_for
from tests.server.test_processes import valkey_pids

pytestmark = pytest.mark.slow


async def test_make_serve_then_sigterm(tmp_path: Path) -> None:
    """The README's command serves on PORT with DATA_DIR, and stops cleanly on SIGTERM."""
    port = free_port()
    data = tmp_path / "var"
    env = {**os.environ, "PORT": str(port), "DATA_DIR": str(data)}
    env.pop("REDIS_URL", None)
    env.pop("DISPATCH_SECRET", None)
    subprocess.run(
        [
            str(ROOT / ".venv/bin/dispatch"),
            "user",
            "add",
            "ana",
            "--role",
            "dispatcher",
            "--password",
            "pw-for-ana",
            "--data-dir",
            str(data),
        ],
        check=True,
        env=env,
    )
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def serving() -> Any:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            return healthy(f"http://127.0.0.1:{port}")

        poll_until(serving, 120, "make serve healthy")
        assert valkey_pids(data), "the embedded valkey runs in DATA_DIR"
        token = subprocess.run(
            [str(ROOT / ".venv/bin/dispatch"), "token", "ana", "--data-dir", str(data)],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        ).stdout.strip()
        async with Connection(f"ws://127.0.0.1:{port}/ws", token=token, topics=["radio"]) as conn:
            assert conn.welcome is not None and conn.welcome.user == "ana"
            ack = await conn.command(RadioAppend(id=conn.next_id(), channel="main", text="radio check"))
            await wait_for(lambda: conn.positions["radio"].offset == ack.offset)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30 * S)
        log.close()
    # make passes SIGTERM on to the hub, then ends by the same signal itself.
    assert code in (0, -signal.SIGTERM)
    await wait_for(lambda: "embedded valkey stopped" in (tmp_path / "serve.log").read_text(), 30)
    await wait_for(lambda: not valkey_pids(data), 10)
    assert not (data / "valkey.sock").exists()
