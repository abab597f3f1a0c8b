"""No process of a run outlives it.

Servers and client processes get SIGTERM from the kernel when the process that
started them dies, even by SIGKILL (a test's timeout, an operator's kill -9),
so a run that is cut short leaves no hub, Valkey or clients behind.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal

__all__ = ["die_with_parent", "follow_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """SIGTERM to this process when its parent dies (Linux; elsewhere nothing)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def follow_parent() -> None:
    """In a client process the load tool spawned: die with it, and at once if it is gone already."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    die_with_parent()
    if os.getppid() != parent.pid:
        os._exit(1)
