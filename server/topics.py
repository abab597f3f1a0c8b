"""Topics, their lanes and their Redis keys.

Lanes order the work of each hub: alarms before dispatch events before
positions. Every key of a topic shares the hash tag ``{topic}`` so that one
script touches one cluster slot.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["TOPICS", "Lane", "Topic", "parse_offset", "topic_named"]


class Lane(enum.IntEnum):
    ALARM = 0
    DISPATCH = 1
    POSITION = 2
    INTAKE = 3


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    lane: Lane
    # "log" topics replay what a client missed; "state" topics (positions)
    # always resume from a snapshot of the latest values.
    replay: bool = True

    @property
    def stream(self) -> str:
        return f"{{{self.name}}}:stream"

    @property
    def epoch(self) -> str:
        return f"{{{self.name}}}:epoch"

    @property
    def state(self) -> str:
        return f"{{{self.name}}}:state"

    @property
    def versions(self) -> str:
        return f"{{{self.name}}}:ver"

    @property
    def geo(self) -> str:
        return f"{{{self.name}}}:geo"


TOPICS: tuple[Topic, ...] = (
    Topic("alarms", Lane.ALARM),
    Topic("incidents", Lane.DISPATCH),
    Topic("units", Lane.DISPATCH),
    Topic("radio", Lane.DISPATCH),
    Topic("positions", Lane.POSITION, replay=False),
)

_BY_NAME = {t.name: t for t in TOPICS}


def topic_named(name: str) -> Topic | None:
    return _BY_NAME.get(name)


def parse_offset(offset: str) -> tuple[int, int]:
    """A stream id as a comparable pair; "0-0" for anything malformed."""
    ms, _, seq = offset.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0
