"""Finding a bad frame's id without recursion: only the top level, however deep the rest."""

from __future__ import annotations

import msgspec
import pytest

from protocol.refs import ref_of

DEEP = "[" * 10_000 + "]" * 10_000


@pytest.mark.parametrize(
    ("frame", "ref"),
    [
        ('{"type":"ping","id":"p1"}', "p1"),
        ('{"x":' + DEEP + ',"id":"after-deep"}', "after-deep"),
        ('{"inner":{"id":"not-this"},"id":"this"}', "this"),
        ('{"text":"a \\"quoted\\" \\"id\\":\\"fake\\" word","id":"real"}', "real"),
        ('{"id":' + DEEP + "}", None),
        ('{"id":7}', None),
        ('{"id":""}', None),
        ('{"id":"' + "x" * 65 + '"}', None),
        ('["id","x"]', None),
        ("{not json", None),
        ('{"id":"caf\\u00e9"}', "café"),
    ],
)
def test_json_ids(frame: str, ref: str | None) -> None:
    assert ref_of(frame, binary=False) == ref


def test_msgpack_ids() -> None:
    enc = msgspec.msgpack.encode
    deep = b"\x91" * 10_000 + b"\xc0"
    assert ref_of(enc({"type": "ping", "id": "m1"}), binary=True) == "m1"
    assert ref_of(b"\x82" + enc("x") + deep + enc("id") + enc("m2"), binary=True) == "m2"
    assert ref_of(b"\x81" + enc("id") + deep, binary=True) is None
    nested = enc({"a": {"id": "inner"}, "b": [1, 2.5, b"raw", None, True], "id": "outer"})
    assert ref_of(nested, binary=True) == "outer"
    assert ref_of(b"\x81" + enc("id"), binary=True) is None  # truncated
    assert ref_of(b"\xc1", binary=True) is None  # not msgpack
