"""The case workspace at the commission's volume: ``python -m loadtest.cases workspace|sweep|beside``.

- ``workspace``: a hub whose records store holds three years of files (15,000 files, 40,000
  allegations by default, seeded straight into the store, as a storage benchmark does), then the
  queue's first load, a coordinator's own queue, a file view and filtered searches over HTTP.
- ``sweep``: the clock sweep over 15,000 counting clocks on an embedded Valkey: seeding the due
  set, and a minute of once-a-second sweeps.
- ``beside``: dispatch's panic latency with and without a coordinator burst (file saves) on the
  same hub: the intake lane must not slow dispatch.

Each prints one JSON report and stops by itself; servers bind to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadtest.report import latency

__all__ = ["beside", "main", "seed", "sweep", "workspace"]

DAY = 86_400_000
SERVICES = (
    "Edmonton Police Service",
    "Calgary Police Service",
    "Lethbridge Police Service",
    "Medicine Hat Police Service",
    "Blood Tribe Police Service",
    "RCMP (Royal Canadian Mounted Police)",
)
STAGES = ("received", "screening", "waiting", "jurisdiction", "routed", "routed", "concluded", "closed", "closed")
TYPES = ("discourtesy", "neglect_of_duty", "unreasonable_force", "wrongful_search", "bias", "professional_performance")
COORDINATORS = tuple(f"coord{i}" for i in range(8))


async def seed(target: Path | str, files: int, allegations: int, now_ms: int, span_days: int = 3 * 365) -> float:
    """``files`` complaint files over three years and ``allegations`` allegations (officers from a
    pool of 2,000 badges, so the register accrues history), written in batches. -> seconds taken."""
    from server.records.cases import AllegationWrite, CaseChange, CaseRecords
    from server.records.complaints import ClockStart, ComplaintRecords, NewComplaint
    from server.records.store import RecordsStore

    rng = random.Random(17)
    store = RecordsStore(target)
    await store.open()
    started = time.perf_counter()
    per_file = [allegations // files + (1 if i < allegations % files else 0) for i in range(files)]
    try:
        for first in range(0, files, 500):
            async with store.transaction():
                for i in range(first, min(files, first + 500)):
                    received = now_ms - int(rng.random() * span_days * DAY)
                    age = now_ms - received
                    number = f"PC-{2024 + i * 3 // files}-{i + 1:05d}"
                    clocks = [
                        ClockStart("acknowledge", received, received + 3 * DAY, "business", received + 2 * DAY),
                        ClockStart("decision", received, received + 180 * DAY, "calendar", received + 150 * DAY),
                    ]
                    clocks.append(ClockStart("status_update", received, received + 60 * DAY, "calendar"))
                    filing = NewComplaint(
                        file_number=number,
                        received_at=received,
                        channel="web",
                        taken_by=None,
                        kind=rng.choice(("complaint", "complaint", "complaint", "concern", "compliment")),
                        police_service=rng.choice(SERVICES),
                        occurred_on="",
                        occurred_time="",
                        location="Jasper Ave",
                        narrative="What happened, in the person's words. " * 20,
                        desired_outcome="An apology.",
                        name=f"Person {i}",
                        email=f"p{i}@example.org",
                        phone="",
                        mailing_address="",
                        contact_by="email",
                        safe_times="",
                        ok_to_leave_message=False,
                        accessibility="",
                        interpreter="",
                        consent_share=True,
                        stage="received",
                        status="open",
                        status_code_hash=f"h{i}",
                        intake_entry=f"{i}-0",
                        clocks=clocks,
                    )
                    await ComplaintRecords(store).file(filing, by="public")
                    stage = "closed" if age > 400 * DAY else rng.choice(STAGES)
                    change = CaseChange(
                        act="allegation",
                        by="seed",
                        fields={"stage": stage, "assignee": rng.choice(COORDINATORS), "summary": f"file {i}"},
                        allegations=[
                            AllegationWrite(
                                None,
                                rng.choice(TYPES),
                                3,
                                "summary",
                                3,
                                "",
                                "",
                                str(1000 + rng.randrange(2000)),
                                filing.police_service,
                            )
                            for _ in range(per_file[i])
                        ],
                    )
                    await CaseRecords(store).apply(number, 1, change)
    finally:
        await store.close()
    return time.perf_counter() - started


def _timed(http: Any, url: str | Callable[[], str], n: int) -> dict[str, float]:
    took = []
    for _ in range(n):
        t = time.perf_counter()
        answer = http.get(url() if callable(url) else url)
        answer.raise_for_status()
        took.append((time.perf_counter() - t) * 1000)
    return latency(took)


def workspace(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from loadtest.hubproc import start_hub

    with start_hub() as hub:
        token = hub.token("cora", "case_coordinator")
        seeded = asyncio.run(
            seed(hub.data_dir / "records.sqlite3", args.files, args.allegations, int(time.time() * 1000))
        )
        rng = random.Random(3)
        numbers = [f"PC-{2024 + i * 3 // args.files}-{i + 1:05d}" for i in range(args.files)]
        with httpx.Client(
            base_url=f"http://127.0.0.1:{hub.port}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as http:
            http.get("/api/cases").raise_for_status()  # the first, to warm the caches, not measured
            return {
                "scenario": "case workspace",
                "files": args.files,
                "allegations": args.allegations,
                "seed_s": round(seeded, 1),
                "queue_ms": _timed(http, "/api/cases", args.requests),
                "own_queue_ms": _timed(http, "/api/cases?assignee=coord3", args.requests),
                "file_view_ms": _timed(http, lambda: f"/api/cases/{rng.choice(numbers)}", args.requests),
                "search_ms": _timed(
                    http,
                    lambda: (
                        f"/api/cases?service={SERVICES[rng.randrange(6)]}&stage=routed&q={1000 + rng.randrange(2000)}"
                    ),
                    args.requests,
                ),
                "overdue_ms": _timed(http, "/api/cases?overdue=true", args.requests),
            }


async def _sweep(args: argparse.Namespace) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from server.agency.policy import load_policy
    from server.bus.log import Bus
    from server.bus.valkey import EmbeddedValkey
    from server.cases.clock_board import DUE_KEY, ClockSweep
    from server.config import Settings
    from server.records.store import RecordsStore

    with tempfile.TemporaryDirectory(prefix="dispatch-cases-") as tmp:
        now = int(time.time() * 1000)
        target = Path(tmp) / "records.sqlite3"
        # Three clocks a file, received over the last half year: some due soon or late, most running.
        await seed(target, args.clocks // 3, args.clocks // 3, now, span_days=180)
        valkey = EmbeddedValkey(Path(tmp) / "valkey")
        valkey.start()
        redis = aioredis.Redis.from_url(valkey.url)
        store = RecordsStore(target)
        await store.open()
        try:
            sweep = ClockSweep(redis, store, load_policy(None), Bus(redis, Settings(data_dir=Path(tmp)).resolved()))
            cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime
            t = time.perf_counter()
            seeded = await sweep.board.seed(store, now)
            seed_s = time.perf_counter() - t
            sweep._seeded_at = time.monotonic()
            first = time.perf_counter()
            backlog = 0
            while True:  # the turns already due when the sweep starts: each announced once
                done = await sweep.sweep(now)
                backlog += done
                if not done:
                    break
            first_s = time.perf_counter() - first
            cpu_mid = (
                resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime
            )
            walls = []
            for i in range(60):
                t = time.perf_counter()
                await sweep.sweep(now + (i + 1) * 1000)
                walls.append((time.perf_counter() - t) * 1000)
            cpu_end = (
                resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime
            )
            return {
                "scenario": "clock sweep",
                "counting_clocks": seeded,
                "due_set": await redis.zcard(DUE_KEY),
                "seed_s": round(seed_s, 2),
                "seed_and_backlog_cpu_s": round(cpu_mid - cpu, 2),
                "backlog_announced": backlog,
                "backlog_s": round(first_s, 2),
                "backlog_per_s": round(backlog / max(first_s, 0.001), 1),
                "steady_sweep_ms": latency(walls),
                "steady_cpu_s_per_minute": round(cpu_end - cpu_mid, 3),
                "seeding_every_s": 600,
            }
        finally:
            await store.close()
            await redis.aclose()
            valkey.stop()


def sweep(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_sweep(args))


def _saver(base: str, token: str, numbers: list[str], rate: float, start_at: float, end_at: float, q: Any) -> None:
    """A coordinator burst: ``rate`` notes a second on the files, each saved from the version it read."""
    import httpx

    took: list[float] = []
    conflicts = errors = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        versions = {n: http.get(f"/api/cases/{n}").json()["file"]["version"] for n in numbers}
        while time.time() < start_at:
            time.sleep(0.01)
        k = 0
        while time.time() < end_at:
            due = start_at + k / rate
            if due > time.time():
                time.sleep(due - time.time())
            n = numbers[k % len(numbers)]
            t = time.perf_counter()
            answer = http.post(
                f"/api/cases/{n}/acts", json={"version": versions[n], "act": {"act": "note", "text": f"call {k}"}}
            )
            took.append((time.perf_counter() - t) * 1000)
            if answer.status_code == 200:
                versions[n] = answer.json()["file"]["version"]
            elif answer.status_code == 409:
                conflicts += 1
                versions[n] = http.get(f"/api/cases/{n}").json()["file"]["version"]
            else:
                errors += 1
            k += 1
    q.put(
        {
            "kind": "saves",
            "saved": len(took) - conflicts - errors,
            "conflicts": conflicts,
            "errors": errors,
            "per_s": round(len(took) / max(0.1, end_at - start_at), 1),
            "save_ms": latency(took),
        }
    )


def beside(args: argparse.Namespace) -> dict[str, Any]:
    import multiprocessing as mp

    from loadtest.shift import run_panic

    def burst(hub: Any, q: Any, start_at: float, end_at: float) -> list[Any]:
        asyncio.run(seed(hub.data_dir / "records.sqlite3", 200, 400, int(time.time() * 1000)))
        numbers = [f"PC-{2024 + i * 3 // 200}-{i + 1:05d}" for i in range(200)]
        token = hub.token("cora", "case_coordinator")
        proc = mp.get_context("spawn").Process(
            daemon=True,
            target=_saver,
            args=(
                f"http://127.0.0.1:{hub.port}",
                token,
                numbers,
                args.save_rate,
                start_at + args.warmup,
                end_at - 1.0,
                q,
            ),
        )
        proc.start()
        return [proc]

    quiet = run_panic(args)
    busy = run_panic(args, beside=burst, reports=["saves"])

    def summary(run: dict[str, Any]) -> dict[str, Any]:
        keys = ("latency_ms", "all_boards_ms", "press_to_hub_ms", "lost", "published", "cpu_s")
        return {k: run.get(k) for k in keys}

    return {
        "scenario": "panic beside a coordinator burst",
        "boards": args.boards,
        "officers": args.officers,
        "panic_rate": args.panic_rate,
        "alone": summary(quiet),
        "with_saves": summary(busy),
        "saves": busy.get("_saves"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.cases", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    w = sub.add_parser("workspace", help="queue, file and search latency at volume")
    w.add_argument("--files", type=int, default=15_000)
    w.add_argument("--allegations", type=int, default=40_000)
    w.add_argument("--requests", type=int, default=300)
    s = sub.add_parser("sweep", help="the clock sweep's cost")
    s.add_argument("--clocks", type=int, default=15_000)
    b = sub.add_parser("beside", help="panic latency with and without a coordinator burst")
    b.add_argument("--boards", type=int, default=100)
    b.add_argument("--officers", type=int, default=200)
    b.add_argument("--rate", type=float, default=100.0, help="positions per second")
    b.add_argument("--panic-rate", type=float, default=2.0)
    b.add_argument("--save-rate", type=float, default=50.0)
    b.add_argument("--duration", type=float, default=30.0)
    b.add_argument("--warmup", type=float, default=3.0)
    b.add_argument("--procs", type=int, default=2)
    args = parser.parse_args(argv)
    report = {"workspace": workspace, "sweep": sweep, "beside": beside}[args.what](args)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
