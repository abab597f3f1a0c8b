"""The application context: the resources of one hub process, made once in the app's lifespan
(``server/app.py``) and reached from a request with ``context(request)``, typed.

It holds what every layer shares (settings, the agency's policy, Redis, the bus, the records
store, tokens, metrics) as fields, and imports nothing above those layers, so that access, the
domains and HTTP may all import it. The services of one domain or layer (the hub, the dispatch
service, the intake doors, the sign-in limits...) are its *parts*, found by their type:
``context(request).part(DispatchService)``. A package reaches its own parts that way without
this module importing it, so ``cases`` can use the context without importing ``dispatch``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.asyncio import Redis
from starlette.requests import HTTPConnection

from server.access.tokens import Tokens
from server.agency.policy import Policy
from server.bus.log import Bus
from server.config import Settings
from server.metrics import HubMetrics
from server.records.store import RecordsStore

__all__ = ["AppContext", "context"]

T = TypeVar("T")


@dataclass(slots=True)
class AppContext:
    settings: Settings
    policy: Policy
    redis: Redis
    bus: Bus
    store: RecordsStore
    tokens: Tokens
    metrics: HubMetrics
    started: float  # time.time() when the process started
    _parts: dict[type[Any], Any] = field(default_factory=dict, repr=False)

    def add(self, *parts: object) -> None:
        """Make these services parts of the context, each found by its own type."""
        for part in parts:
            self._parts[type(part)] = part

    def part(self, kind: type[T]) -> T:
        """The part of this type (LookupError if the app was made without one)."""
        found = self.find(kind)
        if found is None:
            raise LookupError(f"the app context has no {kind.__name__}")
        return found

    def find(self, kind: type[T]) -> T | None:
        """The part of this type, or None (an optional service, like a geocoder)."""
        found = self._parts.get(kind)
        assert found is None or isinstance(found, kind)
        return found


def context(connection: HTTPConnection) -> AppContext:
    """The context of the app serving this request or WebSocket."""
    ctx = connection.app.state.ctx
    if not isinstance(ctx, AppContext):
        raise RuntimeError("the app has no context: it is made in the lifespan (server/app.py)")
    return ctx
