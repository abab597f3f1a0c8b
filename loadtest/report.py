"""Turning what the clients saw into the report: the JSON keys, the Markdown summary, the charts.

Scenario functions return a dict of stable keys (see loadtest/README.md). Raw
latency samples and per-second counts ride along under keys that start with
``_`` for the charts and are left out of the JSON.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

from protocol.codes import CloseCode

__all__ = ["charts", "latency", "markdown", "pct", "progress", "radio_result", "ratios", "write_outputs"]


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p / 100))], 2)


def latency(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": pct(ordered, 50), "p95": pct(ordered, 95), "p99": pct(ordered, 99), "max": pct(ordered, 100)}


def progress(start: float, end: float, label: str) -> None:
    """A progress bar on stderr from ``start`` to ``end`` (wall-clock seconds)."""
    total = max(0.1, end - start)
    fmt = "{desc}: {bar} {n:.0f}/{total:.0f} s"
    with tqdm(total=round(total, 1), desc=label, bar_format=fmt, file=sys.stderr, leave=False, ncols=80) as bar:
        while True:
            now = time.time()
            bar.n = round(min(total, max(0.0, now - start)), 1)
            bar.refresh()
            if now >= end:
                return
            time.sleep(0.25)


def radio_result(
    boards: list[dict[str, Any]],
    published: int,
    seconds: float,
    *,
    rss: dict[str, int],
    cpu_s: float,
    connect_s: float,
    held: int,
) -> dict[str, Any]:
    """The common keys for scenarios where boards count radio events from publishers."""
    per_board = [b for report in boards for b in report["boards"]]
    received = [b["received"] for b in per_board]
    delivered = sum(received)
    lat = [x for b in per_board for x in b["latencies"]]
    per_s: Counter[int] = Counter()
    for report in boards:
        per_s.update({int(k): v for k, v in report["per_s"].items()})
    n = len(per_board)
    first = min(per_s) if per_s else 0
    return {
        "connections": n,
        "held": held,
        "connect_per_s": round(n / connect_s, 1) if connect_s else None,
        "published": published,
        "delivered": delivered,
        "delivered_per_s": round(delivered / seconds, 1) if seconds else 0.0,
        "latency_ms": latency(lat),
        "lost": sum(max(0, published - r) for r in received),
        "duplicated": sum(b["dups"] for b in per_board),
        "slow_closes": sum(1 for b in per_board if b["closed_code"] == CloseCode.SLOW_CONSUMER),
        "memory_per_conn_kib": round((rss["connected"] - rss["before"]) / n, 2) if n else None,
        "cpu_s_per_1k_deliveries": round(cpu_s / max(1, delivered) * 1000, 4),
        "rss_kib": rss,
        "delivered_by_second": [per_s.get(first + i, 0) for i in range(max(per_s) - first + 1)] if per_s else [],
        "_latencies": lat,
    }


def ratios(result: dict[str, Any]) -> None:
    """Add ``ratio_to_floor`` and ``ratio_to_peer``: the hub's delivered per second over theirs."""
    for name in ("floor", "peer"):
        other = result.get(name)
        if other and other.get("delivered_per_s"):
            result[f"ratio_to_{name}"] = round(result["delivered_per_s"] / other["delivered_per_s"], 3)
        elif other is not None:
            result[f"ratio_to_{name}"] = None


def _public(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _public(v) for k, v in obj.items() if not k.startswith("_")}
    return obj


_ROWS = [
    ("connections", "connections"),
    ("held", "held to the end"),
    ("connect_per_s", "connects per second"),
    ("published", "published"),
    ("delivered", "delivered"),
    ("delivered_per_s", "delivered per second"),
    ("latency_ms.p50", "latency p50 (ms)"),
    ("latency_ms.p95", "latency p95 (ms)"),
    ("latency_ms.p99", "latency p99 (ms)"),
    ("latency_ms.max", "latency max (ms)"),
    ("lost", "lost"),
    ("duplicated", "duplicated"),
    ("slow_closes", "slow-client closes"),
    ("memory_per_conn_kib", "memory per connection (KiB)"),
    ("cpu_s_per_1k_deliveries", "server CPU s per 1k deliveries"),
]


def _get(obj: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def markdown(result: dict[str, Any], command: str) -> str:
    targets = [("hub", result)] + [(n, result[n]) for n in ("floor", "peer") if isinstance(result.get(n), dict)]
    lines = [f"# loadtest {result['scenario']}", "", f"`{command}`", ""]
    lines.append("| | " + " | ".join(n for n, _ in targets) + " |")
    lines.append("|---" * (len(targets) + 1) + "|")
    for key, label in _ROWS:
        values = [_get(t, key) for _, t in targets]
        if all(v is None for v in values):
            continue
        lines.append(f"| {label} | " + " | ".join("" if v is None else f"{v}" for v in values) + " |")
    for name in ("floor", "peer"):
        if f"ratio_to_{name}" in result:
            lines.append("")
            lines.append(f"Hub delivered per second over the {name}'s: **{result[f'ratio_to_{name}']}**")
    extra = {
        k: v
        for k, v in _public(result).items()
        if k not in {key.split(".")[0] for key, _ in _ROWS} | {"floor", "peer", "delivered_by_second", "scenario"}
        and not k.startswith("ratio_to_")
    }
    if extra:
        lines += ["", "| more | |", "|---|---|"]
        lines += [f"| {k} | {_flat(v)} |" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def _flat(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {_flat(x)}" for k, x in v.items())
    return str(v)


def charts(result: dict[str, Any], stem: Path) -> list[Path]:
    """Latency distribution and throughput over time, one line per target, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    targets = [("hub", result)] + [(n, result[n]) for n in ("floor", "peer") if isinstance(result.get(n), dict)]

    def figure(name: str, title: str, xlabel: str, ylabel: str, lines: list[tuple[str, list[Any], list[Any]]]) -> Path:
        fig, ax = plt.subplots(figsize=(7, 4))
        for label, xs, ys in lines:
            if xs:
                ax.plot(xs, ys, label=label)
        if name == "latency":
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{result['scenario']}: {title}")
        ax.grid(True, alpha=0.3)
        ax.legend()
        path = stem.with_name(f"{stem.name}-{name}.png")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    latencies = []
    for label, t in targets:
        lat = sorted(t.get("_latencies") or [])
        latencies.append((label, lat, [100 * (i + 1) / len(lat) for i in range(len(lat))]))
    series = [
        (label, list(range(len(t.get("delivered_by_second") or []))), t.get("delivered_by_second") or [])
        for label, t in targets
    ]
    return [
        figure(
            "latency", "latency distribution", "latency (ms, log scale)", "percent of deliveries at or below", latencies
        ),
        figure("throughput", "throughput over time", "seconds into the run", "deliveries per second", series),
    ]


def write_outputs(result: dict[str, Any], json_path: Path | None, command: str, with_charts: bool) -> str:
    """Write PATH (JSON), PATH's .md summary and its charts; return the JSON text."""
    import json

    text = json.dumps(_public(result), indent=2)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text + "\n")
        stem = json_path.with_suffix("")
        stem.with_name(stem.name + ".md").write_text(markdown(result, command))
        if with_charts and (result.get("_latencies") or result.get("delivered_by_second")):
            charts(result, stem)
    return text
