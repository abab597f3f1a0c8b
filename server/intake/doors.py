"""What both intake doors share: client addresses and per-address limits."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from server.agency.policy import Policy
from server.config import Settings
from server.intake.lane import Door
from server.metrics import HubMetrics
from server.realtime.ratelimit import SharedLimit

__all__ = ["IntakeDoors", "client_address"]


@dataclass(slots=True)
class IntakeDoors:
    """The intake side of the app's context (made in the lifespan)."""

    door: Door
    settings: Settings
    policy: Policy
    submissions: SharedLimit
    status_checks: SharedLimit
    api_keys: SharedLimit
    metrics: HubMetrics
    attempts: SharedLimit  # public posts of any kind, before their bodies are read
    status_secret: str  # status codes: a key of their own, so rotating the token secret keeps them valid
    key_cache: dict[str, tuple[str | None, float]]  # API key hash -> (system, until)

    @classmethod
    def make(cls, door: Door, settings: Settings, policy: Policy, metrics: HubMetrics) -> IntakeDoors:
        redis = door.redis
        return cls(
            door,
            settings,
            policy,
            SharedLimit(redis, "submissions", settings.intake_per_hour / 3600, settings.intake_burst),
            SharedLimit(redis, "status-checks", settings.status_checks_per_hour / 3600, settings.status_checks_burst),
            SharedLimit(redis, "open311", settings.open311_per_s, settings.open311_burst),
            metrics,
            SharedLimit(redis, "public-posts", 4 * settings.intake_per_hour / 3600, 3 * settings.intake_burst),
            settings.status_secret,
            {},
        )

    def count(self, door: str, outcome: str) -> None:
        self.metrics.intake.labels(door, outcome).inc()

    async def wait(self, limits: SharedLimit, who: str) -> float:
        return await limits.take(who)


def client_address(request: Request) -> str:
    """The client's address (uvicorn applies X-Forwarded-For from trusted proxies only)."""
    return request.client.host if request.client else "?"
