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
