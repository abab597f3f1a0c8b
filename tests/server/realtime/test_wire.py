"""Frames the hub builds once and writes to many sockets are exactly what RFC 6455 says."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from server.realtime.wire import frame


def _parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise AssertionError("frame incomplete")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
@pytest.mark.parametrize("binary", [True, False])
def test_frame_parses_back_whole_at_every_length_boundary(size: int, binary: bool) -> None:
    """7-bit, 16-bit and 64-bit lengths all parse back to one final, unmasked frame with the payload."""
    payload = bytes(i % 251 for i in range(size))
    parsed = _parse(frame(payload, binary))
    assert parsed.fin and parsed.opcode is (Opcode.BINARY if binary else Opcode.TEXT)
    assert parsed.data == payload
