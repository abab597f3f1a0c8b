"""msgpack for Lua's cmsgpack: bytes go as ``str`` (Lua strings are binary-safe).

msgspec writes bytes as msgpack ``bin``, which the cmsgpack library inside
Valkey's Lua cannot read. Plans handed to the bus script are small trees of
dicts, lists, strings, bytes and numbers; this packs exactly those.
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = ["pack"]


def _header(out: bytearray, n: int, fix: int, fix_max: int, wide: tuple[tuple[int, int, str], ...]) -> None:
    if n <= fix_max:
        out.append(fix | n)
        return
    for code, limit, fmt in wide:
        if n < limit:
            out.append(code)
            out += struct.pack(fmt, n)
            return
    raise ValueError("too large for msgpack")


def _pack(obj: Any, out: bytearray) -> None:
    if obj is None:
        out.append(0xC0)
    elif obj is True or obj is False:
        out.append(0xC3 if obj else 0xC2)
    elif isinstance(obj, int):
        if 0 <= obj < 128:
            out.append(obj)
        elif -32 <= obj < 0:
            out += struct.pack(">b", obj)
        else:
            out.append(0xD3)
            out += struct.pack(">q", obj)
    elif isinstance(obj, float):
        out.append(0xCB)
        out += struct.pack(">d", obj)
    elif isinstance(obj, str | bytes):
        data = obj.encode() if isinstance(obj, str) else obj
        if len(data) < 32:
            out.append(0xA0 | len(data))
        else:
            _header(out, len(data), 0, -1, ((0xD9, 1 << 8, ">B"), (0xDA, 1 << 16, ">H"), (0xDB, 1 << 32, ">I")))
        out += data
    elif isinstance(obj, list | tuple):
        _header(out, len(obj), 0x90, 15, ((0xDC, 1 << 16, ">H"), (0xDD, 1 << 32, ">I")))
        for item in obj:
            _pack(item, out)
    elif isinstance(obj, dict):
        _header(out, len(obj), 0x80, 15, ((0xDE, 1 << 16, ">H"), (0xDF, 1 << 32, ">I")))
        for key, value in obj.items():
            _pack(key, out)
            _pack(value, out)
    else:
        raise TypeError(f"cannot pack {type(obj).__name__}")


def pack(obj: Any) -> bytes:
    out = bytearray()
    _pack(obj, out)
    return bytes(out)
