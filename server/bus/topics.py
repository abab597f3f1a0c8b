"""Topics, their lanes and their Redis keys.

Lanes order the work of each hub: alarms before dispatch events before
positions. The dispatch topics (alarms, incidents, units, radio) share the
hash tag ``{dispatch}`` so that one script can assign a unit to an incident
or raise a panic across them in one step on one cluster slot; positions,
the bulk of the traffic, have their own, and the case workspace's events
(``cases``) ride the intake lane's slot, below them all.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["DISPATCH_SLOT", "TOPICS", "Lane", "Topic", "parse_offset", "topic_named", "topic_of_stream"]

DISPATCH_SLOT = "dispatch"


class Lane(enum.IntEnum):
    ALARM = 0
    DISPATCH = 1
    POSITION = 2
    INTAKE = 3


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    lane: Lane
    slot: str
    # "log" topics replay what a client missed; "state" topics (positions)
    # always resume from a snapshot of the latest values.
    replay: bool = True

    def _key(self, what: str) -> str:
        return f"{{{self.slot}}}:{self.name}:{what}"

    @property
    def stream(self) -> str:
        return self._key("stream")

    @property
    def epoch(self) -> str:
        return self._key("epoch")

    @property
    def state(self) -> str:
        return self._key("state")

    @property
    def versions(self) -> str:
        return self._key("ver")

    @property
    def geo(self) -> str:
        return self._key("geo")


TOPICS: tuple[Topic, ...] = (
    Topic("alarms", Lane.ALARM, DISPATCH_SLOT),
    Topic("incidents", Lane.DISPATCH, DISPATCH_SLOT),
    Topic("units", Lane.DISPATCH, DISPATCH_SLOT),
    Topic("radio", Lane.DISPATCH, DISPATCH_SLOT),
    Topic("resources", Lane.DISPATCH, DISPATCH_SLOT),
    Topic("positions", Lane.POSITION, "positions", replay=False),
    # Complaint files changing and their clocks turning: below everything dispatch does.
    Topic("cases", Lane.INTAKE, "intake"),
    # Access-to-information requests changing and their clocks turning (access staff's).
    Topic("access", Lane.INTAKE, "intake"),
    # Early-warning flags on officers: the team lead's alone.
    Topic("case-warnings", Lane.INTAKE, "intake"),
)

_BY_NAME = {t.name: t for t in TOPICS}
_BY_STREAM = {t.stream: t for t in TOPICS}


def topic_named(name: str) -> Topic | None:
    return _BY_NAME.get(name)


def topic_of_stream(stream: str) -> Topic | None:
    return _BY_STREAM.get(stream)


def parse_offset(offset: str) -> tuple[int, int]:
    """A stream id as a comparable pair; "0-0" for anything malformed."""
    ms, _, seq = offset.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0
