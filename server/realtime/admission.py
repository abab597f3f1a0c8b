"""Which TCP connections the hub takes, before it has read a byte of them.

A socket costs a file descriptor, and the process has a fixed number. An
anonymous peer must not be able to take them all: one that opens thousands
of sockets and sends nothing (or a header a byte at a time) would otherwise
leave no room for a dispatcher's board or for ``/healthz``.

Every open connection holds a ``Ticket`` in one of three standings:

- ``UNPROVEN``: it has not shown a valid token yet (a new socket, the public
  portal, an Open311 system). At most ``per_address`` of these per client
  address, and ``max_connections - staff_reserve`` in all.
- ``PROBATION``: it arrived when its address, or the hub, was at the unproven
  cap. It is let in only to show a token: it must send its request head
  quickly (see ``server.realtime.wire``), and a head without a valid token is refused.
  At most ``probation_per_address`` at once per address. This is how a
  signed-in dispatcher still gets in during a flood, even from the flooding
  address (an office behind one NAT).
- ``PROVEN``: a request on it carried a valid token (or its WebSocket sent a
  valid ``hello``). It counts only against ``max_connections``, which is kept
  below the file limit so that Redis, SQLite and the logs always have
  descriptors left.

Pure bookkeeping: no I/O, no clock. Memory is bounded by the open
connections themselves (an address is forgotten when its last one closes).
"""

from __future__ import annotations

import enum
import ipaddress
import resource
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "AdmissionCollector",
    "AddressSet",
    "Admission",
    "AdmissionLimits",
    "Refusal",
    "Standing",
    "Ticket",
    "default_max_connections",
]

# Descriptors kept for what is not a client connection: the Redis pool, SQLite and its
# WAL, the embedded Valkey's pipes, log files, intake workers, threads' eventfds.
FD_RESERVE = 256


class Standing(enum.Enum):
    UNPROVEN = "unproven"
    PROBATION = "probation"
    PROVEN = "proven"


class Refusal(enum.StrEnum):
    """Why a connection was refused (the label of ``dispatch_connections_refused``)."""

    FULL = "full"  # every descriptor the hub gives to clients is in use
    BUSY = "busy"  # the unproven connections of all addresses are at their cap
    ADDRESS = "address"  # this address holds as many unproven connections as it may
    UNSIGNED = "unsigned"  # a connection on probation sent a head without a valid token
    HEAD_TIMEOUT = "head_timeout"  # the request head did not arrive in time
    HEAD_TOO_LARGE = "head_too_large"  # the request head passed its byte or header-count bound

    @property
    def status(self) -> int:
        """The HTTP status a refused request is answered with."""
        return _STATUS[self]


_STATUS = {
    Refusal.FULL: 503,
    Refusal.BUSY: 503,
    Refusal.ADDRESS: 429,
    Refusal.UNSIGNED: 429,
    Refusal.HEAD_TIMEOUT: 408,
    Refusal.HEAD_TOO_LARGE: 431,
}


def default_max_connections() -> int:
    """Client connections this process can hold: its file limit less a reserve."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(64, soft - FD_RESERVE)


class AddressSet:
    """Client addresses given as a comma-separated list of IPs and networks ("10.0.0.0/8, ::1")."""

    __slots__ = ("_networks", "text")

    def __init__(self, text: str = "") -> None:
        self.text = text
        nets = []
        for item in text.split(","):
            item = item.strip()
            if item:
                try:
                    nets.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    raise ValueError(f"not an IP address or network: {item!r}") from None
        self._networks = tuple(nets)

    def __contains__(self, address: object) -> bool:
        if not self._networks or not isinstance(address, str):
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._networks)

    def __bool__(self) -> bool:
        return bool(self._networks)


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    max_connections: int
    staff_reserve: int
    per_address: int
    probation_per_address: int = 32
    exempt: AddressSet = field(default_factory=AddressSet)  # not capped per address: trusted proxies

    @property
    def unproven_cap(self) -> int:
        return max(1, self.max_connections - self.staff_reserve)


class Ticket:
    """One open connection's place in the count."""

    __slots__ = ("address", "standing", "why", "released")

    def __init__(self, address: str, standing: Standing, why: Refusal | None) -> None:
        self.address = address
        self.standing = standing
        self.why = why  # for a ticket on probation: what it is refused for if it shows no token
        self.released = False


class Admission:
    """The connection counts of one hub process."""

    def __init__(self, limits: AdmissionLimits) -> None:
        self.limits = limits
        self.open = 0
        self.unproven_total = 0
        self._unproven: dict[str, int] = {}
        self._probation: dict[str, int] = {}
        self.refused: Counter[Refusal] = Counter()

    def admit(self, address: str) -> Ticket | Refusal:
        """A ticket for a new connection from ``address``, or why it is refused."""
        limits = self.limits
        if self.open >= limits.max_connections:
            return self.refuse(Refusal.FULL)
        why: Refusal | None = None
        if address not in limits.exempt and self._unproven.get(address, 0) >= limits.per_address:
            why = Refusal.ADDRESS
        elif self.unproven_total >= limits.unproven_cap:
            why = Refusal.BUSY
        if why is not None:
            if self._probation.get(address, 0) >= limits.probation_per_address:
                return self.refuse(why)
            self._probation[address] = self._probation.get(address, 0) + 1
            self.open += 1
            return Ticket(address, Standing.PROBATION, why)
        self._unproven[address] = self._unproven.get(address, 0) + 1
        self.unproven_total += 1
        self.open += 1
        return Ticket(address, Standing.UNPROVEN, None)

    def prove(self, ticket: Ticket) -> None:
        """The connection showed a valid token: it no longer counts against the unproven caps."""
        if ticket.released or ticket.standing is Standing.PROVEN:
            return
        self._leave(ticket)
        ticket.standing = Standing.PROVEN
        ticket.why = None

    def release(self, ticket: Ticket) -> None:
        """The connection closed (idempotent)."""
        if ticket.released:
            return
        ticket.released = True
        self._leave(ticket)
        self.open -= 1

    def refuse(self, why: Refusal) -> Refusal:
        self.refused[why] += 1
        return why

    def _leave(self, ticket: Ticket) -> None:
        if ticket.standing is Standing.UNPROVEN:
            self.unproven_total -= 1
            _decrement(self._unproven, ticket.address)
        elif ticket.standing is Standing.PROBATION:
            _decrement(self._probation, ticket.address)

    def addresses(self) -> int:
        """Addresses with connections that are not proven: what the counts hold in memory."""
        return len(self._unproven.keys() | self._probation.keys())


def _decrement(counts: dict[str, int], address: str) -> None:
    left = counts.get(address, 0) - 1
    if left > 0:
        counts[address] = left
    else:
        counts.pop(address, None)


class AdmissionCollector(Collector):
    """The connections refused and open, for the hub's Prometheus registry."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission

    def collect(self) -> Iterator[Metric]:
        a = self._admission
        refused = CounterMetricFamily(
            "dispatch_connections_refused",
            "Connections refused or cut by a cap, a head deadline or a head bound",
            labels=["reason"],
        )
        for why in Refusal:
            refused.add_metric([why.value], float(a.refused[why]))
        yield refused
        sockets = GaugeMetricFamily("dispatch_sockets", "Open client connections by standing", labels=["standing"])
        sockets.add_metric(["all"], float(a.open))
        sockets.add_metric(["unproven"], float(a.unproven_total))
        yield sockets
