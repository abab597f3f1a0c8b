"""Every JSON example in docs/protocol.md decodes as a real frame, and every frame has one."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from protocol.codec import FrameError, WireFormat, codec_for
from protocol.events import Event
from protocol.messages import ClientFrame, EventFrame, ServerFrame

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
JSON = codec_for(WireFormat.JSON)


def _tag(cls: type) -> str:
    return str(cls.__struct_config__.tag)  # type: ignore[attr-defined]


def test_every_frame_and_event_has_a_valid_example() -> None:
    """Each ```json block decodes; every client frame, server frame and event kind is shown."""
    blocks = re.findall(r"```json\n(.*?)\n```", DOC.read_text(), re.S)
    shown: set[str] = set()
    for block in blocks:
        try:
            frame = JSON.decode_client(block)
        except FrameError:
            frame = JSON.decode_server(block)  # type: ignore[assignment]
        shown.add(_tag(type(frame)))
        if isinstance(frame, EventFrame):
            shown.add("event:" + _tag(type(frame.payload)))
    wanted = {_tag(c) for c in typing.get_args(ClientFrame) + typing.get_args(ServerFrame)}
    wanted |= {"event:" + _tag(c) for c in typing.get_args(Event)}
    assert sorted(wanted - shown) == []
