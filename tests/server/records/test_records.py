"""The records store and the archiver: every event in SQLite exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from protocol.events import RadioLogged
from protocol.state import RadioEntry
from server.access.roles import Role
from server.bus.log import Bus
from server.bus.partition import Partition
from server.bus.topics import topic_named
from server.config import Settings
from server.metrics import HubMetrics
from server.records.archiver import GROUP, Archiver
from server.records.migrations import MIGRATIONS
from server.records.store import RecordsStore, UserExists

RADIO = topic_named("radio")
assert RADIO is not None
RADIO_STREAM = Partition().stream(RADIO)


async def _append(bus: Bus, n: int, start: int = 0) -> list[str]:
    out = []
    for i in range(start, start + n):
        event = RadioLogged(ts=i, by="ana", entry=RadioEntry(channel="main", text=f"e{i}", at=i, by="ana"))
        offset, _ = await bus.commit(RADIO, event)
        out.append(offset)
    return out


async def test_migrations_are_applied_once(tmp_path: Path) -> None:
    """Opening the store twice leaves it at the newest schema version, tables intact, WAL on."""
    for _ in range(2):
        store = RecordsStore(tmp_path / "r.sqlite3")
        await store.open()
        assert await store.schema_version() == len(MIGRATIONS)
        assert (await store._row("PRAGMA journal_mode"))[0] == "wal"
        await store.close()


async def test_users_with_argon2_passwords(store: RecordsStore) -> None:
    """Passwords are stored as argon2 hashes and checked; officers must name their unit."""
    await store.add_user("ana", Role.DISPATCHER, "correct horse")
    assert (await store.check_password("ana", "correct horse")) is not None
    assert await store.check_password("ana", "wrong") is None
    assert await store.check_password("nobody", "x") is None
    assert (await store._row("SELECT password_hash FROM users WHERE name='ana'"))[0].startswith("$argon2id$")
    with pytest.raises(UserExists):
        await store.add_user("ana", Role.DISPATCHER, "x")
    with pytest.raises(ValueError, match="unit"):
        await store.add_user("u7", Role.OFFICER, "x")
    assert [a[2] for a in await store.audit_trail()] == ["user.add"]


async def test_archiver_writes_each_event_once_even_when_redelivered(
    redis: aioredis.Redis, store: RecordsStore
) -> None:
    """Entries read but not acknowledged (a crash before XACK) are archived once on redelivery."""
    bus = Bus(redis, Settings())
    archiver = Archiver(redis, store, HubMetrics(), Settings(), consumer="c1")
    await archiver.ensure_groups()
    offsets = await _append(bus, 10)
    # Simulate a crash after writing to SQLite but before XACK: read, store, no ack.
    reply = await redis.xreadgroup(GROUP, "c1", {RADIO_STREAM: ">"}, count=100)
    entries = reply[0][1]
    await store.archive([await _as_archived(e) for e in entries[:5]])  # five made it to SQLite
    await archiver._drain_own_pending()  # the restart: own pending entries again
    events = await store.archived("radio")
    assert [e.id for e in events] == offsets
    assert await redis.xpending(RADIO_STREAM, GROUP) == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }


async def _as_archived(entry):  # type: ignore[no-untyped-def]
    from server.records.store import ArchivedEvent

    sid, fields = entry
    return ArchivedEvent("radio", sid.decode(), "", "radio.logged", "ana", 0, fields[b"e"])


async def test_dead_consumers_entries_are_reclaimed(redis: aioredis.Redis, store: RecordsStore) -> None:
    """A hub that died holding entries: another hub's archiver claims and archives them once."""
    bus = Bus(redis, Settings())
    dead = Archiver(redis, store, HubMetrics(), Settings(), consumer="dead-hub")
    await dead.ensure_groups()
    offsets = await _append(bus, 7)
    await redis.xreadgroup(GROUP, "dead-hub", {RADIO_STREAM: ">"}, count=100)  # read, then died
    alive = Archiver(redis, store, HubMetrics(), Settings(), consumer="alive-hub", claim_idle_ms=0)
    assert await alive.reclaim() == 7
    assert [e.id for e in await store.archived("radio")] == offsets
    assert await alive.measure_lag() == 0
    assert (await store.archived("radio"))[0].kind == "radio.logged"


async def test_nothing_leaves_redis_before_it_is_archived(redis: aioredis.Redis, store: RecordsStore) -> None:
    """With the archiver behind, streams keep every unarchived event; once archived, they trim to length."""
    settings = Settings(history_maxlen=10, history_hard_cap_factor=1000)
    bus = Bus(redis, settings)
    archiver = Archiver(redis, store, HubMetrics(), settings, consumer="c1", batch=50)
    await archiver.ensure_groups()
    offsets = await _append(bus, 300)  # the archiver is not running: nothing may be trimmed
    assert await redis.xlen(RADIO_STREAM) == 300
    reply = await redis.xreadgroup(GROUP, "c1", {RADIO_STREAM: ">"}, count=120)
    await archiver._store(RADIO, reply[0][1])  # 120 archived: those beyond the newest 10 may go
    remaining = await redis.xrange(RADIO_STREAM)
    assert remaining[0][0].decode() == offsets[119]  # the last archived one is kept, none unarchived lost
    await archiver._drain_own_pending()
    reply = await redis.xreadgroup(GROUP, "c1", {RADIO_STREAM: ">"}, count=1000)
    await archiver._store(RADIO, reply[0][1])
    assert 10 <= await redis.xlen(RADIO_STREAM) <= 11
    assert [e.id for e in await store.archived("radio")] == offsets


async def test_entries_of_a_dead_local_hub_are_taken_over_at_once(redis: aioredis.Redis, store: RecordsStore) -> None:
    """A consumer named for a process on this host that no longer exists is claimed without waiting."""
    import socket
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    bus = Bus(redis, Settings())
    dead = Archiver(redis, store, HubMetrics(), Settings(), consumer=f"{socket.gethostname()}-{gone.pid}")
    await dead.ensure_groups()
    offsets = await _append(bus, 5)
    await redis.xreadgroup(GROUP, dead.consumer, {RADIO_STREAM: ">"}, count=100)
    alive = Archiver(redis, store, HubMetrics(), Settings(), consumer="alive-hub")  # default idle: 30 s
    assert await alive.reclaim() == 0  # not idle long enough for the general rule
    assert await alive.reclaim_dead_local() == 5
    assert [e.id for e in await store.archived("radio")] == offsets
    names = [c["name"].decode() for c in await redis.xinfo_consumers(RADIO_STREAM, GROUP)]
    assert dead.consumer not in names
