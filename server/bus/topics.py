"""Topics, their lanes and their Redis keys.

Lanes order the work of each hub: alarms before dispatch events before
positions. Each topic belongs to a family, whose keys share one hash tag per
partition (``server/bus/partition.py``): the dispatch topics (alarms, incidents,
units, radio, resources) share ``{dispatch:<partition>}`` so that one script can
assign a unit to an incident or raise a panic across them in one step on one
cluster slot; positions, the bulk of the traffic, have their own, and the case
workspace's events (``cases``) ride the intake family's, below them all. A topic
here is the logical topic; its keys are the partition's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["TOPICS", "Family", "Lane", "Topic", "parse_offset", "topic_named"]


class Family(enum.Enum):
    """The keys that share a hash tag (in each partition)."""

    DISPATCH = "dispatch"
    POSITIONS = "positions"
    INTAKE = "intake"
    AUTH = "auth"  # no topic: the sign-in state the hubs of a partition share (server/access/tokens.py)


class Lane(enum.IntEnum):
    ALARM = 0
    DISPATCH = 1
    POSITION = 2
    INTAKE = 3


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    lane: Lane
    family: Family
    # "log" topics replay what a client missed; "state" topics (positions)
    # always resume from a snapshot of the latest values.
    replay: bool = True


TOPICS: tuple[Topic, ...] = (
    Topic("alarms", Lane.ALARM, Family.DISPATCH),
    Topic("incidents", Lane.DISPATCH, Family.DISPATCH),
    Topic("units", Lane.DISPATCH, Family.DISPATCH),
    Topic("radio", Lane.DISPATCH, Family.DISPATCH),
    Topic("resources", Lane.DISPATCH, Family.DISPATCH),
    Topic("positions", Lane.POSITION, Family.POSITIONS, replay=False),
    # Complaint files changing and their clocks turning: below everything dispatch does.
    Topic("cases", Lane.INTAKE, Family.INTAKE),
    # Access-to-information requests changing and their clocks turning (access staff's).
    Topic("access", Lane.INTAKE, Family.INTAKE),
    # Early-warning flags on officers: the team lead's alone.
    Topic("case-warnings", Lane.INTAKE, Family.INTAKE),
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
