"""Records beyond one host: hub processes on their own data dirs sharing one Valkey and one
PostgreSQL give every read the same, whole answer; accounts and keys are shared; a hub with
another records store on the same Redis refuses to start; and after Redis is lost, the live
state comes back from the records with no id given twice."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.connection import Connection
from protocol.messages import (
    AlarmAcknowledge,
    IncidentAssign,
    IncidentClose,
    IncidentCreate,
    RadioAppend,
    Resync,
    UnitPanic,
    UnitRoster,
)
from protocol.state import Alarm, Incident, Location, UnitState
from server.bus.valkey import EmbeddedValkey
from tests.helpers import ROOT, HubProcess, start_hub_process

pytestmark = pytest.mark.slow


def _cli(*args: str, env: dict[str, str] | None = None) -> str:
    import os

    done = subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def _sign_in(http: str, user: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=http) as client:
        return await client.post("/api/login", json={"user": user, "password": password})


async def _get(hub: HubProcess, path: str, token: str) -> Any:
    async with httpx.AsyncClient(base_url=hub.http, headers={"Authorization": f"Bearer {token}"}) as client:
        resp = await client.get(path)
        return resp.status_code, resp.json() if resp.headers.get("content-type", "").startswith(
            "application/json"
        ) else resp.text


async def _until(check: Any, what: str, timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


async def test_two_hubs_on_one_valkey_and_one_postgresql_answer_alike(
    valkey: EmbeddedValkey, redis: object, tmp_path: Path, postgres_url: str
) -> None:
    """Commands go through hub A only; every read through hub B equals A's. A user added on A signs in
    on B with a token signed by the key both read from the store; disabled on A, B refuses it."""
    shared = {"DATABASE_URL": postgres_url}
    _cli("user", "add", "ana", "--role", "dispatcher", "--password", "pw-ana-12345", env=shared)
    _cli("user", "add", "sue", "--role", "supervisor", "--password", "pw-sue-12345", env=shared)
    a = start_hub_process(tmp_path / "a", redis_url=valkey.url, env=shared, test_secret=False)
    b = start_hub_process(tmp_path / "b", redis_url=valkey.url, env=shared, test_secret=False)
    try:
        a.wait_healthy()
        b.wait_healthy()
        signed = await _sign_in(a.http, "ana", "pw-ana-12345")
        assert signed.status_code == 200, signed.text
        token = signed.json()["token"]
        ids = []
        async with Connection(a.url, token=token) as desk:
            for unit in ("PO11", "PO12"):
                await desk.command(UnitRoster(id=desk.next_id(), unit=unit, district="Downtown"))
            for n in range(8):
                ack = await desk.command(
                    IncidentCreate(
                        id=desk.next_id(), call_type="ANIMAL", priority=3, location=Location(f"{n} Jasper Ave")
                    )
                )
                ids.append(ack.result["incident"] if ack.result else "")
            await desk.command(IncidentAssign(id=desk.next_id(), incident=ids[0], unit="PO11", primary=True))
            for n, incident in enumerate(ids[:5]):
                await desk.command(RadioAppend(id=desk.next_id(), channel="main", text=f"entry {n} dog at large"))
                await desk.command(IncidentClose(id=desk.next_id(), incident=incident, disposition="report taken"))
        assert all(ids)

        async def archived() -> bool:
            status, body = await _get(b, f"/api/incidents/{ids[4]}", token)
            radio = (await _get(b, "/api/radio?q=dog", token))[1]
            return status == 200 and body["incident"]["status"] == "closed" and len(radio["entries"]) == 5

        await _until(archived, "the closes and radio entries archived")
        now = int(time.time() * 1000)
        supervisor = (await _sign_in(a.http, "sue", "pw-sue-12345")).json()["token"]
        reads = [(f"/api/incidents/{i}", token) for i in ids] + [
            ("/api/radio?q=dog", token),
            (f"/api/reports/response-times?since={now - 86_400_000}&until={now + 60_000}", token),
            ("/open311/v2/requests.json", token),
            ("/api/intake/dead-letters", supervisor),
        ]
        for path, who in reads:
            on_a, on_b = await _get(a, path, who), await _get(b, path, who)
            assert on_a == on_b, path
            assert on_a[0] == 200, (path, on_a)

        on_b = await _sign_in(b.http, "ana", "pw-ana-12345")  # the account, added once, on every hub
        assert on_b.status_code == 200
        assert (await _get(b, "/api/me", token))[0] == 200  # A's token is good on B
        _cli("user", "disable", "ana", "--redis-url", valkey.url, env=shared)

        async def refused() -> bool:
            return (await _get(b, "/api/me", token))[0] == 401

        await _until(refused, "the disabled account refused on B", 5.0)
        assert (await _sign_in(b.http, "ana", "pw-ana-12345")).status_code == 401
    finally:
        a.stop()
        b.stop()


def test_a_hub_with_another_records_store_on_the_same_redis_refuses_to_start(
    valkey: EmbeddedValkey, redis: object, tmp_path: Path
) -> None:
    """Hub A archives into its SQLite; hub B, with a SQLite of its own, would split the records:
    it stops, saying why."""
    a = start_hub_process(tmp_path / "a", redis_url=valkey.url)
    try:
        a.wait_healthy()
        b = start_hub_process(tmp_path / "b", redis_url=valkey.url)
        code = b.proc.wait(60)
        assert code != 0
        assert "keep their records in another store" in b.log()
        assert "same DATABASE_URL" in b.log()
        assert a.wait_healthy()["status"] == "ok"
    finally:
        a.stop()


def _aof(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.iterdir() if p.name.startswith("appendonly")]


async def _frames_until(conn: Connection, want: int, kind: type) -> list[Any]:
    got: list[Any] = []
    while len([f for f in got if isinstance(f, kind)]) < want:
        got.append(await conn.next_frame(15))
    return got


async def test_after_redis_is_lost_the_live_state_comes_back_from_the_records(tmp_path: Path) -> None:
    """Hub stopped, its Valkey's append-only file deleted, hub started: the open calls with their units,
    the roster and an unacknowledged panic are on the board again, a new call gets a number never
    given, no archived call changed, and the board that resumes is told to resync (reason: epoch)."""
    from tests.helpers import test_token

    data = tmp_path / "data"
    hub = start_hub_process(data)
    token = test_token("ana")
    try:
        hub.wait_healthy()
        async with Connection(hub.url, token=token) as desk:
            for unit in ("PO11", "PO12", "PO21"):
                await desk.command(UnitRoster(id=desk.next_id(), unit=unit, district="Downtown"))
            made = []
            for n in range(6):
                ack = await desk.command(
                    IncidentCreate(
                        id=desk.next_id(), call_type="ANIMAL", priority=3, location=Location(f"{n} Whyte Ave")
                    )
                )
                assert ack.result is not None
                made.append(ack.result["incident"])
            await desk.command(IncidentAssign(id=desk.next_id(), incident=made[0], unit="PO11", primary=True))
            for incident in made[3:]:
                await desk.command(IncidentClose(id=desk.next_id(), incident=incident, disposition="report taken"))
            acked_panic = await desk.command(UnitPanic(id=desk.next_id(), unit="PO21"))
            assert acked_panic.result is not None
            first_alarm = acked_panic.result["alarm"]
            await desk.command(AlarmAcknowledge(id=desk.next_id(), alarm=first_alarm))
            panic = await desk.command(UnitPanic(id=desk.next_id(), unit="PO12", reason="officer down"))
            assert panic.result is not None
        async with Connection(hub.url, token=test_token("board"), topics=["incidents", "units", "alarms"]) as board:
            await _frames_until(board, 3, Resync)
            resume_from = board.saved_positions()

        def panic_archived() -> bool:
            with sqlite3.connect(data / "records.sqlite3") as db:
                rows = db.execute("SELECT live FROM live_records WHERE topic='alarms' AND id LIKE 'panic%'").fetchall()
            return sorted(r[0] for r in rows) == [0, 1]  # one acknowledged, one still up

        async def archived() -> bool:
            return panic_archived()

        await _until(archived, "the panics archived")
        closed_before = {i: (await _get(hub, f"/api/incidents/{i}", token))[1] for i in made[3:]}
    finally:
        assert hub.stop() == 0

    aof = _aof(data)
    assert aof, list(data.iterdir())
    for path in aof:
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    hub = start_hub_process(data)
    try:
        hub.wait_healthy()
        async with Connection(
            hub.url, token=test_token("board"), topics=["incidents", "units", "alarms"], resume_from=resume_from
        ) as board:
            resyncs = [f for f in await _frames_until(board, 3, Resync) if isinstance(f, Resync)]
            assert {r.reason for r in resyncs} == {"epoch"}
            state = {r.topic: r for r in resyncs}
            open_calls = {i.id: i for i in state["incidents"].snapshot if isinstance(i, Incident)}
            assert set(open_calls) == set(made[:3])
            assert [a.unit for a in open_calls[made[0]].units] == ["PO11"]
            units = {u.id: u.status for u in state["units"].snapshot if isinstance(u, UnitState)}
            assert set(units) == {"PO11", "PO12", "PO21"} and units["PO11"] == "dispatched"
            alarms = [a for a in state["alarms"].snapshot if isinstance(a, Alarm) and a.alarm == "panic"]
            assert [(a.unit, a.state) for a in alarms] == [
                ("PO12", "active")
            ]  # still latched; the acked one is not back
        async with Connection(hub.url, token=token) as desk:
            ack = await desk.command(
                IncidentCreate(id=desk.next_id(), call_type="ANIMAL", priority=3, location=Location("After the loss"))
            )
            assert ack.result is not None
            fresh = ack.result["incident"]
            number = int(fresh.rsplit("-", 1)[1])
            assert number > max(int(i.rsplit("-", 1)[1]) for i in made)
        for incident, before in closed_before.items():
            assert (await _get(hub, f"/api/incidents/{incident}", token))[1] == before
    finally:
        hub.stop()
