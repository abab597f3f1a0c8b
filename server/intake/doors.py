"""What both intake doors share: client addresses and per-address limits."""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request

from server.config import Settings, key_file
from server.intake.lane import Door
from server.metrics import HubMetrics
from server.policy import Policy
from server.ratelimit import AddressLimits

__all__ = ["IntakeDoors", "client_address"]


@dataclass(slots=True)
class IntakeDoors:
    """The intake side of the app's context (made in the lifespan)."""

    door: Door
    settings: Settings
    policy: Policy
    submissions: AddressLimits
    status_checks: AddressLimits
    api_keys: AddressLimits
    metrics: HubMetrics
    attempts: AddressLimits  # public posts of any kind, before their bodies are read
    status_secret: str  # status codes: a key of their own, so rotating the token secret keeps them valid
    key_cache: dict[str, tuple[str | None, float]]  # API key hash -> (system, until)

    @classmethod
    def make(cls, door: Door, settings: Settings, policy: Policy, metrics: HubMetrics) -> IntakeDoors:
        return cls(
            door,
            settings,
            policy,
            AddressLimits(settings.intake_per_hour / 3600, settings.intake_burst),
            AddressLimits(settings.status_checks_per_hour / 3600, settings.status_checks_burst),
            AddressLimits(settings.open311_per_s, settings.open311_burst),
            metrics,
            AddressLimits(4 * settings.intake_per_hour / 3600, 3 * settings.intake_burst),
            key_file(settings.data_dir, "status-code.key"),
            {},
        )

    def count(self, door: str, outcome: str) -> None:
        self.metrics.intake.labels(door, outcome).inc()

    def wait(self, limits: AddressLimits, who: str) -> float:
        return limits.take(who, time.monotonic())


def client_address(request: Request) -> str:
    """The client's address (uvicorn applies X-Forwarded-For from trusted proxies only)."""
    return request.client.host if request.client else "?"
