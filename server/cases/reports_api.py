"""Reports and oversight over HTTP: the public delay report (JSON, HTML, PDF), the trend and
caseload tables (JSON and CSV), early-warning flags and the top percentile of a service, file
reviews and audits with their trends, and the retention log. Every export is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from server.access.roles import Principal
from server.cases.reports import DelayRow, Reports, Table, csv_of
from server.cases.reviews import Reviews
from server.cases.rules import reviews as review_rules
from server.cases.rules.stages import Refused
from server.cases.workspace import Workspace
from server.context import context
from server.http.endpoints import Endpoint, answer, error
from server.http.inputs import read_json, read_query
from server.records.oversight import DisposalRow, OversightRecords, ReviewRow, WarningRow

__all__ = [
    "CsvQuery",
    "Day",
    "DelayQuery",
    "DelayReport",
    "Disposals",
    "DrawIn",
    "Drawn",
    "Month",
    "ReviewIn",
    "ReviewList",
    "ReviewQuery",
    "TopList",
    "TopOfficer",
    "TopQuery",
    "TrendKind",
    "TrendQuery",
    "Trends",
    "Warnings",
    "delay_report",
    "disposals",
    "draw",
    "endpoints",
    "review_trends",
    "reviews",
    "save_review",
    "top",
    "trends",
    "trends_csv",
    "warning_seen",
    "warnings",
]

Day = Annotated[str, Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")]
Month = Annotated[str, Meta(pattern=r"^\d{4}-\d{2}$")]
_CSV = "text/csv; charset=utf-8"


class DelayQuery(msgspec.Struct, forbid_unknown_fields=True):
    on: Day | None = None  # the day it is as of (default today)
    format: Literal["json", "html", "pdf"] = "json"


class DelayReport(msgspec.Struct):
    day: str
    target_days: int
    files: list[DelayRow]


class TrendQuery(msgspec.Struct, forbid_unknown_fields=True):
    since: Day | None = None  # files received from this day (default a year ago)
    until: Day | None = None  # to the day before this one (default tomorrow)


class CsvQuery(TrendQuery, forbid_unknown_fields=True):
    table: Annotated[str, Meta(max_length=40)] = "by_service"


class Trends(msgspec.Struct):
    since: str
    until: str
    tables: list[Table]


class Warnings(msgspec.Struct):
    warnings: list[WarningRow]


class TopQuery(msgspec.Struct, forbid_unknown_fields=True):
    service: Annotated[str, Meta(min_length=1, max_length=120)]


class TopOfficer(msgspec.Struct):
    officer: int
    name: str
    badge: str
    allegations: int


class TopList(msgspec.Struct):
    service: str
    percent: float
    officers: list[TopOfficer]


class ReviewQuery(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["compliance", "audit", ""] = ""
    period: Annotated[str, Meta(max_length=40)] = ""


class ReviewList(msgspec.Struct):
    reviews: list[ReviewRow]
    checklists: dict[str, list[dict[str, str]]]
    findings: list[str]


class DrawIn(msgspec.Struct, forbid_unknown_fields=True):
    period: Month


class Drawn(msgspec.Struct):
    period: str
    reviews: list[int]


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    answers: dict[Annotated[str, Meta(max_length=40)], Annotated[str, Meta(max_length=10)]] = {}
    findings: Annotated[list[Annotated[str, Meta(max_length=60)]], Meta(max_length=20)] = []
    notes: Annotated[str, Meta(max_length=4000)] = ""
    done: bool = False


class TrendKind(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["compliance", "audit"] = "audit"
    format: Literal["json", "csv"] = "json"


class Disposals(msgspec.Struct):
    disposals: list[DisposalRow]


def _reports(request: Request) -> Reports:
    return context(request).part(Reports)


def _day(text: str | None, default: dt.date) -> dt.date:
    if not text:
        return default
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise Refused(f"{text} is not a date.") from None
    if not dt.date(2000, 1, 1) <= day <= dt.date(2100, 12, 31):
        raise Refused(f"{text} is outside the years this hub reports on (2000 to 2100).")
    return day


async def delay_report(request: Request, who: Principal | None) -> Response:
    """Every file past the decision target on a day: publishable, no personal information."""
    assert who is not None
    ask = read_query(request, DelayQuery)
    reports = _reports(request)
    try:
        day = _day(ask.on, dt.datetime.now(reports.zone).date())
    except Refused as exc:
        return error(400, exc.message)
    rows = await reports.delays(day)
    await context(request).store.audit(who.user, "case.report.delay", day.isoformat(), ask.format)
    if ask.format == "json":
        from server.cases.timing import DECISION, policy_for

        return answer(DelayReport(day.isoformat(), policy_for(reports.policy, DECISION).days, rows))
    html = reports.delay_html(day, rows)
    if ask.format == "html":
        return HTMLResponse(html)
    pdf = await reports.delay_pdf(html)
    name = f"delay-report-{day.isoformat()}.pdf"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


def _window(ask: TrendQuery, reports: Reports) -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(reports.zone).date()
    until = _day(ask.until, today + dt.timedelta(days=1))
    since = _day(ask.since, until - dt.timedelta(days=365))
    if since >= until:
        raise Refused("since must be before until.")
    if (until - since).days > 366 * 10:
        raise Refused("Ask for ten years at most.")
    return since, until


async def trends(request: Request, who: Principal | None) -> Response:
    assert who is not None
    ask = read_query(request, TrendQuery)
    reports = _reports(request)
    try:
        since, until = _window(ask, reports)
    except Refused as exc:
        return error(400, exc.message)
    await context(request).store.audit(who.user, "case.report.trends", f"{since.isoformat()}..{until.isoformat()}")
    return answer(Trends(since.isoformat(), until.isoformat(), await reports.trends(since, until)))


async def trends_csv(request: Request, who: Principal | None) -> Response:
    assert who is not None
    ask = read_query(request, CsvQuery)
    reports = _reports(request)
    try:
        since, until = _window(ask, reports)
    except Refused as exc:
        return error(400, exc.message)
    tables = {t.name: t for t in await reports.trends(since, until)}
    table = tables.get(ask.table)
    if table is None:
        return error(404, f"no table {ask.table}: one of {', '.join(tables)}")
    await context(request).store.audit(
        who.user, "case.report.export", ask.table, f"since={since.isoformat()} until={until.isoformat()}"
    )
    name = f"{ask.table}-{since.isoformat()}-{until.isoformat()}.csv"
    return Response(csv_of(table), media_type=_CSV, headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def warnings(request: Request, who: Principal | None) -> Response:
    assert who is not None
    rows = await OversightRecords(context(request).store).warnings()
    await context(request).store.audit(who.user, "case.warnings.view", "", str(len(rows)))
    return answer(Warnings(rows))


async def warning_seen(request: Request, who: Principal | None) -> Response:
    assert who is not None
    warning_id = int(request.path_params["id"])
    records = OversightRecords(context(request).store)
    if await records.warning(warning_id) is None:
        return error(404, f"no warning {warning_id}")
    await records.seen(warning_id, who.user)
    found = await records.warning(warning_id)
    return answer(found)


async def top(request: Request, who: Principal | None) -> Response:
    """The top percentile of a service's officers by allegations in the window (audited)."""
    assert who is not None
    ask = read_query(request, TopQuery)
    ctx = context(request)
    ew = ctx.part(Workspace).warnings
    out = []
    for officer, n in await ew.top(ask.service):
        named = await ew.records.officer(officer)
        out.append(TopOfficer(officer, named[0] if named else "", named[1] if named else "", n))
    await ctx.store.audit(who.user, "case.warnings.top", ask.service)
    return answer(TopList(ask.service, ctx.policy.complaints.early_warning.top_percent, out))


def _checklists() -> dict[str, list[dict[str, str]]]:
    return {
        kind: [{"key": i.key, "label": i.label} for i in review_rules.checklist_for(kind)]
        for kind in ("compliance", "audit")
    }


async def reviews(request: Request, who: Principal | None) -> Response:
    assert who is not None
    ask = read_query(request, ReviewQuery)
    store = context(request).store
    rows = await OversightRecords(store).reviews(ask.kind or None, ask.period or None)
    await store.audit(who.user, "case.reviews.view", ask.period, ask.kind)
    return answer(ReviewList(rows, _checklists(), [*review_rules.AUDIT_FINDINGS.values(), "other"]))


async def draw(request: Request, who: Principal | None) -> Response:
    assert who is not None
    ask = await read_json(request, DrawIn, 1024)
    ctx = context(request)
    try:
        made = await Reviews(ctx.store, ctx.policy).draw(ask.period)
    except Refused as exc:
        return error(422, exc.message)
    await ctx.store.audit(who.user, "case.audit.draw", ask.period, str(len(made)))
    return answer(Drawn(ask.period, made), 201)


async def save_review(request: Request, who: Principal | None) -> Response:
    assert who is not None
    review_id = int(request.path_params["id"])
    ask = await read_json(request, ReviewIn, 16 * 1024)
    ctx = context(request)
    try:
        saved = await Reviews(ctx.store, ctx.policy).save(
            review_id, who.user, dict(ask.answers), list(ask.findings), ask.notes, ask.done
        )
    except LookupError:
        return error(404, f"no review {review_id}")
    except Refused as exc:
        return error(422, exc.message)
    return answer(saved)


async def review_trends(request: Request, who: Principal | None) -> Response:
    assert who is not None
    ask = read_query(request, TrendKind)
    ctx = context(request)
    keys, by = await Reviews(ctx.store, ctx.policy).trends(ask.kind)
    kinds = sorted({k for c in by.values() for k in c if k != "reviewed"})
    rows: list[list[Any]] = [[key, by[key]["reviewed"], *(by[key][k] for k in kinds)] for key in keys]
    first = "month" if ask.kind == "audit" else "police service"
    table = Table(f"{ask.kind}_findings", f"Findings of {ask.kind} reviews", [first, "reviewed", *kinds], rows)
    await ctx.store.audit(who.user, "case.report.export" if ask.format == "csv" else "case.report.view", table.name)
    if ask.format == "csv":
        return Response(
            csv_of(table), media_type=_CSV, headers={"Content-Disposition": f'attachment; filename="{table.name}.csv"'}
        )
    return answer(table)


async def disposals(request: Request, who: Principal | None) -> Response:
    assert who is not None
    store = context(request).store
    await store.audit(who.user, "case.disposals.view")
    return answer(Disposals(await OversightRecords(store).disposals()))


def endpoints() -> list[Endpoint]:
    tag = "case reports"
    return [
        Endpoint(
            "GET",
            "/api/cases/reports/delay",
            delay_report,
            "Files past the decision target on a day (publishable)",
            tag,
            {200: DelayReport},
            query=DelayQuery,
            also=("text/html", "application/pdf"),
        ),
        Endpoint(
            "GET",
            "/api/cases/reports/trends",
            trends,
            "Trend and caseload tables",
            tag,
            {200: Trends},
            query=TrendQuery,
        ),
        Endpoint(
            "GET",
            "/api/cases/reports/trends.csv",
            trends_csv,
            "One trend table as CSV (audited)",
            tag,
            {200: None},
            query=CsvQuery,
            media=_CSV,
        ),
        Endpoint("GET", "/api/cases/warnings", warnings, "Early-warning flags on officers", tag, {200: Warnings}),
        Endpoint(
            "GET",
            "/api/cases/warnings/top",
            top,
            "The top percentile of a service's officers",
            tag,
            {200: TopList},
            query=TopQuery,
        ),
        Endpoint(
            "POST",
            "/api/cases/warnings/{id:rowid}/seen",
            warning_seen,
            "Mark a flag seen",
            tag,
            {200: WarningRow},
            examples={"id": 1},
        ),
        Endpoint(
            "GET", "/api/cases/reviews", reviews, "File reviews and audits", tag, {200: ReviewList}, query=ReviewQuery
        ),
        Endpoint(
            "POST",
            "/api/cases/reviews/draw",
            draw,
            "Draw a month's file audit sample",
            tag,
            {201: Drawn},
            body=DrawIn,
            max_body=1024,
        ),
        Endpoint(
            "GET",
            "/api/cases/reviews/trends",
            review_trends,
            "Review findings by kind",
            tag,
            {200: Table},
            query=TrendKind,
            also=(_CSV,),
        ),
        Endpoint(
            "POST",
            "/api/cases/reviews/{id:rowid}",
            save_review,
            "Record a review's checklist and findings",
            tag,
            {200: ReviewRow},
            body=ReviewIn,
            examples={"id": 1},
            max_body=16 * 1024,
        ),
        Endpoint("GET", "/api/cases/disposals", disposals, "What retention disposed of", tag, {200: Disposals}),
    ]
