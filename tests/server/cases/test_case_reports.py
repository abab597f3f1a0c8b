"""Reports and oversight on a running hub: the delay report lists exactly the files past target
on a day, with no personal information, as JSON, HTML and PDF; the trend tables and their CSV;
the compliance review of a concluded referral and the month's file audit; retention disposes of
transitory records and logs no content; the audit trail as CSV, filtered, its export audited."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pypdfium2

from server.bus.valkey import EmbeddedValkey
from server.cases.retention import Retention
from tests.helpers import RunningHub
from tests.server.cases.test_workspace import COORDINATOR, LEAD, file_one, ok, staff, view
from tests.server.intake.test_intake_lane import rows, worker_running

DAY = 86_400_000
ZONE = ZoneInfo("America/Edmonton")


def pdf_text(pdf: bytes) -> str:
    doc = pypdfium2.PdfDocument(pdf)
    return " ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))


async def set_decision(hub: RunningHub, number: str, due_at: int, **more: Any) -> None:
    """Seed the file's decision clock as a file received long ago would have it."""
    sets = ", ".join(["due_at=?", *(f"{k}=?" for k in more)])
    async with hub.ctx.store.transaction() as db:
        await db.execute(
            f"UPDATE complaint_clocks SET {sets} WHERE file_number=? AND clock='decision'",
            (due_at, *more.values(), number),
        )
        await db.execute("UPDATE complaints SET received_at=? WHERE file_number=?", (due_at - 180 * DAY, number))


async def refer_out(cora: httpx.AsyncClient, lena: httpx.AsyncClient, number: str) -> dict[str, Any]:
    """A file through screening to a level 4 referral, its outcome reported back."""
    await ok(cora, number, act="take")
    await ok(cora, number, act="start_screening")
    await ok(
        cora,
        number,
        act="allegation",
        type="professional_performance",
        officer_name="Reyes",
        officer_badge="77",
        summary="slow",
    )
    await ok(cora, number, act="checklist", marks={"officer": "ok", "outcome": "waived", "consent": "ok"})
    await ok(cora, number, act="screened")
    await ok(cora, number, act="recommend", reasons="performance")
    routed = await ok(
        lena,
        number,
        act="route",
        level=4,
        route="referred_out",
        body="Edmonton Police Service",
        reasons="performance only",
    )
    (referral,) = routed["file"]["referrals"]
    await ok(cora, number, act="notify", referral=referral["id"], message="We sent your complaint to the service.")
    await ok(cora, number, act="referral_outcome", referral=referral["id"], outcome="Coaching given.")
    return referral


async def test_the_delay_report_lists_exactly_the_files_past_target_with_no_personal_information(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora:
        now = int(time.time() * 1000)
        people = [
            ("Marguerite Oduya", "marg.oduya@example.org", "780-555-0199"),
            ("Tomas Lindqvist", "tl@example.org", "587-555-0123"),
        ]
        files = []
        for i in range(5):
            name, email, phone = people[i % 2]
            r = await file_one(hub, name=name, email=email, phone=phone, occurred_on="2026-01-05", location="Whyte Ave")
            files.append(r["file_number"])
        late, future, met, paused, recent = files
        await set_decision(hub, late, now - 10 * DAY)
        await ok(cora, late, act="take")
        await ok(
            cora,
            late,
            act="allegation",
            type="discourtesy",
            officer_name="Constable Brightwater",
            officer_badge="5150",
            summary="rude",
        )
        await ok(
            cora,
            late,
            act="delay_reason",
            clock="decision",
            reason="Waiting for Constable Brightwater's notes; Marguerite Oduya (780-555-0199) was told.",
            expected=(dt.date.today() + dt.timedelta(days=30)).isoformat(),
            doing="Asked the service twice; a date is set.",
        )
        await set_decision(hub, future, now + 20 * DAY)
        await set_decision(hub, met, now - 30 * DAY, met_at=now - 40 * DAY)
        await set_decision(hub, paused, now - 30 * DAY, paused_at=now - 50 * DAY)
        day = dt.datetime.now(ZONE).date()
        await set_decision(hub, recent, now - DAY)

        got = (await cora.get("/api/cases/reports/delay")).json()
        assert got["day"] == day.isoformat() and got["target_days"] == 180
        listed = {r["file_number"] for r in got["files"]}
        assert listed & set(files) == {late, recent}
        row = next(r for r in got["files"] if r["file_number"] == late)
        assert row["days_late"] >= 9 and row["expected"] and "a date is set" in row["doing"]
        assert "[withheld]" in row["reason"] and "notes" in row["reason"]
        # A day in the past: only what was past target then.
        before = (
            await cora.get("/api/cases/reports/delay", params={"on": (day - dt.timedelta(days=5)).isoformat()})
        ).json()
        assert {r["file_number"] for r in before["files"]} & set(files) == {late}

        html = (await cora.get("/api/cases/reports/delay", params={"format": "html"})).text
        pdf = await cora.get("/api/cases/reports/delay", params={"format": "pdf"})
        assert pdf.headers["content-type"] == "application/pdf"
        text = pdf_text(pdf.content)
        assert late in html and late in text
        for said in (html, text):
            for name, email, phone in people:
                for piece in (*name.split(), email, phone, "555"):
                    assert piece not in said, piece
            assert "Brightwater" not in said and "5150" not in said
        assert await rows(hub, "SELECT 1 FROM audit WHERE actor='cora' AND action='case.report.delay'")


async def test_trend_tables_count_the_files_and_download_as_csv(hub: RunningHub, valkey: EmbeddedValkey) -> None:
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora, staff(hub, LEAD) as lena:
        numbers = [
            (
                await file_one(
                    hub, police_service="Calgary Police Service", occurred_on="2026-10-02", location="Stephen Ave"
                )
            )["file_number"]
            for _ in range(3)
        ]
        await refer_out(cora, lena, numbers[0])
        trends = (await lena.get("/api/cases/reports/trends")).json()
        tables = {t["name"]: t for t in trends["tables"]}
        assert {
            "by_service",
            "by_level",
            "by_allegation_type",
            "by_tier",
            "by_finding",
            "by_channel",
            "milestones",
            "clocks",
            "caseload",
            "referrals",
        } <= set(tables)
        calgary = next(r for r in tables["by_service"]["rows"] if r[0] == "Calgary Police Service")
        assert calgary[-1] >= 3
        ack = next(r for r in tables["milestones"]["rows"] if r[0] == "screened")
        assert ack[1] >= 1
        assert any(r[0] == "Edmonton Police Service" and r[2] == "Coaching given." for r in tables["referrals"]["rows"])
        got = await lena.get("/api/cases/reports/trends.csv", params={"table": "by_service"})
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
        assert "attachment" in got.headers["content-disposition"]
        parsed = list(csv.reader(io.StringIO(got.text)))
        assert parsed[0][-1] == "total" and any(
            r[0] == "Calgary Police Service" and int(r[-1]) >= 3 for r in parsed[1:]
        )
        assert (await lena.get("/api/cases/reports/trends.csv", params={"table": "nope"})).status_code == 404
        assert await rows(
            hub, "SELECT 1 FROM audit WHERE actor='lena' AND action='case.report.export' AND subject='by_service'"
        )


async def test_a_concluded_referral_is_reviewed_and_the_month_is_audited(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora, staff(hub, LEAD) as lena:
        number = (await file_one(hub, occurred_on="2026-11-01", location="Jasper Ave"))["file_number"]
        await refer_out(cora, lena, number)
        found = (await cora.get("/api/cases/reviews", params={"kind": "compliance"})).json()
        review = next(r for r in found["reviews"] if r["file_number"] == number)
        assert review["checklist"] == {"timeline_met": "yes"} and review["police_service"] == "Edmonton Police Service"
        unfinished = await cora.post(
            f"/api/cases/reviews/{review['id']}", json={"answers": {"steps_taken": "yes"}, "done": True}
        )
        assert unfinished.status_code == 422
        answers = {
            "steps_taken": "yes",
            "complainant_notified": "no",
            "officer_notified": "yes",
            "reasons_given": "yes",
            "review_rights": "n/a",
        }
        done = await cora.post(f"/api/cases/reviews/{review['id']}", json={"answers": answers, "done": True})
        assert done.status_code == 200, done.text
        assert done.json()["findings"] == ["missed: complainant notified"]
        assert (await cora.post(f"/api/cases/reviews/{review['id']}", json={"answers": answers})).status_code == 422
        by_service = (await lena.get("/api/cases/reviews/trends", params={"kind": "compliance"})).json()
        edmonton = next(r for r in by_service["rows"] if r[0] == "Edmonton Police Service")
        assert edmonton[1] >= 1

        withdrawn = (await file_one(hub))["file_number"]
        await ok(cora, withdrawn, act="withdraw", reason="the complainant asked")
        month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
        assert (await cora.post("/api/cases/reviews/draw", json={"period": month})).status_code == 403
        drawn = await lena.post("/api/cases/reviews/draw", json={"period": month})
        assert drawn.status_code == 201 and drawn.json()["reviews"]
        again = await lena.post("/api/cases/reviews/draw", json={"period": month})
        assert again.json()["reviews"] == []  # drawn once
        audits = (await lena.get("/api/cases/reviews", params={"kind": "audit", "period": month})).json()["reviews"]
        mine = next(r for r in audits if r["file_number"] == withdrawn)
        saved = await lena.post(
            f"/api/cases/reviews/{mine['id']}",
            json={
                "answers": {
                    "classification": "yes",
                    "clocks_met": "no",
                    "letters_sent": "no",
                    "documents_complete": "yes",
                },
                "done": True,
            },
        )
        assert saved.json()["findings"] == ["clock missed", "letter missing"]
        trend = await lena.get("/api/cases/reviews/trends", params={"kind": "audit", "format": "csv"})
        parsed = list(csv.reader(io.StringIO(trend.text)))
        header = parsed[0]
        row = next(r for r in parsed if r[0] == month)
        assert int(row[header.index("clock missed")]) >= 1
        timeline = [t["act"] for t in (await view(cora, withdrawn))["file"]["timeline"]]
        assert "review.audit" in timeline


async def test_retention_disposes_of_transitory_records_and_logs_no_content(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora, staff(hub, LEAD) as lena:
        number = (await file_one(hub))["file_number"]
        await ok(cora, number, act="note", text="WORKING: call back Tuesday about the badge", transitory=True)
        await ok(cora, number, act="note", text="Spoke to the complainant: kept")
        draft = (await cora.post(f"/api/cases/{number}/letters", json={"kind": "acknowledgement"})).json()["letter"]
        kept = (await cora.post(f"/api/cases/{number}/letters", json={"kind": "closing"})).json()["letter"]
        old = int(time.time() * 1000) - 100 * DAY
        async with hub.ctx.store.transaction() as db:
            await db.execute("UPDATE case_letters SET updated_at=? WHERE id=?", (old, draft["id"]))
            await db.execute("UPDATE case_timeline SET at=? WHERE file_number=? AND transitory <> 0", (old, number))
        assert await Retention(hub.ctx.store, hub.ctx.policy).run() == (1, 1)
        assert await Retention(hub.ctx.store, hub.ctx.policy).run() == (0, 0)
        letters = [x["id"] for x in (await cora.get(f"/api/cases/{number}/letters")).json()["letters"]]
        assert letters == [kept["id"]]
        notes = [t["detail"] for t in (await view(cora, number))["file"]["timeline"] if t["act"] == "note"]
        assert notes == ["Spoke to the complainant: kept"]
        log = (await lena.get("/api/cases/disposals")).json()["disposals"]
        mine = [d for d in log if d["file_number"] == number]
        assert sorted(d["kind"] for d in mine) == ["letter draft", "working note"]
        text = str(await rows(hub, "SELECT * FROM case_disposals")) + str(
            await rows(hub, "SELECT * FROM audit WHERE action='case.dispose'")
        )
        assert "Tuesday" not in text and "Dear" not in text
        assert (await cora.get("/api/cases/disposals")).status_code == 403


async def test_the_audit_trail_exports_as_csv_filtered_and_the_export_is_audited(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora, staff(hub, LEAD) as lena:
        number = (await file_one(hub))["file_number"]
        since = int(time.time() * 1000)
        await view(cora, number)
        await ok(cora, number, act="take")
        got = await lena.get("/api/admin/audit.csv", params={"file": number, "since": since})
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
        parsed = list(csv.DictReader(io.StringIO(got.text)))
        assert {(r["actor"], r["action"]) for r in parsed} >= {("cora", "case.view"), ("cora", "case.take")}
        assert all(r["subject"] == number and int(r["at"]) >= since for r in parsed)
        only = list(
            csv.DictReader(
                io.StringIO((await lena.get("/api/admin/audit.csv", params={"user": "cora", "file": number})).text)
            )
        )
        assert only and all(r["actor"] == "cora" for r in only)
        exported = await rows(hub, "SELECT actor, subject FROM audit WHERE action='audit.export'")
        assert ("lena", number) in exported
        assert (await cora.get("/api/admin/audit.csv")).status_code == 403
