"""The complaint door's answers: a status that keeps to "do not contact", and the day received that only staff give."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from server.access.roles import Role
from server.bus.valkey import EmbeddedValkey
from tests.helpers import RunningHub, S, wait_for
from tests.server.intake.test_intake_lane import complaint, rows, worker_running

ZONE = ZoneInfo("America/Edmonton")  # the default policy's


def agency_today() -> dt.date:
    return dt.datetime.now(ZONE).date()


def start_of(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), ZONE).timestamp() * 1000)


async def status_of(http: httpx.AsyncClient, receipt: dict[str, Any]) -> dict[str, Any]:
    ask = {"file_number": receipt["file_number"], "status_code": receipt["status_code"]}
    answer = await http.post("/api/complaints/status", json=ask)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


async def test_the_status_of_a_file_never_promises_contact_to_a_person_who_asked_for_none(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    """A person who chose "Please do not contact me" is told we will not, and how to check the file; others when."""
    async with worker_running(hub, valkey.url) as worker, httpx.AsyncClient(base_url=hub.http) as http:
        quiet = (await http.post("/api/complaints", json=complaint(1, contact_by="none", email=""))).json()
        mailed = (await http.post("/api/complaints", json=complaint(2))).json()
        await wait_for(lambda: worker.filed == 2, 30 * S)
        left_alone = await status_of(http, quiet)
        written_to = await status_of(http, mailed)
    assert left_alone["stage"] == "received"
    said = " ".join(str(v) for v in left_alone.values())
    assert "will contact you" not in said and "acknowledge" not in said
    assert left_alone["next"].startswith("We will not contact you, as you asked.")
    assert "enter your file number and status code" in left_alone["next"]
    assert written_to["next"].startswith("We will contact you to acknowledge your file by ")


async def test_only_case_staff_give_the_day_a_complaint_was_received(hub: RunningHub, valkey: EmbeddedValkey) -> None:
    """Staff's day received is stored as the file's received time (not in the future, not after the day it
    happened); the public door ignores one and files it as received now."""
    staff = {"authorization": f"Bearer {hub.token('casey', Role.CASE_COORDINATOR)}"}
    today = agency_today()
    days = {n: (today - dt.timedelta(days=n)).isoformat() for n in (-1, 2, 5, 9)}
    async with worker_running(hub, valkey.url) as worker, httpx.AsyncClient(base_url=hub.http) as http:
        form = (await http.get("/api/complaints/form", headers=staff)).json()
        assert (form["staff"], form["today"]) == ("casey", today.isoformat())

        future = await http.post("/api/complaints", json=complaint(10, received_on=days[-1]), headers=staff)
        assert future.status_code == 422 and set(future.json()["errors"]) == {"received_on"}
        backwards = complaint(11, channel="mail", received_on=days[5], occurred_on=days[2])
        refused = await http.post("/api/complaints", json=backwards, headers=staff)
        assert refused.status_code == 422
        assert refused.json()["errors"] == {
            "occurred_on": "This is after the day it was received. Check both dates, or leave this one empty."
        }

        mailed = complaint(12, channel="mail", received_on=days[5], occurred_on=days[9])
        staff_file = (await http.post("/api/complaints", json=mailed, headers=staff)).json()["file_number"]
        public = await http.post("/api/complaints", json=complaint(13, received_on=days[9], channel="phone"))
        assert public.status_code == 201
        public_file = public.json()["file_number"]
        await wait_for(lambda: worker.filed == 2, 30 * S)

    sql = "SELECT channel, taken_by, received_at FROM complaints WHERE file_number=?"
    assert await rows(hub, sql, staff_file) == [("mail", "casey", start_of(today - dt.timedelta(days=5)))]
    [(channel, taken_by, received_at)] = await rows(hub, sql, public_file)
    assert (channel, taken_by) == ("web", None)
    assert received_at >= start_of(today)  # now, not the day the public filer named
