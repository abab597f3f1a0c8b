"""Consumer-group members of this host: named host-pid, so a dead one can be told at once."""

from __future__ import annotations

import os
import socket
from typing import Any

from redis.asyncio import Redis

__all__ = ["consumer_name", "dead_local_consumers"]


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def dead_local_consumers(redis: Redis, stream: str, group: str, me: str) -> list[str]:
    """Consumers of ``group`` on ``stream`` that ran on this host in a process that is gone
    (SIGKILL, a crash). Consumers elsewhere are taken over only after they idle."""
    host = socket.gethostname()
    dead = []
    consumers: Any = await redis.xinfo_consumers(stream, group)
    for c in consumers:
        name = c["name"].decode() if isinstance(c["name"], bytes) else str(c["name"])
        owner, _, pid = name.rpartition("-")
        if owner == host and pid.isdigit() and name != me and not os.path.exists(f"/proc/{pid}"):
            dead.append(name)
    return dead
