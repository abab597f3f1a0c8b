"""Plans packed for the bus script arrive in Lua intact, bytes included."""

from __future__ import annotations

import msgspec
import pytest
import redis.asyncio as aioredis

from server.bus.luapack import pack


@pytest.mark.parametrize(
    "value",
    [
        {"n": [0, 1, -1, -32, -33, 127, 128, 2**40, -(2**40), 1795455408226], "f": [1.5, -113.4947]},
        {"mid": "y" * 300, "big": "z" * 70_000, "list": list(range(20)), "t": [True, False, None]},
        {f"k{i}": [i, str(i)] for i in range(20)},
    ],
)
def test_pack_is_valid_msgpack(value: object) -> None:
    """Without bytes, what we pack decodes (by msgspec) to the same value."""
    assert msgspec.msgpack.decode(pack(value)) == value


async def test_lua_reads_binary_payloads_exactly(redis: aioredis.Redis) -> None:
    """Valkey's cmsgpack unpacks the plan and gets every byte of a binary payload back."""
    payload = bytes(range(256)) * 3
    script = "local t = cmsgpack.unpack(ARGV[1]); return {t.blob, #t.list, t.list[3][2], tostring(t.num)}"
    blob, n, inner, num = await redis.eval(
        script, 0, pack({"blob": payload, "list": [[1], [2], ["a", "b"]], "num": 2**40})
    )
    assert blob == payload and n == 3 and inner == b"b" and num == b"1099511627776"
