"""The machine under a run: how busy its CPUs were, and how much time the hypervisor took.

On a shared virtual machine the host may run other guests on our cores; the
kernel counts that time as *steal*. A run with much steal measures the
neighbours as well as the hub, so every report says how much there was.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["MachineWatch"]


def _cpu_times() -> list[int] | None:
    """The totals of /proc/stat's ``cpu`` line: user nice system idle iowait irq softirq steal."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    return [int(x) for x in fields[1:9]] if fields and fields[0] == "cpu" else None


class MachineWatch:
    """Reads the CPU counters at ``start`` and again at ``result``."""

    def __init__(self) -> None:
        self._start = _cpu_times()

    def result(self) -> dict[str, Any]:
        end = _cpu_times()
        out: dict[str, Any] = {"cpus": os.cpu_count()}
        if self._start is None or end is None:
            return out
        d = [b - a for a, b in zip(self._start, end, strict=True)]
        total = sum(d) or 1
        idle, iowait, steal = d[3], d[4], d[7]
        out["busy_pct"] = round(100 * (total - idle - iowait - steal) / total, 1)
        out["steal_pct"] = round(100 * steal / total, 1)
        return out
