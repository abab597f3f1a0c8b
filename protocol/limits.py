"""Bounds on everything a peer can send. Validated at decode time."""

from __future__ import annotations

__all__ = [
    "HELLO_TIMEOUT_S",
    "MAX_FRAME_BYTES",
    "MAX_ID",
    "MAX_LIST",
    "MAX_NAME",
    "MAX_TEXT",
    "MAX_TOPICS",
]

MAX_FRAME_BYTES = 64 * 1024  # one inbound frame; larger closes with 1009
MAX_ID = 64  # command ids, incident ids, unit ids, offsets
MAX_NAME = 200  # short labels: addresses, names, types
MAX_TEXT = 4000  # narratives, radio-log text
MAX_LIST = 100  # lists inside one frame
MAX_TOPICS = 16  # topics in one subscribe
HELLO_TIMEOUT_S = 5.0  # default time to authenticate before close 4001 (the hub may set its own)
