"""The intake lane against a real Valkey: exactly-once filing, taking over from a dead
worker, the dead-letter list and its replay, and a flood beside dispatch traffic."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from clients.connection import Connection
from protocol.messages import EventFrame, RadioAppend, ServerFrame
from server.access.roles import Role
from server.bus.valkey import EmbeddedValkey
from server.intake.__main__ import make_worker
from server.intake.lane import COMPLAINTS, GROUP, IntakeStream
from server.intake.worker import Entry, IntakeWorker, Malformed
from server.records.store import RecordsStore
from tests.helpers import OPERATOR, ROOT, RunningHub, S, hub_in_process, wait_for


def complaint(n: int = 0, **over: Any) -> dict[str, Any]:
    return {
        "submission_id": f"sub-{n:08d}-{os.getpid()}",
        "kind": "complaint",
        "police_service": "Edmonton Police Service",
        "narrative": f"Complaint number {n}: the officer would not give a badge number.",
        "contact_by": "email",
        "email": f"person{n}@example.org",
        "consent_share": True,
    } | over


@contextlib.asynccontextmanager
async def worker_running(hub: RunningHub, redis_url: str, **kw: Any) -> AsyncIterator[IntakeWorker]:
    """An intake worker of its own (own Redis client and records connection), as the hub's sidecar runs."""
    redis = aioredis.Redis.from_url(redis_url)
    store = RecordsStore(hub.settings.db_path)
    await store.open()
    worker = await make_worker(hub.settings, redis, store, block_ms=50, **kw)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()  # as SIGTERM does: the entry in hand is finished, then the loop ends
        await asyncio.wait_for(task, 10 * S)
        await store.close()
        await redis.aclose()


async def read_one(redis: aioredis.Redis, lane: IntakeStream, consumer: str) -> Entry:
    """Take the next entry of a lane as ``consumer`` (a worker that will die before acknowledging it)."""
    got = await redis.xreadgroup(GROUP, consumer, {lane.stream: ">"}, count=1)
    sid, fields = got[0][1][0]
    return Entry(lane, sid.decode(), {k.decode(): v.decode() for k, v in fields.items()})


async def rows(hub: RunningHub, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return await hub.ctx.store._rows(sql, args)


async def test_a_complaint_is_filed_once_with_its_clock_however_often_it_is_sent(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    async with worker_running(hub, valkey.url), httpx.AsyncClient(base_url=hub.http) as http:
        first = await http.post("/api/complaints", json=complaint(1))
        again = await http.post("/api/complaints", json=complaint(1))  # a double click, a retry
        assert first.status_code == 201 and again.status_code == 200
        assert first.json()["file_number"] == again.json()["file_number"]
        assert first.json()["status_code"] == again.json()["status_code"]
        number = first.json()["file_number"]

        async def filed() -> bool:
            return bool(await rows(hub, "SELECT 1 FROM complaints WHERE file_number=?", number))

        for _ in range(200):
            if await filed():
                break
            await asyncio.sleep(0.02)
        assert await rows(hub, "SELECT COUNT(*) FROM complaints") == [(1,)]
        clock = await rows(hub, "SELECT clock, day_kind, due_at > started_at FROM complaint_clocks ORDER BY clock")
        assert clock == [("acknowledge", "business", 1), ("decision", "calendar", 1), ("status_update", "calendar", 1)]
        status = await http.post(
            "/api/complaints/status", json={"file_number": number, "status_code": first.json()["status_code"]}
        )
        assert status.status_code == 200 and "acknowledge your file by" in status.json()["next"]
        wrong = await http.post("/api/complaints/status", json={"file_number": number, "status_code": "AAAA-BBBB-CCCC"})
        assert wrong.status_code == 404
    # nothing of it stays in Redis once filed
    assert await hub.ctx.redis.xlen(COMPLAINTS.stream) == 0


async def test_bad_input_is_refused_field_by_field_and_nothing_is_queued(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.http) as http:
        bad = await http.post("/api/complaints", json=complaint(2, narrative="", consent_share=False))
        assert bad.status_code == 422
        assert set(bad.json()["errors"]) == {"narrative", "consent_share"}
        huge = await http.post(
            "/api/complaints", content=b"{" + b" " * (300 * 1024) + b"}", headers={"Content-Type": "application/json"}
        )
        assert huge.status_code == 413
        files = {"attachments": ("notes.exe", b"MZ\x90\x00 not a photo", "application/octet-stream")}
        exe = await http.post(
            "/api/complaints", data={"complaint": __import__("json").dumps(complaint(3))}, files=files
        )
        assert exe.status_code == 422 and "attachments.0" in exe.json()["errors"]
    assert await hub.ctx.redis.xlen(COMPLAINTS.stream) == 0


async def test_the_public_door_limits_each_address(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    async with (
        hub_in_process(valkey.url, tmp_path / "data", intake_burst=3, intake_per_hour=1.0) as hub,
        httpx.AsyncClient(base_url=hub.http) as http,
    ):
        codes = [(await http.post("/api/complaints", json=complaint(10 + i))).status_code for i in range(4)]
        assert codes == [201, 201, 201, 429]
        # staff entering a complaint taken by phone are not the public door
        staff = hub.token("casey", Role.CASE_COORDINATOR)
        phone = await http.post(
            "/api/complaints",
            json=complaint(20, channel="phone"),
            headers={"authorization": f"Bearer {staff}"},
        )
        assert phone.status_code == 201
        entries = await hub.ctx.redis.xrange(COMPLAINTS.stream)
        assert entries[-1][1][b"channel"] == b"phone" and entries[-1][1][b"taken_by"] == b"casey"
        # operators see the lane: what waits to be filed, and what the doors did
        health = (await http.get("/healthz", headers=OPERATOR)).json()["checks"]["intake"]
        assert health == {"queued": {"complaints": 4, "referrals": 0}, "dead_letters": 0}
        metrics = (await http.get("/metrics", headers=OPERATOR)).text
        assert 'dispatch_intake_submissions_total{door="complaint",outcome="limited"} 1.0' in metrics
        assert 'dispatch_intake_submissions_total{door="complaint",outcome="queued"} 4.0' in metrics


async def test_a_worker_killed_while_filing_is_taken_over_and_every_entry_filed_once(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    """A worker process (as `dispatch serve` runs them) is SIGKILLed in the middle of a batch: some
    entries filed, some read and not yet filed, perhaps one filed and not acknowledged. The next
    worker takes them over at once and each complaint is filed exactly once."""
    total = 60
    redis = hub.ctx.redis
    staff = {"authorization": f"Bearer {hub.token('casey', Role.CASE_COORDINATOR)}"}  # past the public limit
    async with httpx.AsyncClient(base_url=hub.http, headers=staff) as http:
        sent = [await http.post("/api/complaints", json=complaint(300 + i, channel="phone")) for i in range(total)]
    numbers = [r.json()["file_number"] for r in sent]
    env = {**os.environ, **hub.settings.to_env(), "DISPATCH_INTAKE_NICE": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "server.intake"], cwd=ROOT, env=env)
    consumer = f"{socket.gethostname()}-{proc.pid}"
    held = 0
    try:
        for _ in range(int(4000 * S)):  # poll Redis until the worker holds entries it has not finished
            with contextlib.suppress(Exception):
                pending = await redis.xpending_range(COMPLAINTS.stream, GROUP, "-", "+", 100, consumername=consumer)
                held = len(pending)
            if held:
                break
            await asyncio.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert held > 0, "the worker never took an entry"
    (before,) = await rows(hub, "SELECT COUNT(*) FROM complaints")
    assert before[0] < total  # it died with work left
    async with worker_running(hub, valkey.url) as worker:  # takes over at once: the dead pid is on this host
        for _ in range(int(1000 * S)):
            if (await rows(hub, "SELECT COUNT(*) FROM complaints"))[0][0] == total:
                break
            await asyncio.sleep(0.02)
        assert worker.dead == 0
    filed = [n for (n,) in await rows(hub, "SELECT file_number FROM complaints")]
    assert sorted(filed) == sorted(numbers)
    assert (await redis.xpending(COMPLAINTS.stream, GROUP))["pending"] == 0
    assert await redis.xlen(COMPLAINTS.stream) == 0


async def test_an_entry_filed_but_not_acknowledged_is_not_filed_twice(hub: RunningHub, valkey: EmbeddedValkey) -> None:
    async with httpx.AsyncClient(base_url=hub.http) as http:
        await http.post("/api/complaints", json=complaint(40))
    redis = hub.ctx.redis
    # A worker on another host read it and filed it, then died before its acknowledgement.
    store = RecordsStore(hub.settings.db_path)
    await store.open()
    try:
        one = await make_worker(hub.settings, redis, store, consumer="other-host-2")
        await one.ensure_groups()
        entry = await read_one(redis, COMPLAINTS, "other-host-2")
        await one.filers[COMPLAINTS.name](entry)  # filed, never acknowledged
        assert await rows(hub, "SELECT COUNT(*) FROM complaints") == [(1,)]
        taker = await make_worker(hub.settings, redis, store, consumer="this-host", claim_idle_ms=0)
        assert await taker.reclaim() == 1
    finally:
        await store.close()
    assert await rows(hub, "SELECT COUNT(*) FROM complaints") == [(1,)]
    assert (await redis.xpending(COMPLAINTS.stream, GROUP))["pending"] == 0


async def test_malformed_entries_go_to_the_dead_letter_list_not_the_records(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    redis = hub.ctx.redis
    async with worker_running(hub, valkey.url) as worker:
        await worker.ensure_groups()
        # Written by something other than the door (an old hub, a script): no narrative, no consent.
        await redis.xadd(
            COMPLAINTS.stream,
            {
                "ref": "PC-2026-09999",
                "kind": "complaint",
                "key": "hand-made-0001",
                "at": "1790000000000",
                "code_hash": "x",
                "body": '{"submission_id": "hand-made-0001", "kind": "complaint", "police_service": "EPS",'
                ' "narrative": "", "contact_by": "none", "consent_share": false}',
            },
        )
        await redis.xadd(COMPLAINTS.stream, {"ref": "PC-2026-09998", "body": "{not json"})
        await wait_for(lambda: worker.dead == 2, 30 * S)
    assert await rows(hub, "SELECT COUNT(*) FROM complaints") == [(0,)]
    letters = await rows(hub, "SELECT ref, reason FROM intake_dead_letters ORDER BY ref")
    assert [r[0] for r in letters] == ["PC-2026-09998", "PC-2026-09999"]
    assert "narrative" in letters[1][1] and "consent_share" in letters[1][1]
    assert await redis.xlen(COMPLAINTS.stream) == 0
    async with httpx.AsyncClient(base_url=hub.http) as http:
        coordinator = {"authorization": f"Bearer {hub.token('casey', Role.CASE_COORDINATOR)}"}
        seen = (await http.get("/api/intake/dead-letters", headers=coordinator)).json()["dead_letters"]
        assert {d["ref"] for d in seen} == {"PC-2026-09998", "PC-2026-09999"}
        dispatcher = {"authorization": f"Bearer {hub.token('dee', Role.DISPATCHER)}"}
        assert (await http.get("/api/intake/dead-letters", headers=dispatcher)).status_code == 403


async def test_an_entry_that_keeps_failing_is_dead_lettered_then_replayed_and_filed_once(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    redis = aioredis.Redis.from_url(valkey.url)
    store = RecordsStore(hub.settings.db_path)
    await store.open()
    try:

        async def records_down(entry: Entry) -> None:
            raise RuntimeError("records store unavailable")

        failing = IntakeWorker(redis, store, {COMPLAINTS.name: records_down}, max_attempts=2, block_ms=50)
        await failing.ensure_groups()
        async with httpx.AsyncClient(base_url=hub.http) as http:
            number = (await http.post("/api/complaints", json=complaint(50))).json()["file_number"]
        await failing.run_once()  # attempt 1: left pending
        await failing.retry_own()  # attempt 2: gives up
        assert failing.dead == 1
        (letter,) = await rows(hub, "SELECT id, reason, attempts FROM intake_dead_letters")
        assert "records store unavailable" in letter[1] and letter[2] == 2
    finally:
        await store.close()
        await redis.aclose()
    async with worker_running(hub, valkey.url) as worker, httpx.AsyncClient(base_url=hub.http) as http:
        lead = {"authorization": f"Bearer {hub.token('tl', Role.TEAM_LEAD)}"}
        replayed = await http.post(f"/api/intake/dead-letters/{letter[0]}/replay", headers=lead)
        assert replayed.status_code == 200
        twice = await http.post(f"/api/intake/dead-letters/{letter[0]}/replay", headers=lead)
        assert twice.status_code == 409
        await wait_for(lambda: worker.filed, 30 * S)
    assert await rows(hub, "SELECT file_number FROM complaints") == [(number,)]
    assert await rows(hub, "SELECT replayed_by FROM intake_dead_letters") == [("tl",)]


@pytest.mark.slow
async def test_a_complaint_flood_beside_dispatch_traffic_loses_and_duplicates_nothing(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    complaints_n, radio_n = 300, 200
    async with (
        hub_in_process(valkey.url, tmp_path / "data", intake_burst=100_000, commands_burst=10_000) as hub,
        worker_running(hub, valkey.url) as worker,
    ):
        seen: list[str] = []

        def on_frame(frame: ServerFrame) -> None:
            if isinstance(frame, EventFrame) and frame.topic == "radio":
                seen.append(frame.offset)

        board = Connection(hub.url, token=hub.token("board"), topics=["radio"], on_frame=on_frame)
        await board.start()
        publisher = Connection(hub.url, token=hub.token("pub"))
        await publisher.start()

        async def dispatch_traffic() -> list[str]:
            acks = []
            for i in range(radio_n):
                ack = await publisher.command(RadioAppend(id=publisher.next_id(), channel="main", text=f"unit {i}"))
                acks.append(ack.offset or "")
            return acks

        async def flood() -> list[str]:
            limits = httpx.Limits(max_connections=16)
            async with httpx.AsyncClient(base_url=hub.http, limits=limits, timeout=30) as http:
                sent = await asyncio.gather(
                    *(http.post("/api/complaints", json=complaint(1000 + i)) for i in range(complaints_n))
                )
            # and every one sent a second time, as a client retrying after a lost answer would
            async with httpx.AsyncClient(base_url=hub.http, limits=limits, timeout=30) as http:
                again = await asyncio.gather(
                    *(http.post("/api/complaints", json=complaint(1000 + i)) for i in range(0, complaints_n, 3))
                )
            assert all(r.status_code == 201 for r in sent) and all(r.status_code == 200 for r in again)
            return [r.json()["file_number"] for r in sent]

        acks, numbers = await asyncio.gather(dispatch_traffic(), flood())
        await wait_for(lambda: len(seen) >= radio_n, 30 * S)
        await wait_for(lambda: worker.filed >= complaints_n, 30 * S)
        await board.close()
        await publisher.close()
        filed = await rows(hub, "SELECT file_number FROM complaints")
        assert len(numbers) == len(set(numbers)) == complaints_n
        assert sorted(n for (n,) in filed) == sorted(numbers)  # every one, once
        assert sorted(seen) == sorted(acks) and len(set(seen)) == radio_n  # every dispatch event, once
        assert worker.dead == 0


async def test_a_resent_submission_with_other_answers_is_refused_not_merged(hub: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=hub.http) as http:
        first = await http.post("/api/complaints", json=complaint(60))
        other = await http.post("/api/complaints", json=complaint(60, narrative="Someone else's story."))
        assert first.status_code == 201 and other.status_code == 409
        assert "status_code" not in other.json()


async def test_references_never_repeat_when_redis_loses_its_counters(hub: RunningHub, valkey: EmbeddedValkey) -> None:
    redis = hub.ctx.redis
    async with worker_running(hub, valkey.url) as worker, httpx.AsyncClient(base_url=hub.http) as http:
        numbers = [(await http.post("/api/complaints", json=complaint(70 + i))).json()["file_number"] for i in range(2)]
        await wait_for(lambda: worker.filed == 2, 30 * S)
        await redis.delete(COMPLAINTS.seq)  # Redis lost its data (or this key) while the hub ran
        after = (await http.post("/api/complaints", json=complaint(72))).json()["file_number"]
        assert after.endswith("-00003") and after not in numbers
        # Were a number handed out twice anyway (an old counter restored), the second file is kept, not dropped.
        await redis.set(COMPLAINTS.seq, 0)
        clash = (await http.post("/api/complaints", json=complaint(73))).json()["file_number"]
        assert clash == numbers[0]
        await wait_for(lambda: worker.dead == 1, 30 * S)
    (letter,) = await rows(hub, "SELECT ref, reason FROM intake_dead_letters")
    assert letter[0] == clash and "already another file's" in letter[1]
    assert await rows(hub, "SELECT COUNT(*) FROM complaints") == [(3,)]


async def test_staff_entering_a_mailed_complaint_start_its_clock_on_the_day_received(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    """A letter received on a Friday: its two business days are the Monday and the Tuesday after."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    import holidays

    staff = {"authorization": f"Bearer {hub.token('casey', Role.CASE_COORDINATOR)}"}
    # A recent Friday (the door takes days within the last year) with no Alberta holiday on it
    # or on the Monday and Tuesday after, so that those two are plainly the business days.
    alberta = holidays.country_holidays("CA", subdiv="AB")
    day = dt.datetime.now(ZoneInfo("America/Edmonton")).date() - dt.timedelta(days=7)
    while day.weekday() != 4 or any(day + dt.timedelta(days=n) in alberta for n in (0, 3, 4)):
        day -= dt.timedelta(days=1)
    friday, tuesday = day.isoformat(), day + dt.timedelta(days=4)
    async with worker_running(hub, valkey.url) as worker, httpx.AsyncClient(base_url=hub.http) as http:
        sent = await http.post("/api/complaints", json=complaint(80, channel="mail", received_on=friday), headers=staff)
        assert sent.status_code == 201
        await wait_for(lambda: worker.filed, 30 * S)
    ((channel, due),) = await rows(
        hub,
        "SELECT c.channel, k.due_at FROM complaints c JOIN complaint_clocks k USING (file_number)"
        " WHERE k.clock = 'acknowledge'",
    )
    local = dt.datetime.fromtimestamp(due / 1000, ZoneInfo("America/Edmonton"))
    assert channel == "mail" and (local.date(), local.hour) == (tuesday, 23)  # Mon, Tue


async def test_status_checks_are_limited_per_address(
    redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path
) -> None:
    async with (
        hub_in_process(valkey.url, tmp_path / "data", status_checks_burst=3, status_checks_per_hour=1.0) as hub,
        httpx.AsyncClient(base_url=hub.http) as http,
    ):
        guesses = [
            (await http.post("/api/complaints/status", json={"file_number": "PC-2026-00001", "status_code": g}))
            for g in ("AAAA", "BBBB", "CCCC", "DDDD")
        ]
        assert [g.status_code for g in guesses] == [404, 404, 404, 429]


async def test_a_receipt_answers_until_filed_and_is_kept_for_a_dead_letter(
    hub: RunningHub, valkey: EmbeddedValkey
) -> None:
    redis = hub.ctx.redis
    async with httpx.AsyncClient(base_url=hub.http) as http:
        sent = (await http.post("/api/complaints", json=complaint(90))).json()
        ask = {"file_number": sent["file_number"], "status_code": sent["status_code"]}
        queued = await http.post("/api/complaints/status", json=ask)
        assert queued.status_code == 200 and queued.json()["stage"] == "received"
        store = RecordsStore(hub.settings.db_path)
        await store.open()
        try:

            async def refuse(entry: Entry) -> None:
                raise Malformed("held for the test")

            worker = IntakeWorker(redis, store, {COMPLAINTS.name: refuse}, block_ms=50)
            await worker.ensure_groups()
            await worker.run_once()
        finally:
            await store.close()
        assert worker.dead == 1
        still = await http.post("/api/complaints/status", json=ask)
        assert still.status_code == 200 and still.json()["stage"] == "received"
        assert await redis.hget(COMPLAINTS.receipts, sent["file_number"]) is not None


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _kept(hub: RunningHub) -> list[Path]:
    return sorted(p for p in hub.settings.attachments_dir.glob("??/*") if p.is_file())


async def test_refused_resends_leave_no_attachments_behind(hub: RunningHub) -> None:
    """A complaint with a photo is kept once; four resends of its id with other answers and other
    photos are refused (409) and keep nothing; a true resend keeps nothing new either."""
    first = complaint(40)
    async with httpx.AsyncClient(base_url=hub.http) as http:

        async def send(body: dict[str, Any], photo: bytes) -> int:
            files = {"attachments": ("photo.png", photo, "image/png")}
            r = await http.post("/api/complaints", data={"complaint": json.dumps(body)}, files=files)
            return r.status_code

        assert await send(first, PNG + b"first") == 201
        assert len(_kept(hub)) == 1
        for i in range(4):
            assert await send(first | {"narrative": f"Changed answers, take {i}."}, PNG + bytes([i])) == 409
        assert await send(first, PNG + b"first") == 200  # the same submission again: one file
    assert len(_kept(hub)) == 1


async def test_files_nothing_names_are_swept_once_a_day_old(hub: RunningHub, valkey: EmbeddedValkey) -> None:
    """An attachment left by a crash (kept, never queued) goes once old; named ones stay, and so
    do young orphans (their submission may still be on its way)."""
    async with httpx.AsyncClient(base_url=hub.http) as http:
        files = {"attachments": ("photo.png", PNG + b"named", "image/png")}
        r = await http.post("/api/complaints", data={"complaint": json.dumps(complaint(41))}, files=files)
        assert r.status_code == 201
    folder = hub.settings.attachments_dir
    orphans = []
    for i in range(2):
        digest = hashlib.sha256(b"orphan %d" % i).hexdigest()
        path = folder / digest[:2] / digest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"orphan %d" % i)
        orphans.append(path)
    old = time.time() - 2 * 86_400
    for path in [*_kept(hub)]:
        if path != orphans[1]:
            os.utime(path, (old, old))
    async with worker_running(hub, valkey.url) as worker:
        removed = await worker.sweep_attachments(folder, 86_400)
    assert removed == 1 and not orphans[0].exists() and orphans[1].exists()
    assert len(_kept(hub)) == 2  # the named photo and the young orphan
