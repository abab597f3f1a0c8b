"""Hub processes: two on one Valkey, SIGKILL and restart, worker processes, clean stops."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import stat
from pathlib import Path

import httpx
import pytest

from clients.connection import Connection
from protocol.messages import EventFrame, IncidentCreate, RadioAppend, Resync
from protocol.state import Location
from server.bus.valkey import EmbeddedValkey
from tests.helpers import OPERATOR, HubProcess, S, free_port, start_hub_process, test_token, wait_for

pytestmark = pytest.mark.slow


def valkey_pids(data_dir: Path) -> list[int]:
    """valkey-server processes whose working set is this data dir."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        # valkey-server retitles itself "valkey-server unixsocket:<data dir>/valkey.sock"
        if b"valkey-server" in cmdline and str(data_dir).encode() in cmdline:
            found.append(int(entry.name))
    return found


async def _events(conn: Connection, n: int) -> list[EventFrame]:
    got: list[EventFrame] = []
    while len(got) < n:
        frame = await conn.next_frame(10)
        if isinstance(frame, EventFrame):
            got.append(frame)
    return got


async def test_command_on_one_hub_reaches_client_on_another(
    valkey: EmbeddedValkey, tmp_path: Path, redis: object, postgres_url: str
) -> None:
    """Two hub processes share one Valkey (and one records store): a call entered on hub A shows on
    a board on hub B."""
    shared = {"DATABASE_URL": postgres_url}
    a = start_hub_process(tmp_path / "a", redis_url=valkey.url, env=shared)
    b = start_hub_process(tmp_path / "b", redis_url=valkey.url, env=shared)
    try:
        a.wait_healthy()
        b.wait_healthy()
        async with (
            Connection(b.url, token=test_token("board"), topics=["incidents"]) as board,
            Connection(a.url, token=test_token("ana")) as desk,
        ):
            ack = await desk.command(
                IncidentCreate(id=desk.next_id(), call_type="ANIMAL", priority=3, location=Location("Hawrelak Park"))
            )
            (event,) = await _events(board, 1)
            assert event.offset == ack.offset
            assert event.payload.incident.location.address == "Hawrelak Park"
    finally:
        a.stop()
        b.stop()


async def test_sigkill_and_restart_loses_nothing(tmp_path: Path) -> None:
    """A hub killed with SIGKILL leaves no Valkey behind; restarted, it has state, history and archive."""
    data = tmp_path / "data"
    port = free_port()
    hub = start_hub_process(data, port=port)  # embedded Valkey
    board = Connection(hub.url, token=test_token("board"), topics=["incidents", "radio"], backoff=(0.1, 0.5))
    try:
        await _sigkill_and_restart(hub, board, data, port)
    finally:
        await board.close()
        hub.stop()  # whichever hub runs now; a no-op if it has already stopped
    assert not valkey_pids(data)


async def _sigkill_and_restart(hub: HubProcess, board: Connection, data: Path, port: int) -> None:
    hub.wait_healthy()
    await board.start()
    async with Connection(hub.url, token=test_token("ana")) as desk:
        created = await desk.command(
            IncidentCreate(id=desk.next_id(), call_type="NOISE", priority=2, location=Location("Whyte Ave"))
        )
        before = [
            (await desk.command(RadioAppend(id=desk.next_id(), channel="main", text=f"before {i}"))).offset
            for i in range(20)
        ]
    await wait_for(lambda: board.positions["radio"].offset == before[-1])
    assert valkey_pids(data)

    hub.stop(signal.SIGKILL)
    await wait_for(lambda: not valkey_pids(data), 15)  # the child follows its parent
    await wait_for(lambda: not board.connected)

    restarted = start_hub_process(data, port=port)
    hub.proc, hub.log_path = restarted.proc, restarted.log_path  # the caller stops whichever runs
    hub.wait_healthy()
    async with Connection(hub.url, token=test_token("ana")) as desk:
        after = [
            (await desk.command(RadioAppend(id=desk.next_id(), channel="main", text=f"after {i}"))).offset
            for i in range(5)
        ]
    await wait_for(lambda: board.connected and board.positions["radio"].offset == after[-1], 15)
    frames = []
    while board.pending_frames():
        frames.append(await board.next_frame())
    radio = [f.offset for f in frames if isinstance(f, EventFrame) and f.topic == "radio"]
    assert radio == before + after  # each once, in order, across the kill
    assert board.stats.connects == 2
    assert sum(isinstance(f, Resync) for f in frames) == 2  # only the initial snapshots

    # Live state survived: a fresh board's snapshot has the incident.
    async with Connection(hub.url, token=test_token("late"), topics=["incidents"]) as late:
        snap = await late.next_frame()
        assert isinstance(snap, Resync)
        assert [i.id for i in snap.snapshot] == [created.result["incident"]]  # type: ignore[index]

    # The archive has every event exactly once.
    def archived() -> list[str]:
        with sqlite3.connect(data / "records.sqlite3") as db:
            return [r[0] for r in db.execute("SELECT id FROM events WHERE topic='radio' ORDER BY ms, seq")]

    await wait_for(lambda: archived() == before + after, 15)
    assert hub.stop() == 0


async def test_workers_share_the_port_and_the_bus(tmp_path: Path) -> None:
    """With --workers 2 both processes serve; events cross between them; SIGTERM stops everything."""
    data = tmp_path / "data"
    hub = start_hub_process(data, workers=2)
    try:
        hub.wait_healthy()
        boards = [Connection(hub.url, token=test_token(f"b{i}"), topics=["radio"]) for i in range(6)]
        await asyncio.gather(*(b.start() for b in boards))
        async with Connection(hub.url, token=test_token("ana")) as desk:
            ack = await desk.command(RadioAppend(id=desk.next_id(), channel="main", text="all units"))
        for b in boards:
            (event,) = await _events(b, 1)
            assert event.offset == ack.offset
        await asyncio.gather(*(b.close() for b in boards))
    finally:
        assert hub.stop() == 0
    await wait_for(lambda: not valkey_pids(data), 10)


async def test_sigterm_closes_clients_with_1001(tmp_path: Path) -> None:
    """Graceful shutdown: clients are told 'going away' (1001) so they reconnect elsewhere."""
    hub = start_hub_process(tmp_path / "data")
    hub.wait_healthy()
    board = Connection(hub.url, token=test_token("board"), topics=["radio"], backoff=(5.0, 5.0))
    await board.start()
    hub.stop(signal.SIGTERM)
    await wait_for(lambda: board.stats.close_codes, 10)
    assert board.stats.close_codes[0] == 1001
    await board.close()
    assert not valkey_pids(tmp_path / "data")
    assert "embedded valkey stopped" in hub.log()


def test_health_goes_red_when_valkey_dies_and_green_after_restart(tmp_path: Path) -> None:
    """The supervised Valkey is restarted after it dies, and health says so while it is down."""
    data = tmp_path / "data"
    hub = start_hub_process(data)
    try:
        hub.wait_healthy()
        (pid,) = valkey_pids(data)
        os.kill(pid, signal.SIGSTOP)  # hang it: health must notice
        r = httpx.get(hub.http + "/healthz", timeout=10 * S, headers=OPERATOR)
        assert r.status_code == 503 and r.json()["checks"]["redis"] != "ok"
        os.kill(pid, signal.SIGKILL)
        hub.wait_healthy(30)
        assert valkey_pids(data) and valkey_pids(data) != [pid]
        assert "VALKEY DOWN" in hub.log()
    finally:
        hub.stop()


def test_the_data_dir_and_its_files_are_for_the_hubs_user_alone(tmp_path: Path) -> None:
    """Started under a permissive umask, the hub keeps its data dir 0700 and writes its records,
    keys (kept in the records) and Valkey's append-only file readable by its own user only."""
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # as an older version left it
    hub = start_hub_process(data, env={"DISPATCH_INTAKE_WORKERS": "0"}, umask=0o022)
    try:
        hub.wait_healthy()
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        made = [p for p in data.rglob("*") if p.is_file() and not p.name.startswith("hub-")]
        names = {p.name for p in made}
        assert "records.sqlite3" in names and any("appendonly" in n for n in names), names
        assert not [n for n in names if n.endswith(".key")]  # the keys are in the records store, not in files
        readable = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in made if p.stat().st_mode & 0o077}
        assert readable == {}
    finally:
        hub.stop()
