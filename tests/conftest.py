"""Fixtures: one real Valkey (the embedded binary) per test session, a hub per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from server.bus.valkey import EmbeddedValkey
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


# The tiers (pyproject.toml's markers), from where a test lives and what it uses:
# - pure: no server of any kind; hub: a real Valkey and a hub in this process;
# - slow: hub processes, a browser, the fuzzer or the load scenarios (marked in their modules,
#   or every test under tests/static/); `make check` runs the tiers that are not slow;
# - alone: measures load or timing, so `make test` runs it after the rest, by itself.
_NEEDS_VALKEY = {"valkey", "redis", "hub"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "static" in parts or "loadtest" in parts:
            item.add_marker(pytest.mark.slow)
        if "loadtest" in parts:
            item.add_marker(pytest.mark.alone)
        if item.get_closest_marker("slow") is None:
            fixtures = set(getattr(item, "fixturenames", ()))
            item.add_marker(pytest.mark.hub if fixtures & _NEEDS_VALKEY else pytest.mark.pure)
