"""python -m loadtest.cases: the case workspace at the commission's volume (issues 17 and 18).

- ``workspace``: a hub whose records store holds three years of complaint files (15,000 files and
  40,000 allegations by default, seeded straight into its store, as a storage benchmark does), then,
  over HTTP as a case coordinator: the queue's first load, the coordinator's own queue, a file
  view and filtered searches.
- ``reports``: letters rendered to PDF and approved, the delay report (JSON, HTML, PDF) and the trend
  tables over the seeded files.
- ``sweep``: the clock sweep over 15,000 counting clocks on an embedded Valkey: seeding the due set,
  the turns due at a first start, a minute of once-a-second sweeps at now, and the minute after
  local midnight (when a day's clocks turn).
- ``beside``: dispatch's panic latency with and without a coordinator burst of file saves on the
  same hub: the intake lane must not slow dispatch.

The seeded files are realistic in what the workspace reads: received over the span, spread over
the default policy's police services, the kinds, eight coordinators and the stages by their age;
their acknowledgement, status update and decision clocks counted by the clock rules from receipt
(met, renewed, extended, paused, referred or stopped as the file's stage says), so some are overdue
and some at risk now; officers from a register of about 2,000, so the register accrues history.

Each prints one JSON report and stops by itself; servers bind to 127.0.0.1 only (Valkey to a
Unix socket).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from loadtest.machine import MachineWatch
from loadtest.report import latency

__all__ = ["Seeded", "beside", "main", "reports", "seed", "sweep", "workspace"]

DAY = 86_400_000
_BATCH = 500  # files written in one transaction
COORDINATORS = ("cora", "coord1", "coord2", "coord3", "coord4", "coord5", "coord6", "coord7")
OFFICERS = 2_000  # the register's size: officers named across every service
# Files per service, relative (a service not listed: 2). "Not sure" is left out: it names no officer.
_SERVICE_WEIGHT = {
    "Edmonton Police Service": 30,
    "Calgary Police Service": 30,
    "RCMP (Royal Canadian Mounted Police)": 18,
    "Lethbridge Police Service": 5,
    "Medicine Hat Police Service": 4,
    "Alberta Sheriffs": 3,
}
# The stage of a file by its age in days: (younger than, ((stage, weight), ...)).
_STAGES_BY_AGE = (
    (3, (("received", 6), ("screening", 4))),
    (30, (("received", 1), ("screening", 4), ("waiting", 2), ("jurisdiction", 3))),
    (180, (("screening", 1), ("waiting", 1), ("jurisdiction", 2), ("routed", 5), ("concluded", 1))),
    (540, (("routed", 35), ("concluded", 5), ("closed", 60))),
    (math.inf, (("routed", 5), ("concluded", 1), ("closed", 94))),
)
_ROUTES = (("resolution", 30), ("investigation", 25), ("referred_out", 40), ("serious_incident", 5))
_FINDINGS = ("unfounded", "exonerated", "not_sustained", "sustained", "no_cooperation", "withdrawn")
_SURNAMES = ("Abbott", "Bear", "Chen", "Dubois", "Eagle", "Fraser", "Gill", "Hansen", "Iyer", "Janvier")
_PLACES = ("Jasper Ave", "Whyte Ave", "17 Ave SW", "Stephen Ave", "Mayor Magrath Dr", "Kingsway", "Macleod Trail")


# ---- seeding ---------------------------------------------------------------------------------


@dataclass
class _Plan:
    """One file as it will be seeded: what it was filed with and where it stands now."""

    received: int
    kind: str
    service: str
    stage: str
    route: str = ""
    level: int | None = None
    assignee: str | None = None
    flags: str = ""
    opening: list[Any] = field(default_factory=list)  # ClockStart: as the file was filed
    clocks: list[Any] = field(default_factory=list)  # ClockRow: as they stand now
    counting: int = 0
    allegations: int = 0
    number: str = ""


@dataclass
class Seeded:
    """What a seeding wrote, for the benchmarks to read back."""

    numbers: list[str]
    versions: dict[str, int]  # each file's version after seeding
    open_numbers: list[str]
    searches: list[tuple[str, str]]  # (service, badge) of an officer on a file in screening
    services: list[str]
    officers: int  # in the register
    counting_clocks: int
    stages: dict[str, int]
    seconds: float


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _stage_at(rng: random.Random, age_days: float, open_only: bool) -> str:
    for younger_than, stages in _STAGES_BY_AGE:
        if age_days < younger_than:
            pick = tuple(s for s in stages if not open_only or s[0] != "closed")
            return _weighted(rng, pick) if pick else ""
    raise AssertionError("unreachable")


def _clocks(rng: random.Random, p: _Plan, now: int, policy: Any, announced: bool) -> None:
    """The file's opening clocks, and where each stands now, counted by the clock rules. With
    ``announced``, the turns already past were announced (a store whose sweeper has been running);
    without, none was (files brought from another system: the sweeper's first start)."""
    from server.cases.rules import clocks as engine
    from server.cases.timing import ACKNOWLEDGE, DECISION, STATUS_UPDATE, TERMS, policy_for, row_of
    from server.records.complaints import ClockStart

    cal = TERMS(policy)
    rules = {n: policy_for(policy, n) for n in (ACKNOWLEDGE, STATUS_UPDATE, DECISION)}
    started = {n: engine.start(n, p.received, rule, cal) for n, rule in rules.items()}
    p.opening = [
        ClockStart(n, p.received, c.due_at, c.day_kind, engine.warning_from(c, rules[n], cal))
        for n, c in started.items()
    ]
    ack, upd, dec = started[ACKNOWLEDGE], started[STATUS_UPDATE], started[DECISION]
    age = now - p.received
    # The acknowledgement: sent within a day or so (one in twenty late), unless still just received.
    if p.stage != "received" or rng.random() < 0.3:
        took = rng.uniform(3, 6) if rng.random() < 0.05 else rng.uniform(0.05, 1.5)
        ack = engine.meet(ack, min(now, p.received + int(took * DAY)))
    period = rules[STATUS_UPDATE].days
    if p.stage in ("concluded", "closed"):
        done = p.received + int(min(age, rng.uniform(45, 400) * DAY))
        upd = engine.meet(upd, done)
        dec = engine.stop(dec, "referred") if p.route == "referred_out" else engine.meet(dec, done)
    else:
        # The status update recurs: its period runs from the last one sent (one file in twelve behind).
        if age > period * DAY:
            behind = rng.random() < 0.08
            ago = rng.uniform(period, period + 15) if behind else rng.uniform(0, period)
            upd = engine.renew(upd, max(p.received, now - int(ago * DAY)), rules[STATUS_UPDATE], cal)
        if p.route == "referred_out":
            dec = engine.stop(dec, "referred")
        elif now > dec.due_at and rng.random() < 0.55:  # past the decision target: most were extended
            extra = (now - dec.due_at) // DAY + rng.randint(10, 120)
            dec = engine.extend(dec, engine.extension_due(dec, extra, cal), dec.due_at - 5 * DAY)
        if p.stage == "waiting":  # on the complainant: the clocks that pause are paused
            at = now - int(rng.uniform(0, 20) * DAY)
            upd, dec = (engine.pause(c, max(at, c.started_at), cal) if rules[c.name].pauses else c for c in (upd, dec))
    p.clocks = []
    for c in (ack, upd, dec):
        row = row_of(c, policy)
        state = engine.state(c, now, rules[c.name], cal)
        if announced and state in ("warning", "overdue"):
            row.announced = state  # the sweeper announced it when it turned
        p.clocks.append(row)
        p.counting += int(c.met_at is None and not c.stopped and c.paused_at is None)


def _plans(
    rng: random.Random,
    now: int,
    policy: Any,
    *,
    files: int | None,
    counting: int | None,
    span_days: int,
    open_only: bool,
    announced: bool,
) -> list[_Plan]:
    """``files`` files (or as many as hold exactly ``counting`` counting clocks), numbered by receipt."""
    services = [s for s in policy.complaints.police_services if s != "Not sure"]
    weights = [_SERVICE_WEIGHT.get(s, 2) for s in services]
    out: list[_Plan] = []
    held = 0
    while (files is not None and len(out) < files) or (counting is not None and held < counting):
        received = now - int(rng.random() * span_days * DAY)
        stage = _stage_at(rng, (now - received) / DAY, open_only)
        if not stage:
            continue
        p = _Plan(
            received=received,
            kind=_weighted(rng, (("complaint", 8), ("concern", 1), ("compliment", 1))),
            service=rng.choices(services, weights=weights)[0],
            stage=stage,
        )
        if stage in ("routed", "concluded", "closed"):
            p.route = _weighted(rng, _ROUTES)
            p.level = {"resolution": 3, "investigation": 3, "serious_incident": rng.choice((1, 2))}.get(
                p.route, rng.choice((4, 5))
            )
        if stage != "received" or rng.random() < 0.3:
            p.assignee = rng.choice(COORDINATORS)
        if stage not in ("concluded", "closed") and rng.random() < 0.03:
            p.flags = "high_priority"
        _clocks(rng, p, now, policy, announced)
        if counting is not None and held + p.counting > counting:
            continue  # one that fits what is left comes soon (files with one or no clock counting)
        out.append(p)
        held += p.counting
    out.sort(key=lambda p: p.received)
    zone = ZoneInfo(policy.complaints.timezone)
    per_year: Counter[int] = Counter()
    for p in out:
        year = dt.datetime.fromtimestamp(p.received / 1000, zone).year
        per_year[year] += 1
        p.number = f"{policy.complaints.file_prefix}-{year}-{per_year[year]:05d}"
    return out


def _deal(rng: random.Random, plans: list[_Plan], allegations: int) -> None:
    """The allegations over the files past receipt: one each, the rest at random."""
    eligible = [p for p in plans if p.stage != "received"] or plans
    left = allegations
    if left >= len(eligible):
        for p in eligible:
            p.allegations = 1
        left -= len(eligible)
    for _ in range(left):
        rng.choice(eligible).allegations += 1


async def seed(
    target: Path | str,
    files: int | None,
    allegations: int | None,
    now_ms: int,
    *,
    counting: int | None = None,
    span_days: int = 3 * 365,
    open_only: bool = False,
    announced: bool = True,
    rng_seed: int = 17,
) -> Seeded:
    """Write complaint files into the records store at ``target``, 500 to a transaction: ``files``
    of them, or (``counting``) as many as hold exactly that many counting clocks; ``allegations``
    in all (None: 8 for every 3 files, the commission's ratio), officers from a register of 2,000.
    Each file is filed as the complaint door files one (``ComplaintRecords.file``), then brought to
    its stage by one change (``CaseRecords.apply``): its clocks, allegations and a timeline."""
    from server.agency.policy import load_policy
    from server.cases.workspace import taxonomy_of
    from server.records.cases import AllegationWrite, CaseChange, CaseRecords
    from server.records.complaints import ComplaintRecords, NewComplaint
    from server.records.store import RecordsStore

    rng = random.Random(rng_seed)
    policy = load_policy(None)
    plans = _plans(
        rng,
        now_ms,
        policy,
        files=files,
        counting=counting,
        span_days=span_days,
        open_only=open_only,
        announced=announced,
    )
    _deal(rng, plans, allegations if allegations is not None else len(plans) * 8 // 3)
    all_services = [s for s in policy.complaints.police_services if s != "Not sure"]
    total = sum(_SERVICE_WEIGHT.get(s, 2) for s in all_services)
    register = {s: max(5, round(OFFICERS * _SERVICE_WEIGHT.get(s, 2) / total)) for s in all_services}
    types = [t for t in taxonomy_of(policy).values() if t.tier > 0]
    type_weights = [{1: 1, 2: 3, 3: 10}[t.tier] for t in types]

    def officer(service: str) -> tuple[str, str]:
        n = rng.randrange(register[service])
        return f"Cst. {_SURNAMES[n % len(_SURNAMES)]} {chr(65 + n // len(_SURNAMES) % 26)}.", str(1000 + n)

    services = sorted({p.service for p in plans})
    out = Seeded([], {}, [], [], services, 0, 0, dict(Counter(p.stage for p in plans)), 0.0)
    store = RecordsStore(target)
    await store.open()
    started = time.perf_counter()
    try:
        complaints, cases = ComplaintRecords(store), CaseRecords(store)
        for first in range(0, len(plans), _BATCH):
            async with store.transaction():  # the calls below join it: one commit per batch
                for i, p in enumerate(plans[first : first + _BATCH], start=first):
                    place = rng.choice(_PLACES)
                    await complaints.file(
                        NewComplaint(
                            file_number=p.number,
                            received_at=p.received,
                            channel=_weighted(rng, (("web", 6), ("phone", 2), ("walk_in", 1), ("mail", 1))),
                            taken_by=None,
                            kind=p.kind,
                            police_service=p.service,
                            occurred_on="",
                            occurred_time="",
                            location=f"{rng.randrange(100, 19999)} {place}",
                            narrative="What happened, in the person's own words, as they told it. " * 14,
                            desired_outcome="An apology and an explanation.",
                            name=f"Person {i}",
                            email=f"person{i}@example.org",
                            phone="780-555-0100",
                            mailing_address="",
                            contact_by="email",
                            safe_times="",
                            ok_to_leave_message=False,
                            accessibility="",
                            interpreter="",
                            consent_share=True,
                            stage="received",
                            status="open",
                            status_code_hash=f"seed-{p.number}",
                            intake_entry=f"{p.received}-{i}",
                            clocks=p.opening,
                        ),
                        by="public",
                    )
                    writes = []
                    for _ in range(p.allegations):
                        kind = rng.choices(types, weights=type_weights)[0]
                        name, badge = officer(p.service)
                        ended = p.stage in ("concluded", "closed") and p.route != "referred_out"
                        writes.append(
                            AllegationWrite(
                                None,
                                kind.code,
                                kind.tier,
                                f"{kind.label} at {place}",
                                p.level,
                                p.route,
                                name,
                                badge,
                                p.service,
                                finding=rng.choice(_FINDINGS) if ended else "",
                                finding_at=now_ms - rng.randrange(DAY, 30 * DAY) if ended else None,
                            )
                        )
                        if p.stage == "screening":
                            out.searches.append((p.service, badge))
                    history = [("status_update", "status update sent")] * min(10, (now_ms - p.received) // (60 * DAY))
                    change = CaseChange(
                        act="allegation",
                        by=p.assignee or "seed",
                        detail=f"{p.allegations} allegations recorded",
                        fields={
                            "stage": p.stage,
                            "route": p.route,
                            "level": p.level,
                            "assignee": p.assignee,
                            "flags": p.flags,
                            "summary": f"{p.kind} about {p.service} at {place}",
                            "ended_reason": "concluded" if p.stage == "closed" else "",
                            "status": "closed" if p.stage == "closed" else "open",
                        },
                        clocks=p.clocks,
                        allegations=writes,
                        more_timeline=[("stage", f"to {p.stage}"), *history],
                    )
                    out.versions[p.number] = await cases.apply(p.number, 1, change)
                    out.numbers.append(p.number)
                    if p.stage not in ("closed", "withdrawn", "dismissed"):
                        out.open_numbers.append(p.number)
                    out.counting_clocks += p.counting
        out.seconds = time.perf_counter() - started
        row = await store._row("SELECT COUNT(*) FROM case_officers")
        out.officers = int(row[0]) if row else 0
    finally:
        await store.close()
    return out


# ---- workspace: the queue, a file and searches over HTTP -------------------------------------


def _timed(http: Any, url: Callable[[], str], n: int, rows: list[int] | None = None) -> dict[str, float]:
    took = []
    for _ in range(n):
        t = time.perf_counter()
        answer = http.get(url())
        answer.raise_for_status()
        took.append((time.perf_counter() - t) * 1000)
        if rows is not None:
            rows.append(len(answer.json()["files"]))
    return latency(took)


def workspace(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from loadtest.hubproc import start_hub

    watch = MachineWatch()
    with start_hub() as hub:
        token = hub.token("cora", "case_coordinator")
        seeded = asyncio.run(
            seed(hub.data_dir / "records.sqlite3", args.files, args.allegations, int(time.time() * 1000))
        )
        rng = random.Random(3)
        searches = seeded.searches or [(s, str(1000 + rng.randrange(100))) for s in seeded.services]
        with httpx.Client(
            base_url=f"http://127.0.0.1:{hub.port}", headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as http:
            cpu_before = hub.cpu_s()
            t = time.perf_counter()
            first = http.get("/api/cases")  # the hub's first read of its store after the seeding
            first.raise_for_status()
            first_ms = (time.perf_counter() - t) * 1000
            counts: dict[str, list[int]] = {"queue": [], "own": [], "search": [], "overdue": []}

            def search() -> str:
                service, badge = rng.choice(searches)
                return f"/api/cases?{httpx.QueryParams(service=service, stage='screening', q=badge)}"

            result = {
                "queue_ms": _timed(http, lambda: "/api/cases", args.requests, counts["queue"]),
                "own_queue_ms": _timed(http, lambda: "/api/cases?assignee=me", args.requests, counts["own"]),
                "file_view_ms": _timed(http, lambda: f"/api/cases/{rng.choice(seeded.numbers)}", args.requests),
                "search_ms": _timed(http, search, args.requests, counts["search"]),
                "overdue_ms": _timed(http, lambda: "/api/cases?overdue=true", args.requests, counts["overdue"]),
            }
            cpu = hub.cpu_s() - cpu_before
        rss = hub.rss_kib()
    return {
        "scenario": "case workspace",
        "files": len(seeded.numbers),
        "allegations": args.allegations,
        "open_files": len(seeded.open_numbers),
        "counting_clocks": seeded.counting_clocks,
        "officers_in_register": seeded.officers,
        "stages": seeded.stages,
        "seed_s": round(seeded.seconds, 1),
        "seed_files_per_s": round(len(seeded.numbers) / seeded.seconds, 1),
        "requests_each": args.requests,
        "first_queue_ms": round(first_ms, 2),
        **result,
        # what the answers held: files in the queues (the page asks for 200), search hits
        "rows_mean": {k: round(sum(v) / max(1, len(v)), 1) for k, v in counts.items()},
        "hub_cpu_ms_per_request": round(cpu * 1000 / (1 + 5 * args.requests), 2),
        "hub_rss_kib": rss,
        "machine": watch.result(),
    }


# ---- reports: letters, the delay report and the trends at volume ---------------------------------


def reports(args: argparse.Namespace) -> dict[str, Any]:
    """Seeded files, then over HTTP: letters drafted, submitted and approved (each approval renders
    the letter and its PDF), the delay report as JSON, HTML and PDF, the trend tables over one and
    three years and one as CSV; and the letter templates rendered with their PDF in this process."""
    import httpx

    from loadtest.hubproc import start_hub
    from server.agency.policy import load_policy
    from server.cases.letters import LetterTemplates, sample_file
    from server.cases.rules.letters import LetterKind

    watch = MachineWatch()
    policy = load_policy(None)
    templates = LetterTemplates(policy)
    now = int(time.time() * 1000)
    direct: list[float] = []
    sizes: list[int] = []

    async def render_all() -> None:
        kinds = list(LetterKind)
        for i in range(args.letters):
            kind = kinds[i % len(kinds)]
            t = time.perf_counter()
            fields = templates.fields(sample_file(policy, now), kind, "Cora Coordinator", now)
            pdf = await templates.pdf(templates.render_page(fields, templates.render_body(kind, fields), f"PC-L-{i}"))
            direct.append((time.perf_counter() - t) * 1000)
            sizes.append(len(pdf))

    asyncio.run(render_all())
    with start_hub() as hub:
        seeded = asyncio.run(
            seed(hub.data_dir / "records.sqlite3", args.files, args.allegations, int(time.time() * 1000))
        )
        base = f"http://127.0.0.1:{hub.port}"
        cora = {"Authorization": f"Bearer {hub.token('cora', 'case_coordinator')}"}
        lena = {"Authorization": f"Bearer {hub.token('lena', 'team_lead')}"}
        with (
            httpx.Client(base_url=base, headers=cora, timeout=120) as c,
            httpx.Client(base_url=base, headers=lena, timeout=120) as lead,
        ):
            drafted: list[float] = []
            approved: list[float] = []
            for number in seeded.open_numbers[: args.letters]:
                t = time.perf_counter()
                made = c.post(f"/api/cases/{number}/letters", json={"kind": "acknowledgement"})
                made.raise_for_status()
                drafted.append((time.perf_counter() - t) * 1000)
                letter = made.json()["letter"]
                sent = c.post(
                    f"/api/cases/letters/{letter['id']}", json={"version": letter["version"], "move": "submit"}
                )
                sent.raise_for_status()
                letter = sent.json()["letter"]
                t = time.perf_counter()
                done = lead.post(
                    f"/api/cases/letters/{letter['id']}", json={"version": letter["version"], "move": "approve"}
                )
                done.raise_for_status()
                approved.append((time.perf_counter() - t) * 1000)

            def timed(url: str, n: int) -> tuple[dict[str, float], int]:
                took, size = [], 0
                for _ in range(n):
                    t = time.perf_counter()
                    got = lead.get(url)
                    got.raise_for_status()
                    took.append((time.perf_counter() - t) * 1000)
                    size = len(got.content)
                return latency(took), size

            past = len(lead.get("/api/cases/reports/delay").json()["files"])
            delay_json, _ = timed("/api/cases/reports/delay", args.requests)
            delay_html, _ = timed("/api/cases/reports/delay?format=html", args.requests)
            # While the report's PDF is laid out, how long the hub takes to answer anything else.
            import threading

            beside_ms: list[float] = []
            stop = threading.Event()

            def poke() -> None:
                with httpx.Client(base_url=base, timeout=60) as other:
                    while not stop.is_set():
                        t = time.perf_counter()
                        other.get("/healthz")
                        beside_ms.append((time.perf_counter() - t) * 1000)
                        stop.wait(0.05)

            poker = threading.Thread(target=poke)
            poker.start()
            delay_pdf, pdf_bytes = timed("/api/cases/reports/delay?format=pdf", max(3, args.requests // 4))
            stop.set()
            poker.join()
            today = dt.date.today()
            until = (today + dt.timedelta(days=1)).isoformat()
            one = f"since={(today - dt.timedelta(days=365)).isoformat()}&until={until}"
            three = f"since={(today - dt.timedelta(days=3 * 365 + 1)).isoformat()}&until={until}"
            trends_1y, _ = timed(f"/api/cases/reports/trends?{one}", args.requests)
            trends_3y, _ = timed(f"/api/cases/reports/trends?{three}", args.requests)
            csv_3y, _ = timed(f"/api/cases/reports/trends.csv?{three}&table=by_allegation_type", args.requests)
        rss = hub.rss_kib()
    return {
        "scenario": "case letters and reports",
        "files": len(seeded.numbers),
        "allegations": args.allegations,
        "letters": args.letters,
        "letter_render_and_pdf_ms": latency(direct),  # in process: merge fields, template, page, WeasyPrint
        "letter_pdf_bytes_mean": round(sum(sizes) / max(1, len(sizes))),
        "draft_ms": latency(drafted),  # over HTTP: the file read, the template merged, the draft written
        "approve_and_issue_ms": latency(approved),  # over HTTP: number, render, PDF, hash, written
        "files_past_target": past,
        "delay_report_json_ms": delay_json,
        "delay_report_html_ms": delay_html,
        "delay_report_pdf_ms": delay_pdf,
        "delay_report_pdf_bytes": pdf_bytes,
        "healthz_while_pdf_ms": latency(beside_ms),  # the hub answering others while the PDF is made
        "trends_one_year_ms": trends_1y,
        "trends_three_years_ms": trends_3y,
        "trend_csv_three_years_ms": csv_3y,
        "requests_each": args.requests,
        "hub_rss_kib": rss,
        "machine": watch.result(),
    }


# ---- sweep: the clock sweep over the due set -------------------------------------------------


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_of(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _sweep(args: argparse.Namespace) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from server.agency.policy import load_policy
    from server.bus.log import Bus
    from server.bus.partition import Partition
    from server.bus.valkey import EmbeddedValkey
    from server.cases.clock_board import DUE_KEY, SEED_EVERY_S, ClockSweep
    from server.config import Settings
    from server.records.store import RecordsStore

    with tempfile.TemporaryDirectory(prefix="dispatch-cases-") as tmp:
        now = int(time.time() * 1000)
        target = Path(tmp) / "records.sqlite3"
        # Open files (only their clocks count) holding --clocks counting clocks, none of their turns
        # announced yet: the sweeper's first start on files brought from elsewhere.
        seeded = await seed(target, None, None, now, counting=args.clocks, open_only=True, announced=False)
        valkey = EmbeddedValkey(Path(tmp) / "valkey")
        valkey.start()
        redis = aioredis.Redis.from_url(valkey.url)
        store = RecordsStore(target)
        await store.open()
        policy = load_policy(None)
        try:
            sweep = ClockSweep(redis, store, policy, Bus(redis, Settings(data_dir=Path(tmp)).resolved()))

            def cpu() -> tuple[float, float]:
                return _cpu_self(), _cpu_of(valkey.pid)

            def spent(before: tuple[float, float], wall: float) -> dict[str, float]:
                after = cpu()
                own, vk = after[0] - before[0], after[1] - before[1]
                return {"wall_s": round(wall, 3), "cpu_s": round(own, 3), "valkey_cpu_s": round(vk, 3)}

            c, t = cpu(), time.perf_counter()
            clocks = await sweep.board.seed(store, now)  # what a worker's first sweep does
            seeding = spent(c, time.perf_counter() - t)
            sweep._seeded_at = time.monotonic()  # what sweep() records once it has seeded
            seeded_set = await redis.zcard(Partition().intake(DUE_KEY))

            c, t = cpu(), time.perf_counter()
            backlog = 0
            while done := await sweep.sweep(now):  # the turns due at the first start: each announced once
                backlog += done
            backlog_cost = spent(c, time.perf_counter() - t)
            due_set = await redis.zcard(
                Partition().intake(DUE_KEY)
            )  # the overdue, announced, have nothing more to turn

            c, t = cpu(), time.perf_counter()
            await sweep.board.seed(store, now)  # every SEED_EVERY_S after that, onto a full set
            reseeding = spent(c, time.perf_counter() - t)
            sweep._seeded_at = time.monotonic()

            async def minute(at: Callable[[int], int | None], paced: bool) -> dict[str, Any]:
                walls, turns = [], 0
                c = cpu()
                start = time.monotonic()
                for i in range(60):
                    if paced:
                        await asyncio.sleep(max(0.0, start + i - time.monotonic()))
                    t = time.perf_counter()
                    turns += await sweep.sweep(at(i))
                    walls.append((time.perf_counter() - t) * 1000)
                end = cpu()
                own, vk = end[0] - c[0], end[1] - c[1]
                return {
                    "turns_announced": turns,
                    "sweep_ms": latency(walls),
                    "wall_s_per_minute": round(sum(walls) / 1000, 4),
                    "cpu_s_per_minute": round(own, 4),  # the sweeper and its SQLite
                    "valkey_cpu_s_per_minute": round(vk, 4),  # all of Valkey's, its idle work included
                    "cpu_ms_per_sweep": round((own + vk) * 1000 / 60, 3),
                }

            at_now = await minute(lambda i: None, paced=True)  # a sweep a second for a minute, at the real now
            zone = ZoneInfo(policy.complaints.timezone)
            tomorrow = dt.datetime.now(zone).date() + dt.timedelta(days=1)
            midnight = int(dt.datetime.combine(tomorrow, dt.time(), zone).timestamp() * 1000)
            # Warnings turn at 00:00 and due dates at the end of a day: a day's turns come in this minute.
            at_midnight = await minute(lambda i: midnight + i * 1000, paced=False)
            reseed_per_minute = (reseeding["cpu_s"] + reseeding["valkey_cpu_s"]) * 60 / SEED_EVERY_S
            return {
                "scenario": "clock sweep",
                "files": len(seeded.numbers),
                "stages": seeded.stages,
                "counting_clocks": clocks,
                "due_set_seeded": seeded_set,
                "seed_store_s": round(seeded.seconds, 1),
                "board_seed": seeding,
                "backlog_announced": backlog,
                "backlog": {**backlog_cost, "per_s": round(backlog / max(backlog_cost["wall_s"], 0.001), 1)},
                "due_set": due_set,
                "board_reseed": reseeding,
                "seed_every_s": SEED_EVERY_S,
                "reseed_cpu_s_per_minute": round(reseed_per_minute, 4),
                "minute_at_now": at_now,
                "steady_sweep_ms": at_now["sweep_ms"],
                "steady_cpu_s_per_minute": round(
                    at_now["cpu_s_per_minute"] + at_now["valkey_cpu_s_per_minute"] + reseed_per_minute, 4
                ),
                "minute_after_midnight": at_midnight,
            }
        finally:
            await store.close()
            await redis.aclose()
            valkey.stop()


def sweep(args: argparse.Namespace) -> dict[str, Any]:
    watch = MachineWatch()
    report = asyncio.run(_sweep(args))
    report["machine"] = watch.result()
    return report


# ---- beside: panic latency with and without a coordinator burst -------------------------------


async def _saves(
    base: str, token: str, versions: dict[str, int], rate: float, start_at: float, end_at: float
) -> dict[str, Any]:
    import httpx

    numbers = list(versions)
    took: list[float] = []
    statuses: Counter[int] = Counter()
    conflicts = 0
    in_window = [0]  # saves answered before the window ended
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30, limits=limits
    ) as http:
        busy: set[str] = set()  # files with a save in flight: one person saves a file at a time
        turn = 0

        async def save(k: int, due: float) -> None:
            nonlocal turn
            if len(busy) >= len(numbers):
                statuses[-1] += 1  # every file has a save in flight (-1 in the report): not sent
                return
            while numbers[turn % len(numbers)] in busy:
                turn += 1
            n = numbers[turn % len(numbers)]
            turn += 1
            busy.add(n)
            try:
                await send(k, n, due)
            finally:
                busy.discard(n)

        async def send(k: int, n: str, due: float) -> None:
            nonlocal conflicts
            try:
                for _ in range(2):  # a stale version: read the file again and save once more
                    body = {"version": versions[n], "act": {"act": "note", "text": f"Called the complainant ({k})."}}
                    answer = await http.post(f"/api/cases/{n}/acts", json=body)
                    if answer.status_code != 409:
                        break
                    conflicts += 1
                    versions[n] = (await http.get(f"/api/cases/{n}")).json()["file"]["version"]
            except httpx.HTTPError:
                statuses[0] += 1  # no answer (0 in the report)
                return
            statuses[answer.status_code] += 1
            if answer.status_code == 200:
                versions[n] = answer.json()["file"]["version"]
                done = time.time()
                took.append((done - due) * 1000)  # from when it was due: a late start counts
                in_window[0] += done <= end_at

        await asyncio.sleep(max(0.0, start_at - time.time()))
        tasks = []
        k = 0
        while (due := start_at + k / rate) < end_at:
            await asyncio.sleep(max(0.0, due - time.time()))
            tasks.append(asyncio.create_task(save(k, due)))
            k += 1
        await asyncio.gather(*tasks)
    window = end_at - start_at
    return {
        "asked_per_s": rate,
        "sent": k,
        "saved": statuses[200],
        "achieved_per_s": round(in_window[0] / window, 1),  # saved within the window, over it
        "conflicts": conflicts,
        "statuses": {str(s): n for s, n in sorted(statuses.items())},
        "save_ms": latency(took),
    }


def _saver(
    base: str, token: str, versions: dict[str, int], rate: float, start_at: float, end_at: float, q: Any
) -> None:
    """A coordinator burst: ``rate`` notes a second (open loop), each saved from the version last read."""
    q.put({"kind": "saves", **asyncio.run(_saves(base, token, versions, rate, start_at, end_at))})


def beside(args: argparse.Namespace) -> dict[str, Any]:
    import multiprocessing as mp

    from loadtest import hubproc, shift

    hubs: list[tuple[Any, Seeded, str]] = []

    @contextlib.contextmanager
    def seeded_hub(env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[Any]:
        # The panic scenario starts its own hub: its store is seeded (and the coordinator's token
        # made) before the run's clients connect, so the run measures saves, not seeding. Both runs
        # get the same files: the saves are the only difference.
        with hubproc.start_hub(env, timeout) as hub:
            now = int(time.time() * 1000)
            filled = asyncio.run(seed(hub.data_dir / "records.sqlite3", args.files, args.files * 8 // 3, now))
            hubs.append((hub, filled, hub.token("cora", "case_coordinator")))
            yield hub

    def burst(hub: Any, q: Any, start_at: float, end_at: float) -> list[Any]:
        _, filled, token = hubs[-1]
        open_files = {n: filled.versions[n] for n in filled.open_numbers}
        proc = mp.get_context("spawn").Process(
            daemon=True,
            target=_saver,
            # the panics' window: after the warmup, ending a second before the officers stop
            args=(
                f"http://127.0.0.1:{hub.port}",
                token,
                open_files,
                args.save_rate,
                start_at + args.warmup,
                end_at - 1.0,
                q,
            ),
        )
        proc.start()
        return [proc]

    watch = MachineWatch()
    with mock.patch.object(shift, "start_hub", seeded_hub):
        alone = shift.run_panic(args)
        busy = shift.run_panic(args, beside=burst, reports=["saves"])

    def summary(run: dict[str, Any]) -> dict[str, Any]:
        keys = ("latency_ms", "all_boards_ms", "press_to_hub_ms", "hub_to_board_ms", "published", "lost", "cpu_s")
        return {k: run.get(k) for k in keys} | {"positions_per_s": run["positions"]["achieved_per_s"]}

    return {
        "scenario": "panic beside a coordinator burst",
        "boards": args.boards,
        "officers": args.officers,
        "positions_asked_per_s": args.rate,
        "panic_rate": args.panic_rate,
        "duration_s": args.duration,
        "seeded_files": len(hubs[-1][1].numbers),
        "open_files_saved_to": len(hubs[-1][1].open_numbers),
        "alone": summary(alone),
        "with_saves": summary(busy),
        "saves": {k: v for k, v in busy["_saves"].items() if k != "kind"},
        "machine": watch.result(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtest.cases", description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path, help="write the report here too")
    sub = p.add_subparsers(dest="what", required=True)
    w = sub.add_parser("workspace", help="queue, file and search latency at volume")
    w.add_argument("--files", type=int, default=15_000)
    w.add_argument("--allegations", type=int, default=40_000)
    w.add_argument("--requests", type=int, default=300, help="of each kind")
    r = sub.add_parser("reports", help="letters (render, PDF, approve), the delay report and the trends at volume")
    r.add_argument("--files", type=int, default=15_000)
    r.add_argument("--allegations", type=int, default=40_000)
    r.add_argument("--letters", type=int, default=60, help="letters rendered, and drafted and approved")
    r.add_argument("--requests", type=int, default=20, help="of each report")
    s = sub.add_parser("sweep", help="the clock sweep's cost")
    s.add_argument("--clocks", type=int, default=15_000, help="counting clocks")
    b = sub.add_parser("beside", help="panic latency with and without a coordinator burst")
    # The shape of python -m loadtest.records hubs (positions 1.25/s per officer, a 2 s warmup, two
    # client processes), at a size for two cores.
    b.add_argument("--boards", type=int, default=100)
    b.add_argument("--officers", type=int, default=200)
    b.add_argument("--rate", type=float, default=250.0, help="positions per second, all officers")
    b.add_argument("--panic-rate", type=float, default=2.0)
    b.add_argument("--duration", type=float, default=30.0)
    b.add_argument("--warmup", type=float, default=2.0)
    b.add_argument("--procs", type=int, default=2)
    b.add_argument("--save-rate", type=float, default=50.0, help="file saves per second")
    b.add_argument("--files", type=int, default=2_000, help="files seeded into the hub's store")
    args = p.parse_args(argv)
    report = {"workspace": workspace, "reports": reports, "sweep": sweep, "beside": beside}[args.what](args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
