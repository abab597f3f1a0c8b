"""The load tool works: short runs of each scenario give well-formed, loss-free reports.

Correctness only (counts, no loss, the report's keys and files); timing belongs
to the benchmark runs in loadtest/README.md, never to these tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, S, poll_until

pytestmark = pytest.mark.slow

LATENCY_KEYS = {"p50", "p95", "p99", "max"}
PNG = b"\x89PNG\r\n\x1a\n"


def _run(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "out.json"
    subprocess.run(
        [sys.executable, "-m", "loadtest", *args, "--json", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=180 * S,
    )
    report: dict[str, Any] = json.loads(out.read_text())
    summary = (tmp_path / "out.md").read_text()
    assert summary.startswith(f"# loadtest {report['scenario']}")
    # Every report says what the machine was doing: how busy, and what the hypervisor took.
    machine = report["machine"]
    assert machine["cpus"] >= 1 and 0 < machine["busy_pct"] <= 100 and 0 <= machine["steal_pct"] <= 100
    assert "| machine | cpus" in summary
    return report


def _every_event_once(r: dict[str, Any], boards: int) -> None:
    assert r["published"] > 0
    assert r["delivered"] == r["published"] * boards
    assert r["lost"] == 0 and r["duplicated"] == 0 and r["slow_closes"] == 0
    assert set(r["latency_ms"]) == LATENCY_KEYS
    assert r["delivered_per_s"] > 0 and r["held"] == boards


def test_fanout_compare_counts_every_delivery_on_hub_floor_and_peer(tmp_path: Path) -> None:
    """Each board of each server gets every event of both publishers once; the ratios, summary and
    charts are written."""
    r = _run(tmp_path, "fanout", "--boards", "6", "--duration", "1", "--rate", "30", "--publishers", "2", "--compare")
    for target in (r, r["floor"], r["peer"]):
        _every_event_once(target, 6)
        assert target["publish_errors"] == 0
        assert target["memory_per_conn_kib"] is not None and target["cpu_s_per_1k_deliveries"] >= 0
    assert (r["target"], r["floor"]["target"], r["peer"]["target"]) == ("hub", "floor", "peer")
    assert r["ratio_to_floor"] == round(r["delivered_per_s"] / r["floor"]["delivered_per_s"], 3)
    assert r["ratio_to_peer"] == round(r["delivered_per_s"] / r["peer"]["delivered_per_s"], 3)
    summary = (tmp_path / "out.md").read_text()
    assert "| delivered per second |" in summary and "over the peer's" in summary
    for chart in ("out-latency.png", "out-throughput.png"):
        assert (tmp_path / chart).read_bytes()[:8] == PNG


def test_panic_reaches_every_board_under_position_load(tmp_path: Path) -> None:
    """Every pressed panic reaches every board once, while officers' positions are all accepted."""
    r = _run(
        tmp_path,
        "panic",
        *("--boards", "5", "--officers", "10", "--rate", "50", "--panic-rate", "4", "--duration", "3"),
        *("--warmup", "0.5"),
    )
    assert r["panics"]["acked"] == r["panics"]["sent"] > 0 and r["panics"]["errors"] == {}
    # Pressed by units on the roster that report positions: every alarm has one, and gets cover.
    assert r["panics"]["located"] == r["panics"]["covered"] == r["panics"]["acked"]
    assert r["delivered"] == r["panics"]["acked"] * 5 and r["lost"] == 0 and r["duplicated"] == 0
    assert set(r["all_boards_ms"]) == LATENCY_KEYS and r["all_boards_ms"]["max"] > 0
    assert set(r["press_to_hub_ms"]) == LATENCY_KEYS and set(r["hub_to_board_ms"]) == LATENCY_KEYS
    assert r["positions"]["acked"] == r["positions"]["sent"] > 0 and r["positions"]["errors"] == {}
    assert r["connections"] == 16 and r["held"] == 5


def test_abuse_keeps_panics_and_the_dispatcher_going_while_one_address_attacks(tmp_path: Path) -> None:
    """Panics under an attacker's big heads, big bodies, idle sockets and subscribe storms: every press
    acked and delivered once, the dispatcher signs in during the flood, and the hub cuts every oversized
    request instead of reading it whole."""
    r = _run(
        tmp_path,
        "abuse",
        *("--boards", "5", "--officers", "10", "--rate", "50", "--panic-rate", "4", "--duration", "8"),
        *("--cycles", "1", "--warmup", "0.5"),
    )
    assert r["panics"]["acked"] == r["panics"]["sent"] > 0 and r["panics"]["errors"] == {}
    assert r["lost"] == 0 and r["duplicated"] == 0
    assert len(r["flood_windows"]) == 1
    desk = r["dispatcher_during_flood"]
    assert desk["tries"] >= 1 and desk["signed_in_and_connected"] == desk["tries"] and desk["failures"] == []
    attacks = r["attacks"]
    for attack in ("big_heads", "big_bodies"):
        assert attacks[attack]["opened"] > 0
        assert attacks[attack].get("cut", 0) == attacks[attack]["opened"]  # none sent whole
        assert attacks[attack].get("sent_whole", 0) == 0
    assert attacks["idle_sockets"]["opened"] > 0
    assert set(r["panic_with_flood_ms"]) == LATENCY_KEYS and set(r["panic_without_flood_ms"]) == LATENCY_KEYS


def test_shift_delivers_positions_and_every_call_to_the_boards(tmp_path: Path) -> None:
    """Positions reach the boards (with their staleness measured) and every call reaches every board."""
    r = _run(
        tmp_path,
        "shift",
        *("--boards", "4", "--officers", "10", "--rate", "100", "--call-rate", "5", "--duration", "2"),
    )
    assert r["positions"]["acked"] == r["positions"]["sent"] > 0 and r["positions"]["errors"] == {}
    assert r["calls"]["acked"] == r["calls"]["sent"] > 0 and r["lost"] == 0 and r["duplicated"] == 0
    assert r["delivered"] > 0 and set(r["staleness_ms"]) == LATENCY_KEYS
    assert r["latency_ms"] == r["staleness_ms"]


def test_reconnect_storm_loses_nothing(tmp_path: Path) -> None:
    """Every client drops at once, resumes from its offset, and still has every event exactly once."""
    r = _run(
        tmp_path,
        "reconnect-storm",
        *("--clients", "20", "--rate", "40", "--duration", "3", "--drop-at", "1.5", "--grace", "3"),
    )
    _every_event_once(r, 20)
    assert r["dropped"] == 20 and r["not_resumed"] == 0 and r["reconnects"] >= 20
    assert r["resyncs"] == 0  # resumed from the offset, not given a fresh snapshot
    assert set(r["resumed_s"]) == LATENCY_KEYS


def test_idle_compare_reports_memory_per_connection(tmp_path: Path) -> None:
    """The idle scenario holds every connection on all three servers and reports memory per connection."""
    r = _run(tmp_path, "idle", "--conns", "30", "--compare", "--settle", "0.5")
    for target in (r, r["floor"], r["peer"]):
        assert target["connections"] == 30 and target["held"] == 30
        assert target["rss_kib"]["connected"] > 0 and target["memory_per_conn_kib"] is not None
    assert "memory_ratio_to_floor" in r and "memory_ratio_to_peer" in r


def test_intake_flood_files_every_complaint_and_loses_no_dispatch_event(tmp_path: Path) -> None:
    """Complaints in alternating windows beside dispatch traffic: every accepted one filed once, no event lost."""
    r = _run(
        tmp_path,
        "intake-flood",
        *("--boards", "4", "--rate", "20", "--flood-rate", "30", "--phase", "2", "--cycles", "2", "--warmup", "0.5"),
    )
    c = r["complaints"]
    assert c["accepted"] > 0 and c["statuses"] == {"201": c["sent"]}
    assert c["filed"] == c["accepted"] and c["lost"] == 0 and c["duplicated"] == 0
    _every_event_once(r, 4)
    for phase in ("baseline", "flood"):
        assert r[phase]["samples"] > 0 and set(r[phase]["latency_ms"]) == LATENCY_KEYS


def test_compare_is_refused_where_the_baselines_have_nothing_to_compare(tmp_path: Path) -> None:
    """--compare on a scenario the floor and peer cannot run says so, and starts nothing."""
    done = subprocess.run(
        [sys.executable, "-m", "loadtest", "panic", "--compare"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "--compare applies to fanout and idle" in done.stderr


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2] != "Z"


def test_a_run_killed_outright_leaves_no_process_behind(tmp_path: Path) -> None:
    """SIGKILL to the load tool mid-run (a timeout, kill -9): its hub, Valkey and client processes go too."""
    run = subprocess.Popen(
        [sys.executable, "-m", "loadtest", "idle", "--conns", "20", "--settle", "60", "--json", str(tmp_path / "x")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Holding its connections: the hub (with its Valkey) and the client process are up.
        poll_until(lambda: len(_descendants(run.pid)) >= 4, 60, "the hub, its Valkey and the clients")
        family = _descendants(run.pid)
    finally:
        run.kill()
        run.wait()
    poll_until(lambda: not any(_alive(p) for p in family), 30, "every process of the run gone")


def test_the_case_workspace_benchmarks_give_whole_reports() -> None:
    """A small workspace run answers every request (a seeded queue, files, searches); a small sweep seeds
    every counting clock and announces each due turn once."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.cases",
            "workspace",
            "--files",
            "60",
            "--allegations",
            "150",
            "--requests",
            "3",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=180 * S,
    )
    report = json.loads(run.stdout)
    assert report["files"] == 60 and report["allegations"] == 150
    for key in ("queue_ms", "own_queue_ms", "file_view_ms", "search_ms", "overdue_ms"):
        assert set(report[key]) == LATENCY_KEYS
    run = subprocess.run(
        [sys.executable, "-m", "loadtest.cases", "sweep", "--clocks", "300"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=180 * S,
    )
    sweep = json.loads(run.stdout)
    assert sweep["counting_clocks"] == 300  # three a file
    assert 0 < sweep["due_set"] < 300  # the overdue ones, announced, have nothing more to turn
    assert sweep["backlog_announced"] > 0 and set(sweep["steady_sweep_ms"]) == LATENCY_KEYS


def test_the_letters_and_reports_benchmark_gives_a_whole_report() -> None:
    """A small run issues every letter it drafts (each approval renders a PDF) and times every report."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.cases",
            "reports",
            "--files",
            "80",
            "--allegations",
            "200",
            "--letters",
            "4",
            "--requests",
            "2",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=240 * S,
    )
    report = json.loads(run.stdout)
    assert report["files"] == 80 and report["letters"] == 4
    assert set(report["approve_and_issue_ms"]) == LATENCY_KEYS and report["letter_pdf_bytes_mean"] > 1000
    for key in ("letter_render_and_pdf_ms", "delay_report_json_ms", "delay_report_pdf_ms", "trends_three_years_ms"):
        assert set(report[key]) == LATENCY_KEYS
    assert report["delay_report_pdf_bytes"] > 1000


def test_the_redaction_benchmark_gives_a_whole_report() -> None:
    """A small package is searched, boxed and released page for page, with its peak memory."""
    run = subprocess.run(
        [sys.executable, "-m", "loadtest.access", "--pages", "6"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=180 * S,
    )
    report = json.loads(run.stdout)
    assert report["pages"] == report["released_pages"] == 6
    assert report["boxes"] == 6 * 6 * 2  # six phone numbers and six names a page
    assert report["release_pages_per_s"] > 0 and report["peak_rss_mib"] >= report["peak_rss_mib_before_redaction"]


def test_the_topologies_run_measures_each_shape_and_loses_nothing(tmp_path: Path) -> None:
    """Fanout and panic on the embedded Valkey and a three-master cluster, and panic on a Sentinel's
    primary with the replica wait off and on: every run whole, nothing lost or duplicated."""
    r = _run(tmp_path, "topologies", "--boards", "3", "--officers", "6", "--duration", "2", "--no-charts")
    runs = [k for k in r if k.startswith(("fanout ", "panic "))]
    assert runs == [
        "fanout embedded",
        "fanout cluster",
        "panic embedded",
        "panic cluster",
        "panic sentinel wait off",
        "panic sentinel wait dispatch",
    ]
    for name in runs:
        assert r[name]["lost"] == 0 and r[name]["duplicated"] == 0, name
    for name in runs[:2]:
        assert r[name]["delivered_per_s"] > 0 and set(r[name]["latency_ms"]) == LATENCY_KEYS
    for name in runs[2:]:
        panics = r[name]["panics"]
        assert panics["acked"] == panics["sent"] > 0 and panics["errors"] == {}, name
        assert set(panics["ack_ms"]) == LATENCY_KEYS and set(r[name]["all_boards_ms"]) == LATENCY_KEYS


def test_the_failover_run_loses_no_acked_command(tmp_path: Path) -> None:
    """The Sentinel's primary SIGKILLed during panics: the report says what was acked, what was told,
    and when the hub answered and was healthy again; nothing acked is missing from the new primary."""
    r = _run(tmp_path, "failover", "--rate", "5", "--duration", "8", "--kill-at", "2", "--no-charts")
    assert r["old_primary"] != r["new_primary"]
    assert r["lost_acked_alarms"] == 0 and r["lost_acked_radio"] == 0
    assert r["acked_alarms"] > 0 and r["told"] > 0 and sum(r["told_by_reason"].values()) == r["told"]
    assert r["first_ack_after_kill_s"] is not None and r["health_green_after_kill_s"] is not None
    assert r["health_red_after_kill_s"] is not None and r["health_red_after_kill_s"] < r["health_green_after_kill_s"]
