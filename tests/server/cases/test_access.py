"""Access-to-information requests. The clock, pure: 30 Alberta business days across holidays,
paused while waiting on the requester, extended once with a ground, and never overdue while
paused or extended. End to end on a running hub: a request received by mail; an incident and a
complaint file gathered with an upload; every phone number boxed across the package; the person
who submitted it cannot release it; a second person does; the release holds none of the numbers;
the timeline and the audit trail record every step; access staff see requests and no case file."""

from __future__ import annotations

import datetime as dt
import io
import time
from zoneinfo import ZoneInfo

import pypdf
import pypdfium2
import pytest
import weasyprint

from clients.connection import Connection
from protocol.messages import IncidentCreate, RadioAppend
from protocol.state import Location
from server.access.roles import Role
from server.bus.valkey import EmbeddedValkey
from server.cases.rules import access as rules
from server.cases.rules import clocks as engine
from server.cases.rules.stages import Refused
from tests.helpers import RunningHub, S, wait_for
from tests.server.cases.test_workspace import COORDINATOR, file_one, staff
from tests.server.intake.test_intake_lane import rows, worker_running

ZONE = ZoneInfo("America/Edmonton")
CAL = engine.Calendar()
ARI = ("ari", Role.ACCESS_STAFF)
RHEA = ("rhea", Role.ACCESS_STAFF)


def at(day: dt.date, hour: int = 10) -> int:
    return int(dt.datetime.combine(day, dt.time(hour), ZONE).timestamp() * 1000)


def due_day(clock: engine.Clock) -> dt.date:
    return dt.datetime.fromtimestamp(clock.due_at / 1000, ZONE).date()


def test_thirty_business_days_skip_weekends_and_alberta_holidays() -> None:
    easter = engine.start(rules.RESPONSE, at(dt.date(2026, 3, 25)), rules.clock_policy(), CAL)
    assert due_day(easter) == dt.date(2026, 5, 7)  # Good Friday skipped (Easter Monday is not a holiday here)
    winter = engine.start(rules.RESPONSE, at(dt.date(2026, 12, 10)), rules.clock_policy(), CAL)
    assert due_day(winter) == dt.date(2027, 1, 25)  # Christmas and New Year's Day skipped


def test_waiting_on_the_requester_pauses_and_is_never_overdue() -> None:
    policy = rules.clock_policy()
    clock = engine.start(rules.RESPONSE, at(dt.date(2026, 3, 25)), policy, CAL)
    paused = engine.pause(clock, at(dt.date(2026, 4, 8)), CAL)  # day 9 of 30
    long_after = at(dt.date(2026, 6, 30))
    assert engine.state(paused, long_after, policy, CAL) == "paused"  # past the old due date: still not overdue
    back = engine.resume(paused, at(dt.date(2026, 4, 15)), CAL)  # five business days later
    assert due_day(back) == dt.date(2026, 5, 14)  # the five days it waited are given back
    assert engine.state(back, at(dt.date(2026, 5, 14), 16), policy, CAL) in ("running", "warning")
    assert engine.state(back, at(dt.date(2026, 5, 15)), policy, CAL) == "overdue"


def test_an_extension_has_a_ground_a_limit_and_happens_once() -> None:
    policy = rules.clock_policy()
    clock = engine.start(rules.RESPONSE, at(dt.date(2026, 3, 25)), policy, CAL)
    grounds = rules.DEFAULT_GROUNDS
    with pytest.raises(Refused, match="not a ground"):
        rules.extend(clock, 10, "we_are_busy", grounds, at(dt.date(2026, 4, 1)), CAL)
    with pytest.raises(Refused, match="1 to 30"):
        rules.extend(clock, 31, "large_volume", grounds, at(dt.date(2026, 4, 1)), CAL)
    longer = rules.extend(clock, 30, "large_volume", grounds, at(dt.date(2026, 4, 1)), CAL)
    assert due_day(longer) == dt.date(2026, 6, 19)  # 30 more business days (Victoria Day skipped)
    assert engine.state(longer, at(dt.date(2026, 5, 20)), policy, CAL) == "extended"  # past the first date: not overdue
    with pytest.raises(Refused, match="extended already"):
        rules.extend(longer, 5, "consultation", grounds, at(dt.date(2026, 4, 2)), CAL)


def test_the_second_review_is_someone_elses() -> None:
    with pytest.raises(Refused, match="second person"):
        rules.check(rules.Move.RELEASE, rules.AccessStage.REVIEW, Role.ACCESS_STAFF, "ari", "ari")
    marked_it = frozenset({"ari", "rhea"})  # rhea drew boxes too: she cannot be the second reviewer
    with pytest.raises(Refused, match="gathered or marked"):
        rules.check(rules.Move.RELEASE, rules.AccessStage.REVIEW, Role.ACCESS_STAFF, "rhea", "ari", marked_it)
    assert (
        rules.check(rules.Move.RELEASE, rules.AccessStage.REVIEW, Role.ACCESS_STAFF, "rhea", "ari")
        is rules.AccessStage.RELEASED
    )
    with pytest.raises(Refused):
        rules.check(rules.Move.GATHER, rules.AccessStage.RECEIVED, Role.DISPATCHER, "ana", "")
    with pytest.raises(Refused, match="released"):
        rules.check(rules.Move.WITHDRAW, rules.AccessStage.RELEASED, Role.ACCESS_STAFF, "ari", "")


def _statement() -> bytes:
    pdf = weasyprint.HTML(
        string="<title>Notes of Sgt Moss</title><p>Witness Pat Doe, 780-555-0188, saw it at Churchill Square.</p>"
    ).write_pdf()
    assert pdf is not None
    return pdf


def _text(pdf: bytes) -> str:
    doc = pypdfium2.PdfDocument(pdf)
    one = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    two = "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    return one + "\n" + two


async def test_a_request_is_gathered_redacted_reviewed_and_released(hub: RunningHub, valkey: EmbeddedValkey) -> None:
    async with (
        worker_running(hub, valkey.url),
        staff(hub, ARI) as ari,
        staff(hub, RHEA) as rhea,
        staff(hub, COORDINATOR) as cora,
    ):
        desk = Connection(hub.url, token=hub.token("ana", Role.DISPATCHER))
        async with desk:
            where = Location("10230 Jasper Ave NW", 53.5413, -113.4947)
            created = await desk.command(IncidentCreate(id=desk.next_id(), call_type="DISORDER", location=where))
            incident = created.result["incident"]  # type: ignore[index]
            await desk.command(
                RadioAppend(id=desk.next_id(), channel="main", text="Caller at 587-555-0101", incident=incident)
            )

        async def archived() -> bool:
            return bool(await rows(hub, "SELECT 1 FROM radio_log WHERE incident=?", incident))

        await wait_for(archived, 10 * S)
        complaint = (await file_one(hub, phone="780-555-0142", name="Robin Vale"))["file_number"]

        received_on = (dt.datetime.now(ZONE).date() - dt.timedelta(days=3)).isoformat()
        made = await ari.post(
            "/api/access",
            json={"requester_name": "Sam Asker", "scope": "Everything about the disorder call on Jasper Ave",
                  "channel": "mail", "received_on": received_on, "requester_address": "1 Elm St, Edmonton AB",
                  "contact_by": "mail", "systems": ["dispatch records", "complaint files"]},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        view = made.json()
        number = view["request"]["request"]["number"]
        assert number.startswith("AR-") and view["clock"]["state"] == "running"
        due = view["clock"]["due_at"]

        async def move(http: object, what: str, **more: object) -> dict:  # type: ignore[type-arg]
            current = (await ari.get(f"/api/access/{number}")).json()
            got = await http.post(  # type: ignore[attr-defined]
                f"/api/access/{number}/moves",
                json={"version": current["request"]["request"]["version"], "move": what, **more},
            )
            assert got.status_code == 200, (what, got.text)
            return got.json()  # type: ignore[no-any-return]

        await move(ari, "assign", to="ari")
        await move(ari, "gather")
        waited = await move(ari, "wait", note="Which date do you mean?")
        assert waited["clock"]["state"] == "paused"
        resumed = await move(ari, "resumed", note="They said the 3rd")
        assert resumed["clock"]["state"] in ("running", "warning")
        extended = await move(ari, "extend", days=10, ground="large_volume")
        assert extended["clock"]["state"] == "extended" and extended["clock"]["due_at"] > due
        (notice,) = [x for x in extended["request"]["releases"] if x["kind"] == "notice"]
        got = await ari.get(f"/api/access/{number}/releases/{notice['id']}")
        assert "Commissioner" in _text(got.content) and "10 business days" in _text(got.content)

        for kind, ref in (("incident", incident), ("complaint", complaint)):
            g = await ari.post(f"/api/access/{number}/records", json={"kind": kind, "ref": ref})
            assert g.status_code == 201, g.text
        up = await ari.post(
            f"/api/access/{number}/uploads", params={"title": "Sergeant's notes"}, content=_statement(),
            headers={"Content-Type": "application/pdf"},
        )  # fmt: skip
        assert up.status_code == 201, up.text
        assert (
            await ari.post(f"/api/access/{number}/uploads", content=b"hello", headers={"Content-Type": "text/plain"})
        ).status_code == 415
        docs = up.json()["view"]["request"]["documents"]
        assert [d["kind"] for d in docs] == ["incident", "complaint", "upload"]
        original = await ari.get(f"/api/access/{number}/records/{docs[2]['id']}")
        assert original.content == _statement()  # kept as it came

        boxed = await ari.post(f"/api/access/{number}/matches", json={"pattern": "phone", "reason": "s.17"})
        assert boxed.status_code == 201, boxed.text
        assert len(boxed.json()["ids"]) >= 3  # one in each record at least
        named = await ari.post(f"/api/access/{number}/matches", json={"text": "Robin Vale", "reason": "s.17"})
        assert len(named.json()["ids"]) >= 1
        bad = await ari.post(f"/api/access/{number}/matches", json={"text": "x", "reason": "s.99"})
        assert bad.status_code == 422
        drawn = await ari.post(
            f"/api/access/{number}/boxes",
            json={
                "boxes": [
                    {
                        "document": docs[2]["id"],
                        "page": 0,
                        "x0": 0.1,
                        "y0": 0.02,
                        "x1": 0.4,
                        "y1": 0.06,
                        "reason": "s.20",
                    }
                ]
            },
        )
        assert drawn.status_code == 201

        await move(ari, "submit")
        # Under review, nothing more is gathered or marked: the review is of what will be released.
        late = await ari.post(f"/api/access/{number}/records", json={"kind": "complaint", "ref": complaint})
        assert late.status_code == 422
        late_box = await ari.post(f"/api/access/{number}/matches", json={"text": "Jasper", "reason": "s.17"})
        assert late_box.status_code == 422
        short = await ari.post(f"/api/access/{number}/matches", json={"text": "ab", "reason": "s.17"})
        assert short.status_code == 422
        # The complaint file shows who took it for which request, in its timeline and its audit rows.
        async with staff(hub, COORDINATOR) as coordinator:
            file_view = (await coordinator.get(f"/api/cases/{complaint}")).json()
        assert any(t["act"] == "access.gathered" and number in t["detail"] for t in file_view["file"]["timeline"])
        assert ("ari", "access.gather.file") in {
            (a, b) for a, b in await rows(hub, "SELECT actor, action FROM audit WHERE subject=?", complaint)
        }
        current = (await ari.get(f"/api/access/{number}")).json()["request"]["request"]["version"]
        mine = await ari.post(f"/api/access/{number}/moves", json={"version": current, "move": "release"})
        assert mine.status_code == 422 and "second person" in mine.json()["error"]
        released = await move(rhea, "release")
        assert released["request"]["request"]["stage"] == "released" and released["clock"]["state"] == "met"
        (package,) = [x for x in released["request"]["releases"] if x["kind"] == "release"]
        assert [p["part"] for p in package["parts"]] == ["response letter", "released records", "what was withheld"]
        pdf = (await rhea.get(f"/api/access/{number}/releases/{package['id']}")).content
        text = _text(pdf)
        for gone in ("780-555-0142", "587-555-0101", "780-555-0188", "Robin Vale"):
            assert gone not in text, gone
        assert "Churchill Square" in text and "Sam Asker" in text and "s.17" in text
        total = sum(d["pages"] for d in docs)
        assert package["pages"] == sum(p["pages"] for p in package["parts"]) and package["parts"][1]["pages"] == total

        acts = [t["act"] for t in released["request"]["timeline"]]
        for act in (
            "received",
            "assign",
            "wait",
            "resumed",
            "extend",
            "gathered",
            "redaction.marked",
            "submit",
            "released",
        ):
            assert act in acts, act
        audit = {(a, b) for a, b in await rows(hub, "SELECT actor, action FROM audit WHERE subject=?", number)}
        assert {("ari", "access.receive"), ("ari", "access.gather"), ("ari", "access.mark"), ("rhea", "access.release"),
                ("ari", "access.record.view"), ("rhea", "access.release.view")} <= audit  # fmt: skip

        # Access staff see requests, and nothing of case files beyond what a request gathers.
        assert (await ari.get(f"/api/cases/{complaint}")).status_code == 403
        assert (await ari.get("/api/cases")).status_code == 403
        async with staff(hub, ("ana", Role.DISPATCHER)) as ana:
            assert (await ana.get("/api/access")).status_code == 403
            assert (await ana.get(f"/api/access/{number}")).status_code == 403
        assert (await cora.get(f"/api/access/{number}")).status_code == 200  # coordinators help with requests

        stats = (await ari.get("/api/access/statistics")).json()
        assert stats["received"] >= 1 and stats["completed"] >= 1 and stats["extended"].get("large_volume", 0) >= 1
        assert stats["exceptions"]["s.17"] >= 4
        csv_text = (await ari.get("/api/access/statistics", params={"format": "csv"})).text
        assert "exception applied,s.17" in csv_text


async def test_the_response_clock_turns_once_across_two_sweepers(hub: RunningHub, valkey: EmbeddedValkey) -> None:
    import asyncio

    from server.cases.access_requests import AccessSweep

    async with staff(hub, ARI) as ari:
        made = await ari.post("/api/access", json={"requester_name": "Lee", "scope": "my file"})
        number = made.json()["request"]["request"]["number"]
        ctx = hub.ctx
        sweeps = [AccessSweep(ctx.redis, ctx.store, ctx.policy, ctx.bus) for _ in range(2)]
        later = int(time.time() * 1000) + 60 * 86_400_000
        done = await asyncio.gather(*(s.sweep(later) for s in sweeps for _ in range(3)))
        lines = await rows(hub, "SELECT act FROM access_timeline WHERE request=? AND act LIKE 'clock.%'", number)
        assert [x[0] for x in lines] == ["clock.overdue"] and sum(done) >= 1
