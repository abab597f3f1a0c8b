"""What every scenario shares: the hub's settings for load, splitting clients, collecting reports."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["HUB_ENV", "collect", "split"]

HUB_ENV = {
    "DISPATCH_COMMANDS_PER_S": "1000000",
    "DISPATCH_COMMANDS_BURST": "1000000",
    "DISPATCH_MAX_SESSIONS_PER_USER": "1000000",  # every simulated client signs in as one account
}


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


_early: dict[int, list[dict[str, Any]]] = {}


def collect(q: Any, kind: str, n: int, timeout: float) -> list[dict[str, Any]]:
    """``n`` reports of ``kind``; reports of other kinds that arrive first are kept for their turn."""
    kept = _early.setdefault(id(q), [])
    got = [m for m in kept if m["kind"] == kind][:n]
    for m in got:
        kept.remove(m)
    deadline = time.time() + timeout
    while len(got) < n:
        msg = q.get(timeout=max(0.1, deadline - time.time()))
        if msg["kind"] == kind:
            got.append(msg)
        else:
            kept.append(msg)
    return got
