"""A PostgreSQL server of its own, on a directory and a unix socket (no TCP port), from the
system's PostgreSQL binaries (Debian's ``postgresql`` package): for the tests, the load tests
and an operator trying several hubs on one machine. Never for production.

Run as root (as CI does), the server runs as the ``postgres`` user, since PostgreSQL refuses
to run as root; the directory is handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PostgresMissing", "PrivatePostgres", "postgres_bin"]


class PostgresMissing(RuntimeError):
    """No PostgreSQL binaries on this machine (``apt-get install postgresql``)."""


def postgres_bin() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``: the newest PostgreSQL installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresMissing("PostgreSQL is not installed: apt-get install postgresql (make test does, as root)")


class PrivatePostgres:
    def __init__(self, root: Path | None = None) -> None:
        self.bin = postgres_bin()
        self._made_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="dispatch-pg-")) if root is None else root
        self.data = self.root / "data"
        self.socket_dir = self.root
        self._as: list[str] = []
        self.user = "postgres"
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
        )
        options = (
            f"-c listen_addresses='' -c unix_socket_directories={self.socket_dir} -c fsync=on -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-w",
            "-s",
            "-l",
            str(self.root / "log"),
            "start",
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}"

    def create_database(self, name: str) -> str:
        """A new, empty database. -> its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.data.exists():
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-s", "stop")
            except RuntimeError:
                pass
        if self._made_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
