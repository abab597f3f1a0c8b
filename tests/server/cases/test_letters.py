"""Letters and oversight on a running hub: a letter drafted from its template, returned with
comments, edited, approved by the team lead (never by its author), issued as a numbered PDF whose
text holds the merged names, immutable after; acting for the team lead recorded; the status update
drafted on its own when it comes due; early warning raised once on the bus; the delay report with
exactly the files past target and no personal information; trends and CSV; reviews; retention;
the audit trail as CSV, its export audited."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pypdfium2

from protocol.codec import event_decoder
from protocol.events import CaseWarningRaised
from server.access.roles import Role
from server.bus.valkey import EmbeddedValkey
from server.cases.clock_board import ClockSweep
from tests.helpers import RunningHub
from tests.server.cases.test_workspace import COORDINATOR, LEAD, file_one, ok, staff, view
from tests.server.intake.test_intake_lane import rows, worker_running

DAY = 86_400_000
CARL = ("carl", Role.CASE_COORDINATOR)


def pdf_text(pdf: bytes) -> str:
    doc = pypdfium2.PdfDocument(pdf)
    return " ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))


async def move(http: httpx.AsyncClient, letter: dict[str, Any], what: str, **more: Any) -> httpx.Response:
    return await http.post(
        f"/api/cases/letters/{letter['id']}", json={"version": letter["version"], "move": what, **more}
    )


async def test_a_letter_is_drafted_returned_edited_approved_and_issued_as_a_pdf(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora, staff(hub, LEAD) as lena:
        receipt = await file_one(
            hub,
            name="Dana Whitehorse",
            contact_by="mail",
            mailing_address="4 Elm St NW, Edmonton, AB T5J 1A1",
            accessibility="I need large print",
        )
        number = receipt["file_number"]
        await ok(cora, number, act="take")

        made = await cora.post(f"/api/cases/{number}/letters", json={"kind": "acknowledgement"})
        assert made.status_code == 201, made.text
        page = made.json()
        letter = page["letter"]
        assert letter["state"] == "draft" and letter["channel"] == "mail" and letter["format"] == "large_print"
        assert "Dana Whitehorse" in page["html"] and "4 Elm St NW" in page["html"] and "DRAFT" in page["html"]
        assert "approve" not in page["may"] and "submit" in page["may"]

        submitted = await move(cora, letter, "submit")
        assert submitted.status_code == 200, submitted.text
        letter = submitted.json()["letter"]
        # The author cannot approve their own letter.
        mine = await move(cora, letter, "approve")
        assert mine.status_code == 422 and "another person" in mine.json()["error"]
        # The team lead's queue holds it; returned with comments.
        waiting = (await lena.get("/api/cases/letters")).json()["letters"]
        assert [x["id"] for x in waiting] == [letter["id"]]
        bare = await move(lena, letter, "return")
        assert bare.status_code == 422
        back = await move(lena, letter, "return", comments="Say when the next update comes.")
        assert back.status_code == 200
        letter = back.json()["letter"]
        assert letter["state"] == "returned" and letter["comments"] == "Say when the next update comes."

        text = letter["body"] + "<p>We will write again by the end of next month.</p><script>alert(1)</script>"
        edited = await move(cora, letter, "edit", body=text)
        letter = edited.json()["letter"]
        assert "next month" in letter["body"] and "<script>" not in letter["body"]
        stale = await move(cora, {**letter, "version": letter["version"] - 1}, "submit")
        assert stale.status_code == 409
        letter = (await move(cora, letter, "submit")).json()["letter"]

        stale_view = await move(lena, {**letter, "version": letter["version"] - 2}, "approve")
        assert stale_view.status_code == 409  # what she read was not what was resubmitted
        approved = await move(lena, letter, "approve")
        assert approved.status_code == 200, approved.text
        issued = approved.json()["letter"]
        assert issued["state"] == "issued" and issued["number"].startswith("PC-L-")
        assert issued["approved_by"] == "lena" and len(issued["sha256"]) == 64

        got = await cora.get(f"/api/cases/letters/{issued['id']}/pdf")
        assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
        import hashlib

        assert hashlib.sha256(got.content).hexdigest() == issued["sha256"] == got.headers["x-content-sha256"]
        text = pdf_text(got.content)
        assert "Dana Whitehorse" in text and number in text and issued["number"] in text and "next month" in text

        # Issued: immutable.
        for what, more in (("edit", {"body": "<p>changed</p>"}), ("submit", {}), ("return", {"comments": "x"})):
            refused = await move(lena, issued, what, **more)
            assert refused.status_code == 422, (what, refused.text)
        again = await cora.get(f"/api/cases/letters/{issued['id']}/pdf")
        assert again.content == got.content

        after = await view(cora, number)
        assert {c["name"]: c["state"] for c in after["clocks"]}["acknowledge"] == "met"  # the letter was it
        timeline = [(t["act"], t["detail"]) for t in after["file"]["timeline"]]
        acts = [a for a, _ in timeline]
        assert acts.count("letter.drafted") == 1 and "letter.returned" in acts and "letter.issued" in acts
        assert any(issued["number"] in d for a, d in timeline if a == "letter.issued")
        listed = (await cora.get(f"/api/cases/{number}/letters")).json()["letters"]
        assert [x["number"] for x in listed] == [issued["number"]] and listed[0][
            "body"
        ] == ""  # text: audited reads only
        audit = await rows(hub, "SELECT actor, action FROM audit WHERE subject=? ORDER BY seq", number)
        assert ("cora", "case.letter.pdf") in audit and ("lena", "case.letter.issue") in audit
        assert ("cora", "case.letters.view") in audit
        assert (await lena.get(f"/api/cases/letters/{issued['id']}")).json()["letter"]["state"] == "issued"
        assert ("lena", "case.letter.view") in await rows(
            hub, "SELECT actor, action FROM audit WHERE subject=?", number
        )


async def test_acting_for_the_team_lead_is_recorded_and_never_approves_ones_own(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    async with (
        worker_running(hub, valkey.url),
        staff(hub, COORDINATOR) as cora,
        staff(hub, CARL) as carl,
        staff(hub, LEAD) as lena,
    ):
        number = (await file_one(hub))["file_number"]
        made = (await cora.post(f"/api/cases/{number}/letters", json={"kind": "acknowledgement"})).json()["letter"]
        letter = (await move(cora, made, "submit")).json()["letter"]
        # Carl, not delegated, may not approve.
        assert (await move(carl, letter, "approve")).status_code == 422
        for coordinator in ("carl", "cora"):
            assert (
                await lena.post("/api/cases/delegations", json={"coordinator": coordinator, "hours": 2})
            ).status_code == 201
            if coordinator == "carl":
                issued = await move(carl, letter, "approve")
                assert issued.status_code == 200, issued.text
                done = issued.json()["letter"]
                assert done["approved_by"] == "carl" and done["acting_for"] == "lena"
        # The team lead who edits and submits a coordinator's draft is a hand on it: someone else approves.
        third = (await cora.post(f"/api/cases/{number}/letters", json={"kind": "acknowledgement"})).json()["letter"]
        third = (await move(lena, third, "edit", body="<p>Changed by the lead.</p>")).json()["letter"]
        third = (await move(lena, third, "submit")).json()["letter"]
        assert (await move(lena, third, "approve")).status_code == 422
        # Cora, now acting for the team lead, still cannot approve a letter she wrote.
        second = (await cora.post(f"/api/cases/{number}/letters", json={"kind": "closing"})).json()["letter"]
        second = (await move(cora, second, "submit")).json()["letter"]
        assert (await move(cora, second, "approve")).status_code == 422
        timeline = (await view(cora, number))["file"]["timeline"]
        line = next(t for t in timeline if t["act"] == "letter.issued")
        assert line["by"] == "carl" and line["acting_for"] == "lena"


async def test_a_letter_that_cannot_say_its_piece_is_refused_and_a_bad_override_is_a_clear_error(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora:
        number = (await file_one(hub))["file_number"]
        for kind in ("delay_notice", "decision", "dismissal", "referral_notice", "request_info"):
            refused = await cora.post(f"/api/cases/{number}/letters", json={"kind": kind})
            assert refused.status_code == 422, (kind, refused.text)
        listed = (await cora.get("/api/cases/letter-templates")).json()
        assert len(listed["templates"]) == 11 and not any(t["overridden"] for t in listed["templates"])
        preview = await cora.get("/api/cases/letter-templates/status_update/preview")
        assert preview.status_code == 200 and "Alex Sample" in preview.text
        override = hub.settings.data_dir / "letters"
        override.mkdir(exist_ok=True)
        (override / "closing.html.j2").write_text("<p>Dear {{ complainant.nickname }}</p>")
        try:
            bad = await cora.get("/api/cases/letter-templates/closing/preview")
            assert bad.status_code == 422 and "nickname" in bad.json()["error"]
            drafted = await cora.post(f"/api/cases/{number}/letters", json={"kind": "closing"})
            assert drafted.status_code == 422 and "nickname" in drafted.json()["error"]
        finally:
            (override / "closing.html.j2").unlink()


async def test_the_status_update_is_drafted_on_its_own_when_it_comes_due(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora:
        number = (await file_one(hub))["file_number"]
        await ok(cora, number, act="take")
        f = await view(cora, number)
        due = next(c for c in f["clocks"] if c["name"] == "status_update")["due_at"]
        sweep = ClockSweep(hub.ctx.redis, hub.ctx.store, hub.ctx.policy, hub.ctx.bus, hub.settings.data_dir)
        # Sweep at the warning (a week before it is due), twice: one draft.
        for _ in range(2):
            await sweep.board.schedule(number, [], due - 3 * DAY)
            await sweep.sweep(due - 3 * DAY)
        mine = (await cora.get("/api/cases/letters")).json()["letters"]
        drafts = [x for x in mine if x["file_number"] == number]
        assert (
            len(drafts) == 1 and drafts[0]["kind"] == "status_update" and drafts[0]["made_by_clock"] == "status_update"
        )
        # The coordinator who submits it is its author: they cannot approve it.
        letter = (await move(cora, drafts[0], "submit")).json()["letter"]
        assert letter["author"] == "cora"
        assert (await move(cora, letter, "approve")).status_code == 422
        issued_at = int(time.time() * 1000)
        async with staff(hub, LEAD) as lena:
            assert (await move(lena, letter, "approve")).status_code == 200
        # Issuing the update started the next 60 days: a new period, whose turn is announced anew.
        ((started, announced),) = await rows(
            hub,
            "SELECT started_at, announced FROM complaint_clocks WHERE file_number=? AND clock='status_update'",
            number,
        )
        assert started >= issued_at and announced == "running"
        acts = [t["act"] for t in (await view(cora, number))["file"]["timeline"]]
        assert acts.index("status_update") > acts.index("letter.issued")


async def test_early_warning_raises_one_flag_per_crossing_live_for_the_team_lead(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    async with worker_running(hub, valkey.url), staff(hub, COORDINATOR) as cora, staff(hub, LEAD) as lena:
        files = [(await file_one(hub))["file_number"] for _ in range(4)]
        for n in files[:3]:
            await ok(
                cora,
                n,
                act="allegation",
                type="discourtesy",
                officer_name="Reyes",
                officer_badge="9001",
                summary="rude",
            )
        await ok(
            cora,
            files[3],
            act="allegation",
            type="discourtesy",
            officer_name="Reyes",
            officer_badge="9001",
            summary="rude",
        )
        flags = (await lena.get("/api/cases/warnings")).json()["warnings"]
        mine = [w for w in flags if w["officer_badge"] == "9001"]
        assert [w["rule"] for w in mine] == ["3 or more allegations in 12 months"]
        assert mine[0]["count"] == 3 and sorted(mine[0]["files"]) == sorted(files[:3])
        # A tier 1 allegation is its own threshold: one more flag.
        await ok(
            cora,
            files[3],
            act="allegation",
            type="unreasonable_force",
            officer_name="Reyes",
            officer_badge="9001",
            summary="pushed",
        )
        mine = [w for w in (await lena.get("/api/cases/warnings")).json()["warnings"] if w["officer_badge"] == "9001"]
        assert sorted(w["rule"] for w in mine) == [
            "3 or more allegations in 12 months",
            "any tier 1 allegation in 12 months",
        ]
        events = [event_decoder.decode(f[b"e"]) for _, f in await hub.ctx.redis.xrange("{intake}:case-warnings:stream")]
        raised = [e for e in events if isinstance(e, CaseWarningRaised)]
        case_events = [event_decoder.decode(f[b"e"]) for _, f in await hub.ctx.redis.xrange("{intake}:cases:stream")]
        assert not any(isinstance(e, CaseWarningRaised) for e in case_events)  # never where coordinators read
        assert sorted(e.rule for e in raised if e.officer == mine[0]["officer"]) == sorted(w["rule"] for w in mine)
        assert (await cora.get("/api/cases/warnings")).status_code == 403
        top = (await lena.get("/api/cases/warnings/top", params={"service": "Edmonton Police Service"})).json()
        assert top["officers"][0]["badge"] == "9001"
        seen = await lena.post(f"/api/cases/warnings/{mine[0]['id']}/seen")
        assert seen.status_code == 200 and seen.json()["seen_by"] == "lena"
