"""Every JSON example in docs/protocol.md decodes as a real frame."""

from __future__ import annotations

import re
from pathlib import Path

from protocol.codec import FrameError, WireFormat, codec_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
JSON = codec_for(WireFormat.JSON)


def test_every_example_decodes() -> None:
    """Each ```json block is a valid client or server frame, and every frame type is shown."""
    blocks = re.findall(r"```json\n(.*?)\n```", DOC.read_text(), re.S)
    assert len(blocks) >= 20
    shown = set()
    for block in blocks:
        try:
            frame = JSON.decode_client(block)
        except FrameError:
            frame = JSON.decode_server(block)  # type: ignore[assignment]
        shown.add(type(frame).__struct_config__.tag)
    assert shown >= {
        "hello",
        "welcome",
        "subscribe",
        "unsubscribe",
        "resync",
        "ack",
        "event",
        "positions",
        "error",
        "ping",
        "pong",
        "incident.create",
        "incident.update",
        "unit.status",
        "unit.position",
        "radio.append",
        "unit.panic",
    }
