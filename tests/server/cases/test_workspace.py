"""The case workspace end to end, with a real Valkey and intake worker: a complaint from the portal
through screening, a request for information, allegations, a level 4 referral and its outcome to
closing, the public status in plain words at each stage; dismissal only by the team lead; a save
from an old version refused; every view audited; clocks announced once by two sweepers."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from clients.connection import Connection, HubClosed
from protocol.codec import event_decoder
from protocol.events import CaseClockTurned
from protocol.messages import EventFrame, IncidentCreate, RadioAppend, ServerFrame
from protocol.state import Location
from server.access.roles import Role
from server.bus.partition import Partition
from server.bus.valkey import EmbeddedValkey
from server.cases.clock_board import DUE_KEY, ClockSweep
from tests.helpers import RunningHub, S, wait_for
from tests.server.intake.test_intake_lane import complaint, rows, worker_running

COORDINATOR = ("cora", Role.CASE_COORDINATOR)
LEAD = ("lena", Role.TEAM_LEAD)


def staff(hub: RunningHub, who: tuple[str, Role]) -> httpx.AsyncClient:
    """A signed-in client. Its timeout is long: a letter's, a notice's or a release's PDF is made in
    a worker process that starts on first use, which on a machine busy with other tests takes more
    than httpx's 5 s (a correctness test, not a timing one)."""
    return httpx.AsyncClient(base_url=hub.http, headers={"Authorization": f"Bearer {hub.token(*who)}"}, timeout=30 * S)


async def file_one(hub: RunningHub, **over: Any) -> dict[str, Any]:
    """A complaint through the portal, filed by the worker running: its receipt."""
    async with httpx.AsyncClient(base_url=hub.http) as public:
        answer = await public.post("/api/complaints", json=complaint(int(time.time() * 1000) % 10**7, **over))
        assert answer.status_code == 201, answer.text
        receipt: dict[str, Any] = answer.json()
    number = receipt["file_number"]

    async def filed() -> bool:
        return bool(await rows(hub, "SELECT 1 FROM complaints WHERE file_number=?", number))

    await wait_for(filed, 10 * S)
    return receipt


async def view(http: httpx.AsyncClient, number: str) -> dict[str, Any]:
    got = await http.get(f"/api/cases/{number}")
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


async def act(http: httpx.AsyncClient, number: str, version: int, **body: Any) -> httpx.Response:
    return await http.post(f"/api/cases/{number}/acts", json={"version": version, "act": body})


async def ok(http: httpx.AsyncClient, number: str, **body: Any) -> dict[str, Any]:
    """Make an act on the file as it is now; it must succeed."""
    current = await view(http, number)
    answer = await act(http, number, current["file"]["version"], **body)
    assert answer.status_code == 200, (body, answer.text)
    done: dict[str, Any] = answer.json()
    return done


async def public_status(hub: RunningHub, receipt: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=hub.http) as public:
        ask = {"file_number": receipt["file_number"], "status_code": receipt["status_code"]}
        got = await public.post("/api/complaints/status", json=ask)
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body


async def test_a_complaint_goes_from_the_portal_through_a_level_4_referral_to_closed(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    """Screening, a request for information (clocks paused), the reply (running), two allegations, a
    level 4 referral confirmed by the team lead with the complainant told, the outcome, concluded, closed;
    the public status check says each stage in plain words and never shows staff notes."""
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora, staff(hub, LEAD) as lena:
        receipt = await file_one(hub, occurred_on="2026-11-20", location="Churchill Square")
        number = receipt["file_number"]
        seen: list[str] = [(await public_status(hub, receipt))["message"]]

        await ok(cora, number, act="take")
        await ok(cora, number, act="start_screening")
        seen.append((await public_status(hub, receipt))["message"])
        await ok(cora, number, act="note", text="STAFF ONLY: spoke to the sergeant")

        asked = await ok(
            cora, number, act="request_info", missing=["officer"], message="Could you tell us the officer's badge?"
        )
        assert asked["file"]["stage"] == "waiting"
        paused = {c["name"]: c["state"] for c in asked["clocks"]}
        assert paused["decision"] == "paused" and paused["status_update"] == "paused"
        assert paused["acknowledge"] != "paused"  # the acknowledgement is owed all the same
        status = await public_status(hub, receipt)
        assert status["asked"] == "Could you tell us the officer's badge?"
        seen.append(status["message"])

        replied = await ok(cora, number, act="info_received", text="Badge 4411, Constable Reyes", channel="phone")
        assert replied["file"]["stage"] == "screening"
        assert {c["name"]: c["state"] for c in replied["clocks"]}["decision"] in ("running", "warning")

        for kind, badge in (("professional_performance", "4411"), ("discourtesy", "4411")):
            await ok(
                cora,
                number,
                act="allegation",
                type=kind,
                officer_name="Reyes",
                officer_badge=badge,
                summary=f"{kind} at the square",
            )
        await ok(cora, number, act="checklist", marks={"officer": "ok", "outcome": "waived", "consent": "ok"})
        await ok(cora, number, act="screened")
        seen.append((await public_status(hub, receipt))["message"])

        # The level 4 allegation's own route: the file's recommendation is the most serious (level 3).
        recommended = await ok(cora, number, act="recommend", reasons="performance matter mainly")
        rec = recommended["file"]["recommendation"]
        assert rec["level"] == 3
        levels = sorted(a["level"] for a in recommended["file"]["allegations"])
        assert levels == [3, 4]

        # The coordinator may not confirm; the team lead changes it to a level 4 referral, with reasons.
        current = await view(cora, number)
        refused = await act(cora, number, current["file"]["version"], act="route", reasons="")
        assert refused.status_code == 422
        routed = await ok(
            lena,
            number,
            act="route",
            level=4,
            route="referred_out",
            body="Edmonton Police Service (the officer's employer)",
            reasons="the discourtesy is minor and part of the performance matter",
        )
        assert routed["file"]["stage"] == "routed" and routed["file"]["level"] == 4
        (referral,) = routed["file"]["referrals"]
        clocks = {c["name"]: c["state"] for c in routed["clocks"]}
        assert clocks["decision"] == "referred" and clocks["referral-1"] in ("running", "warning")
        seen.append((await public_status(hub, receipt))["message"])

        early = await view(cora, number)
        not_yet = await act(cora, number, early["file"]["version"], act="conclude")
        assert not_yet.status_code == 422 and "reported" in not_yet.json()["error"]
        await ok(
            cora,
            number,
            act="notify",
            referral=referral["id"],
            message="We have sent your complaint to the Edmonton Police Service.",
        )
        await ok(
            cora,
            number,
            act="referral_outcome",
            referral=referral["id"],
            outcome="Performance coaching; the service apologised in writing.",
        )
        concluded = await ok(cora, number, act="conclude")
        assert concluded["file"]["stage"] == "concluded"
        seen.append((await public_status(hub, receipt))["message"])
        closed = await ok(lena, number, act="close")
        assert closed["file"]["stage"] == "closed"
        final = await public_status(hub, receipt)
        seen.append(final["message"])

        assert len(set(seen)) == len(seen), seen  # each stage has its own words
        for message in seen:
            assert message and "STAFF ONLY" not in message and "level" not in message.lower()
        timeline = [(t["act"], t["by"]) for t in closed["file"]["timeline"]]
        assert ("route", "lena") in timeline and ("request_info", "cora") in timeline
        assert timeline[0][0] == "received"
        out = [m["channel"] for m in closed["file"]["messages"] if m["direction"] == "out"]
        assert out and set(out) == {"email"}  # by the way the complainant chose


async def test_only_the_team_lead_dismisses_and_with_reasons(hub: RunningHub, valkey: EmbeddedValkey) -> None:
    """A coordinator's dismissal is refused, even acting for the team lead; the team lead's is recorded with reasons."""
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora, staff(hub, LEAD) as lena:
        number = (await file_one(hub))["file_number"]
        await ok(cora, number, act="start_screening")
        delegated = await lena.post("/api/cases/delegations", json={"coordinator": "cora", "hours": 2})
        assert delegated.status_code == 201
        current = await view(cora, number)
        assert current["acting_for"] == "lena"
        refused = await act(
            cora, number, current["file"]["version"], act="dismiss", ground="frivolous", reasons="no substance"
        )
        assert refused.status_code == 422
        assert "team lead" in refused.json()["error"]
        # acting for the team lead, the coordinator may assign, and the timeline says so
        assigned = await ok(cora, number, act="assign", to="dev")
        assert assigned["file"]["timeline"][-1]["acting_for"] == "lena"
        dismissed = await ok(
            lena, number, act="dismiss", ground="vexatious", reasons="The same matter was decided in PC-2025-00012."
        )
        assert dismissed["file"]["stage"] == "dismissed"
        assert dismissed["file"]["ended_reason"] == "vexatious: The same matter was decided in PC-2025-00012."
        assert all(c["state"] == "stopped" for c in dismissed["clocks"])


async def test_two_coordinators_saving_the_same_file_one_gets_a_conflict(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    """Both opened version N: the first save wins; the second is refused, says who changed it, and keeps nothing."""
    async with (
        worker_running(hub, valkey.url),
        staff(hub, COORDINATOR) as cora,
        staff(hub, ("dev", COORDINATOR[1])) as dev,
    ):
        number = (await file_one(hub))["file_number"]
        version = (await view(cora, number))["file"]["version"]
        first = await act(cora, number, version, act="edit", summary="Cora's summary")
        second = await act(dev, number, version, act="edit", summary="Dev's summary")
        assert first.status_code == 200
        assert second.status_code == 409
        assert "cora" in second.json()["error"]
        assert (await view(dev, number))["file"]["summary"] == "Cora's summary"


async def test_case_files_are_for_case_staff_and_every_view_is_audited(hub: RunningHub, valkey: EmbeddedValkey) -> None:
    """Dispatchers, officers and 311 staff are refused every case route; each view by case staff is audited."""
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora:
        number = (await file_one(hub))["file_number"]
        await view(cora, number)
        await view(cora, number)
        audited = await rows(hub, "SELECT actor FROM audit WHERE action='case.view' AND subject=?", number)
        assert [a[0] for a in audited] == ["cora", "cora"]
        for role in (Role.DISPATCHER, Role.SUPERVISOR, Role.OFFICER, Role.INTAKE_311):
            async with staff(hub, ("x", role)) as other:
                for answer in (
                    await other.get("/api/cases"),
                    await other.get(f"/api/cases/{number}"),
                    await other.post(f"/api/cases/{number}/acts", json={"version": 1, "act": {"act": "take"}}),
                ):
                    assert answer.status_code == 403, (role, answer.text)


async def test_a_coordinators_save_reaches_another_workspace_live(hub: RunningHub, valkey: EmbeddedValkey) -> None:
    """A second coordinator on the cases topic gets the change as it is saved; a dispatcher may not subscribe."""
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora:
        number = (await file_one(hub))["file_number"]
        got: list[Any] = []

        def on_frame(frame: ServerFrame) -> None:
            if isinstance(frame, EventFrame) and frame.topic == "cases":
                got.append(frame.payload)

        watcher = Connection(
            hub.url,
            token=hub.token("dev", Role.CASE_COORDINATOR),
            topics=["cases"],
            on_frame=on_frame,
            queue_frames=False,
        )
        async with watcher:
            await ok(cora, number, act="take")
            await wait_for(lambda: any(getattr(e, "file", "") == number and e.act == "take" for e in got), 5 * S)
        desk = Connection(hub.url, token=hub.token("ana", Role.DISPATCHER), topics=["cases"])
        with pytest.raises(HubClosed, match="may not read cases"):
            async with desk:
                pass


async def test_a_clock_turns_overdue_once_with_two_sweepers(hub: RunningHub, valkey: EmbeddedValkey) -> None:
    """Two hubs' sweeps race for the same due clock: it is announced once, on the timeline and on the bus."""
    async with worker_running(hub, valkey.url):
        number = (await file_one(hub))["file_number"]
        redis = aioredis.Redis.from_url(valkey.url)
        try:
            await wait_for(lambda: redis.zscore(Partition().intake(DUE_KEY), f"{number}|acknowledge"), 5 * S)
            ctx = hub.ctx
            later = int(time.time() * 1000) + 5 * 86_400_000  # five days on: the acknowledgement is overdue
            sweeps = [ClockSweep(redis, ctx.store, ctx.policy, ctx.bus) for _ in range(2)]
            for s in sweeps:
                s._seeded_at = time.monotonic()  # the due set is set already
            done = await asyncio.gather(*(s.sweep(later) for s in sweeps for _ in range(3)))
            lines = await rows(
                hub, "SELECT detail FROM case_timeline WHERE file_number=? AND act='clock.overdue'", number
            )
            assert [d[0] for d in lines if d[0].startswith("acknowledge")] == ["acknowledge is overdue"]
            events = [event_decoder.decode(f[b"e"]) for _, f in await redis.xrange("{intake}:cases:stream")]
            turned = [e for e in events if isinstance(e, CaseClockTurned) and e.file == number]
            assert [(e.clock, e.state) for e in turned] == [("acknowledge", "overdue")]
            assert sum(done) == 1
            assert (
                await redis.zscore(Partition().intake(DUE_KEY), f"{number}|acknowledge") is None
            )  # nothing more to announce
        finally:
            await redis.aclose()


async def test_dispatch_records_are_found_and_attached_immutable_hashed_and_audited(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    """A call near the complaint's time is found in dispatch's records, attached as EIDO with its timeline
    and radio, hashed; the search, the attachment and each read of it are in the audit trail."""
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora:
        desk = Connection(hub.url, token=hub.token("ana", Role.DISPATCHER))
        async with desk:
            where = Location("10230 Jasper Ave NW", 53.5413, -113.4947)
            created = await desk.command(IncidentCreate(id=desk.next_id(), call_type="DISORDER", location=where))
            incident = created.result["incident"]  # type: ignore[index]
            await desk.command(RadioAppend(id=desk.next_id(), channel="main", text="PO 7 on scene", incident=incident))

        async def archived() -> bool:
            call = await rows(hub, "SELECT 1 FROM incidents WHERE id=?", incident)
            return bool(call) and bool(await rows(hub, "SELECT 1 FROM radio_log WHERE incident=?", incident))

        await wait_for(archived, 10 * S)
        today = time.strftime("%Y-%m-%d", time.localtime())
        number = (await file_one(hub, occurred_on=today, location="Jasper Ave"))["file_number"]
        found = await cora.get(f"/api/cases/{number}/evidence/search")
        assert found.status_code == 200, found.text
        assert incident in [i["id"] for i in found.json()["incidents"]]
        version = (await view(cora, number))["file"]["version"]
        attached = await cora.post(f"/api/cases/{number}/evidence", json={"incident": incident, "version": version})
        assert attached.status_code == 201, attached.text
        (evidence,) = attached.json()["file"]["evidence"]
        again = await cora.post(f"/api/cases/{number}/evidence", json={"incident": incident, "version": version + 1})
        assert again.status_code == 422  # the same record is attached once
        body = await cora.get(f"/api/cases/{number}/evidence/{evidence['id']}")
        assert hashlib.sha256(body.content).hexdigest() == evidence["sha256"] == body.headers["x-content-sha256"]
        doc = body.json()
        assert doc["eido"]["incidentComponent"] and [r["text"] for r in doc["radio"]] == ["PO 7 on scene"]
        actions = [r[0] for r in await rows(hub, "SELECT action FROM audit WHERE subject=?", number)]
        assert {"case.evidence.search", "case.evidence", "case.evidence.view"} <= set(actions)
        async with staff(hub, ("ana", Role.DISPATCHER)) as dispatcher:
            refused = await dispatcher.get(f"/api/cases/{number}/evidence/{evidence['id']}")
            assert refused.status_code == 403


async def test_the_complainant_answers_on_the_portal_and_the_file_carries_on(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    """With the file number and status code the person answers what we asked: the clocks run again; a wrong
    code is refused, and an answer nobody asked for is not taken."""
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora:
        receipt = await file_one(hub)
        number = receipt["file_number"]
        async with httpx.AsyncClient(base_url=hub.http) as public:
            ask = {"file_number": number, "status_code": receipt["status_code"], "text": "It was badge 4411."}
            early = await public.post("/api/complaints/reply", json=ask)
            assert early.status_code == 409
            await ok(cora, number, act="start_screening")
            await ok(cora, number, act="request_info", missing=["officer"], message="Which officer was it?")
            wrong = await public.post("/api/complaints/reply", json={**ask, "status_code": "AAAA-BBBB-CCCC"})
            assert wrong.status_code == 404
            taken = await public.post("/api/complaints/reply", json=ask)
            assert taken.status_code == 200, taken.text
        after = await view(cora, number)
        assert after["file"]["stage"] == "screening"
        assert all(c["state"] != "paused" for c in after["clocks"])
        assert [(m["direction"], m["channel"], m["text"]) for m in after["file"]["messages"]][-1] == (
            "in",
            "web",
            "It was badge 4411.",
        )
        assert after["file"]["timeline"][-1]["by"] == "complainant"


async def test_bad_acts_get_a_clear_error_and_change_nothing(hub: RunningHub, valkey: EmbeddedValkey) -> None:
    """A version past any number, an unknown act, too many marks, an id of nothing: each a 4xx saying why."""
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora:
        number = (await file_one(hub))["file_number"]
        for body in (
            {"version": 2**70, "act": {"act": "take"}},
            {"version": 1, "act": {"act": "launch"}},
            {"version": 1, "act": {"act": "checklist", "marks": {f"k{i}": "ok" for i in range(50)}}},
            {"version": 1, "act": {"act": "finding", "allegation": 2**63, "finding": "sustained"}},
        ):
            answer = await cora.post(f"/api/cases/{number}/acts", json=body)
            assert answer.status_code == 422, (body, answer.text)  # the house answer to a body it cannot take
            assert answer.json()["error"]
        gone = await act(cora, number, 1, act="remove_allegation", id=99)
        assert gone.status_code == 422 and "no allegation 99" in gone.json()["error"]
        assert (await view(cora, number))["file"]["version"] == 1
