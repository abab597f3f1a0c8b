"""A partition of the live state: its keys, one hash tag per family.

Every live key belongs to a family (``dispatch``, ``positions``, ``intake``) and to a
partition: an agency, or a region of one, served by its own hubs. The hash tag is the family
and the partition, ``{dispatch:north}``, so that on a Valkey Cluster each family of each
partition lives on one slot: one agency's assignment touches only ``{dispatch:north}`` keys
and stays one atomic script, its position reports and its intake queue sit on slots of their
own, and many agencies spread across the shards. No script or transaction spans two tags.

The default partition (no name) keeps the tags a single-Valkey hub always had, ``{dispatch}``,
``{positions}`` and ``{intake}``, so a hub upgraded in place finds its live state and its
intake queue where it left them.

The sign-in state (accounts' token versions, revoked tokens) is a family of its own, ``{auth}``
or ``{auth:north}``: each partition's accounts are its own records store's. Keys outside every
family (the sign-in attempt limits, the public doors' rate limits) hold one key per command and
are shared by the partitions on one Valkey.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.bus.topics import TOPICS, Family, Topic, topic_named
from server.config import PARTITION_NAME

__all__ = ["Partition", "TopicKeys", "hash_tag", "slot_groups"]


@dataclass(frozen=True, slots=True)
class TopicKeys:
    """The Redis keys of one topic in one partition."""

    stream: str
    epoch: str
    state: str
    versions: str
    geo: str


@dataclass(frozen=True)
class Partition:
    name: str = ""
    _keys: dict[str, TopicKeys] = field(default_factory=dict, init=False, repr=False, compare=False)
    _streams: dict[str, Topic] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.name and not PARTITION_NAME.match(self.name):
            raise ValueError(
                f"a partition is named by 1-32 lower-case letters, digits, '-' or '_', starting with a"
                f" letter or digit; not {self.name!r}"
            )
        for topic in TOPICS:
            keys = self._topic_keys(topic)
            self._keys[topic.name] = keys
            self._streams[keys.stream] = topic

    @property
    def label(self) -> str:
        """How health and metrics name it."""
        return self.name or "default"

    def tag(self, family: Family) -> str:
        """The hash tag of a family here: ``dispatch`` or ``dispatch:north``."""
        return family.value if not self.name else f"{family.value}:{self.name}"

    def key(self, family: Family, rest: str) -> str:
        return f"{{{self.tag(family)}}}:{rest}"

    def _topic_keys(self, topic: Topic) -> TopicKeys:
        def k(what: str) -> str:
            return self.key(topic.family, f"{topic.name}:{what}")

        return TopicKeys(k("stream"), k("epoch"), k("state"), k("ver"), k("geo"))

    def keys(self, topic: Topic) -> TopicKeys:
        return self._keys[topic.name]

    def stream(self, topic: Topic) -> str:
        return self._keys[topic.name].stream

    def topic_of_stream(self, stream: str) -> Topic | None:
        return self._streams.get(stream)

    def streams(self, topics: tuple[Topic, ...] | list[Topic] = TOPICS) -> list[str]:
        return [self._keys[t.name].stream for t in topics]

    def topic(self, name: str) -> Topic:
        found = topic_named(name)
        if found is None:
            raise KeyError(name)
        return found

    # ---- the dispatch family's other keys ----------------------------------------

    def dispatch(self, rest: str) -> str:
        return self.key(Family.DISPATCH, rest)

    @property
    def live(self) -> str:
        """Marks the live state present, holding the id of the records store it was built from."""
        return self.dispatch("live")

    @property
    def timers(self) -> str:
        return self.dispatch("timers")

    @property
    def timer_plans(self) -> str:
        return self.dispatch("timer-plans")

    @property
    def incident_seq(self) -> str:
        return self.dispatch("incident-seq")

    @property
    def rebuilding(self) -> str:
        return self.dispatch("rebuilding")

    def timeline(self, incident_id: str) -> str:
        return self.dispatch(f"timeline:{incident_id}")

    def once(self, user: str, command_id: str) -> str:
        return self.dispatch(f"cmd:{user}:{command_id}")

    @property
    def probe(self) -> str:
        """The reader's probe: a stream of its own that it writes and must read back."""
        return self.dispatch("probe:stream")

    # ---- the intake family --------------------------------------------------------

    def intake(self, rest: str) -> str:
        return self.key(Family.INTAKE, rest)


def hash_tag(key: str) -> str:
    """What a cluster hashes a key by: the first non-empty ``{...}``, else the whole key."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


def slot_groups(keys: list[str] | tuple[str, ...]) -> list[tuple[str, ...]]:
    """The keys grouped by hash tag, in the order each tag is first met (and keys within it):
    one read per group, as no read may span two slots."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(hash_tag(key), []).append(key)
    return [tuple(g) for g in groups.values()]
