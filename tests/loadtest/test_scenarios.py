"""The load tool works: short runs of each scenario give well-formed, loss-free reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, S

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out.json"
    subprocess.run(
        [sys.executable, "-m", "loadtest", *args, "--json", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120 * S,
    )
    return json.loads(out.read_text())


def test_fanout_counts_every_delivery(tmp_path: Path) -> None:
    """Each board receives every published event once: delivered = published x boards, none lost."""
    report = _run(tmp_path, "fanout", "--boards", "6", "--duration", "1", "--rate", "50", "--procs", "2")
    assert report["published"] > 0
    assert report["delivered"] == report["published"] * 6
    assert report["lost"] == 0 and report["duplicated"] == 0
    assert set(report["latency_ms"]) == {"p50", "p95", "p99", "max"}
    assert report["delivered_per_s"] > 0


def test_idle_reports_memory_per_connection(tmp_path: Path) -> None:
    """The idle scenario holds the connections and reports the hub's memory per connection."""
    report = _run(tmp_path, "idle", "--conns", "40", "--procs", "2")
    assert report["connections"] == 40
    assert report["hub_rss_kib"]["after"] > 0
    assert "memory_per_conn_kib" in report


def test_intake_flood_files_every_complaint_and_loses_no_dispatch_event(tmp_path: Path) -> None:
    """Complaints in alternating windows beside dispatch traffic: every accepted one filed once, no event lost."""
    report = _run(
        tmp_path,
        "intake-flood",
        *("--boards", "4", "--rate", "20", "--flood-rate", "30", "--phase", "2", "--cycles", "2", "--warmup", "0.5"),
    )
    c = report["complaints"]
    assert c["accepted"] > 0 and c["statuses"] == {"201": c["sent"]}
    assert c["filed"] == c["accepted"] and c["lost"] == 0 and c["duplicated"] == 0
    assert report["published"] > 0 and report["delivered"] == report["published"] * 4
    assert report["lost"] == 0 and report["duplicated"] == 0
    for phase in ("baseline", "flood"):
        assert report[phase]["samples"] > 0 and set(report[phase]["latency_ms"]) == {"p50", "p95", "p99", "max"}
