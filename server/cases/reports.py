"""The case reports: the legislated delay report (publishable, no personal information), and
the trend and caseload reports the team lead and manager read, each table also as CSV.

Rows come from ``server/records/case_reports.py``; counting, percentiles and the scrubbing of
personal information are here and in ``rules/letters.scrub``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import msgspec

from server.agency.policy import Policy
from server.cases.pdf import PdfRenderer, render_pdf, run_anywhere
from server.cases.rules.letters import scrub
from server.cases.rules.stages import Route, Stage, public_words
from server.cases.timing import DECISION, policy_for
from server.records.case_reports import CaseReportRecords
from server.records.cases import CaseRecords
from server.records.store import RecordsStore

__all__ = ["DAY", "MILESTONES", "DelayRow", "Reports", "Table", "csv_of"]

DAY = 86_400_000
MILESTONES = (
    ("acknowledged", "acknowledge"),
    ("screened", "screened"),
    ("routed", "route"),
    ("concluded", "conclude"),
    ("closed", "close"),
)


class DelayRow(msgspec.Struct):
    file_number: str
    police_service: str
    received: str
    days_open: int
    days_late: int
    where: str
    reason: str
    expected: str
    doing: str


class Table(msgspec.Struct):
    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]


def csv_of(table: Table) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(table.columns)
    for row in table.rows:
        w.writerow([_cell(v) for v in row])
    return out.getvalue()


def _cell(v: Any) -> Any:
    # A cell a spreadsheet would run as a formula is written as text.
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return "" if v is None else v


def _pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return round(ordered[k], 1)


class Reports:
    def __init__(self, store: RecordsStore, policy: Policy, renderer: PdfRenderer | None = None) -> None:
        self.renderer = renderer
        self.rows = CaseReportRecords(store)
        self.cases = CaseRecords(store)
        self.policy = policy
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("server.cases", "templates/reports"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.policy.complaints.timezone)

    # ---- the delay report ---------------------------------------------------------

    async def delays(self, day: dt.date) -> list[DelayRow]:
        """Every file past the decision target at the end of ``day`` (the agency's time), with
        personal information withheld from what staff wrote."""
        end = int(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self.zone).timestamp() * 1000) - 1
        out = []
        for r in await self.rows.past_target(DECISION, end):
            stage = Stage(r.stage) if r.stage in {s.value for s in Stage} else Stage.ROUTED
            route = Route(r.route) if r.route in {x.value for x in Route} else None
            out.append(
                DelayRow(
                    file_number=r.file_number,
                    police_service=r.police_service,
                    received=self._date(r.received_at),
                    days_open=(end - r.received_at) // DAY,
                    days_late=max(0, (end - r.due_at) // DAY),
                    where=public_words(stage, route).split(". ")[0].rstrip(".") + ".",
                    reason=scrub(r.reason, r.personal),
                    expected=r.expected,
                    doing=scrub(r.doing, r.personal),
                )
            )
        return out

    def delay_html(self, day: dt.date, rows: list[DelayRow]) -> str:
        return self.env.get_template("delay.html.j2").render(
            sender=self.policy.complaints.letters.sender,
            target_days=policy_for(self.policy, DECISION).days,
            day=day.strftime("%B %-d, %Y"),
            rows=rows,
            generated=dt.datetime.now(self.zone).strftime("%B %-d, %Y at %H:%M"),
        )

    async def delay_pdf(self, html: str) -> bytes:
        return await run_anywhere(self.renderer, render_pdf, html)

    def _date(self, ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, self.zone).date().isoformat()

    def _month(self, ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, self.zone).strftime("%Y-%m")

    # ---- trends -------------------------------------------------------------------

    async def trends(self, since: dt.date, until: dt.date) -> list[Table]:
        """Every table of the trend and caseload report for files received in [since, until)."""
        start = int(dt.datetime.combine(since, dt.time(), self.zone).timestamp() * 1000)
        end = int(dt.datetime.combine(until, dt.time(), self.zone).timestamp() * 1000)
        files = await self.rows.files(start, end)
        allegations = await self.rows.allegations(start, end)
        months = sorted({self._month(f.received_at) for f in files})
        tables = [
            self._per_month(
                "by_service",
                "Files by police service, per month",
                months,
                ((self._month(f.received_at), f.police_service) for f in files),
            ),
            self._per_month(
                "by_level",
                "Files by level, per month",
                months,
                ((self._month(f.received_at), f"level {f.level}" if f.level else "not set") for f in files),
            ),
            self._per_month(
                "by_channel",
                "Files by how they reached us, per month",
                months,
                ((self._month(f.received_at), f.channel) for f in files),
            ),
            self._per_month(
                "by_kind",
                "Complaints, concerns and compliments, per month",
                months,
                ((self._month(f.received_at), f.kind) for f in files),
            ),
            self._per_month(
                "by_outcome",
                "Files by where they ended, per month",
                months,
                ((self._month(f.received_at), _outcome(f.stage, f.route)) for f in files),
            ),
            self._per_month(
                "by_allegation_type",
                "Allegations by type, per month",
                months,
                ((self._month(a.received_at), a.type) for a in allegations),
            ),
            self._per_month(
                "by_tier",
                "Allegations by tier, per month",
                months,
                ((self._month(a.received_at), f"tier {a.tier}") for a in allegations),
            ),
            self._per_month(
                "by_finding",
                "Allegations by finding, per month",
                months,
                ((self._month(a.received_at), a.finding or "no finding yet") for a in allegations),
            ),
        ]
        tables.append(await self._milestones(start, end))
        tables.append(await self._clocks_met(start, end, int(time.time() * 1000)))
        tables.append(await self._caseload())
        tables.append(await self._referrals(start, end))
        return tables

    def _per_month(self, name: str, title: str, months: list[str], pairs: Iterable[tuple[str, str]]) -> Table:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for month, key in pairs:
            counts[key][month] += 1
        keys = sorted(counts, key=lambda k: (-sum(counts[k].values()), k))
        rows = [[k, *(counts[k][m] for m in months), sum(counts[k].values())] for k in keys]
        return Table(name, title, ["", *months, "total"], rows)

    async def _milestones(self, start: int, end: int) -> Table:
        spans: dict[str, list[float]] = defaultdict(list)
        for act, received, at in await self.rows.milestones(start, end, tuple(a for _, a in MILESTONES)):
            spans[act].append((at - received) / DAY)
        rows = []
        for label, act in MILESTONES:
            v = spans.get(act, [])
            rows.append([label, len(v), _pct(v, 50), _pct(v, 90), _pct(v, 95)])
        return Table(
            "milestones", "Days from receipt to each milestone", ["milestone", "files", "p50", "p90", "p95"], rows
        )

    async def _clocks_met(self, start: int, end: int, now: int) -> Table:
        tally: dict[str, Counter[str]] = defaultdict(Counter)
        for c in await self.rows.clocks(start, end):
            name = "referral" if c.clock.startswith("referral") else c.clock
            if c.met_at is not None:
                tally[name]["met on time" if c.met_at <= c.due_at else "met late"] += 1
            elif c.stopped:
                tally[name]["stopped"] += 1
            elif c.paused:
                tally[name]["paused"] += 1
            else:
                tally[name]["overdue" if c.due_at < now else "running"] += 1
        cols = ["met on time", "met late", "overdue", "running", "paused", "stopped"]
        rows = []
        for name in sorted(tally):
            t = tally[name]
            decided = t["met on time"] + t["met late"] + t["overdue"]
            share = round(100 * t["met on time"] / decided, 1) if decided else None
            rows.append([name, *(t[c] for c in cols), share])
        return Table("clocks", "Share of each clock met", ["clock", *cols, "% met on time"], rows)

    async def _caseload(self) -> Table:
        rows = await self.cases.caseload(int(time.time() * 1000))
        return Table(
            "caseload",
            "Open files per coordinator",
            ["coordinator", "open", "at risk", "overdue"],
            [[r.assignee or "(unassigned)", r.open, r.at_risk, r.overdue] for r in rows],
        )

    async def _referrals(self, start: int, end: int) -> Table:
        counts: Counter[tuple[str, str, str]] = Counter()
        days: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        for r in await self.rows.referrals(start, end):
            key = (r.body, f"level {r.level}" if r.level else "", r.outcome)
            counts[key] += 1
            if r.outcome_at is not None:
                days[key].append((r.outcome_at - r.sent_at) / DAY)
        rows = [[*k, n, _pct(days[k], 50)] for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        return Table(
            "referrals",
            "Referrals out concluded, with their outcomes",
            ["body", "level", "outcome", "files", "median days"],
            rows,
        )


def _outcome(stage: str, route: str) -> str:
    if stage in ("closed", "concluded"):
        return f"{stage}: {route.replace('_', ' ')}" if route else stage
    if stage in ("withdrawn", "dismissed"):
        return stage
    return "open"
