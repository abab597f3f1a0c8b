"""Fixtures: one real Valkey (the embedded binary) per test session, a hub per test; a private
PostgreSQL server per test session (started by the first test that needs one), a database per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from server.bus.valkey import EmbeddedValkey
from server.records.private_postgres import PrivatePostgres
from server.records.store import RecordsStore
from tests.helpers import RunningHub, hub_in_process


@pytest.fixture(scope="session")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedValkey]:
    server = EmbeddedValkey(tmp_path_factory.mktemp("valkey"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis(valkey: EmbeddedValkey) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(valkey.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def hub(redis: aioredis.Redis, valkey: EmbeddedValkey, tmp_path: Path) -> AsyncIterator[RunningHub]:
    async with hub_in_process(valkey.url, tmp_path / "data") as running:
        yield running


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as server:
        yield server


@pytest.fixture
def postgres_url(private_postgres: PrivatePostgres) -> str:
    """A new, empty database on the session's PostgreSQL server."""
    return private_postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def records_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a records store lives, once per engine: a SQLite file, and a PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "records.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(records_target: Path | str) -> AsyncIterator[RecordsStore]:
    """An open records store, on each engine in turn."""
    s = RecordsStore(records_target)
    await s.open()
    yield s
    await s.close()


# The tiers (pyproject.toml's markers), from where a test lives and what it uses:
# - pure: no server of any kind; hub: a real Valkey and a hub in this process;
# - slow: hub processes, a browser, the fuzzer or the load scenarios (marked in their modules,
#   or every test under tests/static/); `make check` runs the tiers that are not slow;
# - alone: measures load or timing, so `make test` runs it after the rest, by itself: the load
#   scenarios, and the tests on a cluster or a Sentinel set (several Valkey processes each, and a
#   failover timed from a kill to health green; beside other tests they slow the machine for all).
_NEEDS_VALKEY = {"valkey", "redis", "hub", "private_postgres"}
_MANY_VALKEYS = {"cluster", "sentinel_set", "cluster_with_replicas"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "static" in parts or "loadtest" in parts:
            item.add_marker(pytest.mark.slow)
        if "loadtest" in parts or set(getattr(item, "fixturenames", ())) & _MANY_VALKEYS:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.alone)
        if item.get_closest_marker("slow") is None:
            fixtures = set(getattr(item, "fixturenames", ()))
            item.add_marker(pytest.mark.hub if fixtures & _NEEDS_VALKEY else pytest.mark.pure)
