"""The ``id`` of a frame that did not decode, found without recursion.

An error answers the command it is about (its ``ref``). msgspec finds a
frame's top-level ``id`` quickly, but it skips other values by recursion, so
a frame nested a thousand levels deep (in any field) defeats it. These
scanners walk the frame with a loop and a counter instead: however deep the
nesting, they use no stack, and they read only the top level.

Pure: bytes in, a string (or None) out.
"""

from __future__ import annotations

import re
import struct

import msgspec

from protocol.limits import MAX_ID

__all__ = ["ref_of"]

# JSON tokens that matter at the top level: strings (with their escapes), brackets, colons, commas.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:,]')


def ref_of(raw: str | bytes, binary: bool) -> str | None:
    """The top-level ``id`` of a frame, if it is a usable one (a string of 1 to MAX_ID characters)."""
    data = raw.encode() if isinstance(raw, str) else raw
    found = _json_id(data) if not binary else _msgpack_id(data)
    return found if found is not None and 0 < len(found) <= MAX_ID else None


def _json_id(data: bytes) -> str | None:
    depth = 0
    key: bytes | None = None  # the last string seen at the top level, while it may be a key
    after_colon = False
    for m in _TOKENS.finditer(data):
        token = m.group()
        first = token[:1]
        if first in b"[{":
            depth += 1
            key = None
            after_colon = False
        elif first in b"]}":
            depth -= 1
            if depth <= 0:
                return None
        elif depth != 1:
            continue
        elif first == b":":
            after_colon = key is not None
        elif first == b",":
            key, after_colon = None, False
        elif after_colon:  # a string value at the top level
            if key == b'"id"':
                try:
                    value = msgspec.json.decode(token)
                except msgspec.DecodeError:
                    return None
                return value if isinstance(value, str) else None
            key, after_colon = None, False
        else:
            key = token
    return None


def _msgpack_id(data: bytes) -> str | None:
    """Walk the top-level map's entries, skipping values with a count of items still to skip."""
    reader = _Reader(data)
    try:
        entries = reader.map_header()
        for _ in range(entries):
            key = reader.string()
            if key == "id":
                return reader.string()
            reader.skip_value()
    except (ValueError, IndexError, struct.error, UnicodeDecodeError):
        return None
    return None


class _Reader:
    __slots__ = ("data", "at")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def _take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise IndexError("truncated")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def _uint(self, size: int) -> int:
        return int.from_bytes(self._take(size), "big")

    def map_header(self) -> int:
        b = self._take(1)[0]
        if 0x80 <= b <= 0x8F:
            return b & 0x0F
        if b == 0xDE:
            return self._uint(2)
        if b == 0xDF:
            return self._uint(4)
        raise ValueError("not a map")

    def string(self) -> str | None:
        """A string value, or None (having skipped it) for any other value."""
        b = self.data[self.at]
        if 0xA0 <= b <= 0xBF or b in (0xD9, 0xDA, 0xDB):
            self.at += 1
            n = b & 0x1F if b <= 0xBF else self._uint({0xD9: 1, 0xDA: 2, 0xDB: 4}[b])
            return self._take(n).decode()
        self.skip_value()
        return None

    def skip_value(self) -> None:
        pending = 1  # values still to skip; a container adds its items
        while pending:
            pending -= 1
            pending += self._skip_one()

    def _skip_one(self) -> int:
        """Skip one value's header (and its bytes); -> how many items it contains."""
        b = self._take(1)[0]
        if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):
            return 0
        if 0x80 <= b <= 0x8F:
            return 2 * (b & 0x0F)
        if 0x90 <= b <= 0x9F:
            return b & 0x0F
        if 0xA0 <= b <= 0xBF:
            self._take(b & 0x1F)
            return 0
        sized = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}  # bin, str
        if b in sized:
            self._take(self._uint(sized[b]))
            return 0
        ext = {0xC7: 1, 0xC8: 2, 0xC9: 4}
        if b in ext:
            self._take(self._uint(ext[b]) + 1)
            return 0
        fixed = {0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}
        fixext = {0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17}
        if b in fixed:
            self._take(fixed[b])
            return 0
        if b in fixext:
            self._take(fixext[b])
            return 0
        if b == 0xDC:
            return self._uint(2)
        if b == 0xDD:
            return self._uint(4)
        if b == 0xDE:
            return 2 * self._uint(2)
        if b == 0xDF:
            return 2 * self._uint(4)
        raise ValueError(f"not msgpack: 0x{b:02x}")
