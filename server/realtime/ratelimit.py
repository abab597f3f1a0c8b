"""Rate limits: a token bucket (pure; time is passed in), per client in memory or shared in Redis.

The per-connection command rate lives in the session and needs nothing shared.
The limits that guard sign-in, complaint status checks and the public doors
must hold however many hub processes answer: with one bucket per process,
``--workers 3`` gives three times the attempts, and so does a second host.
``SharedLimit`` keeps those buckets in Redis, spent in one script call (GCRA,
on Redis's own clock, so hubs with skewed clocks agree). If Redis does not
answer, each process falls back to a bucket of its own and says so.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.bus.scripts import TAKE_TOKEN

__all__ = ["AddressLimits", "SharedLimit", "TokenBucket"]

log = logging.getLogger("dispatch.ratelimit")


class TokenBucket:
    __slots__ = ("burst", "rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._stamp = now

    def take(self, now: float) -> float:
        """Spend one token. Returns 0.0 if allowed, else seconds until one is free."""
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


class AddressLimits:
    """A token bucket per client address, in this process's memory.

    Memory is bounded: past ``max_clients`` addresses the counts start over,
    so a flood from many addresses can only reset the limits, never grow them."""

    def __init__(self, rate: float, burst: int, max_clients: int = 10_000) -> None:
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, client: str, now: float) -> float:
        """0.0 if allowed, else seconds until the next attempt is."""
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._buckets.clear()
            bucket = self._buckets[client] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(now)


# The bucket itself is ``server/bus/lua/take_token.lua`` (GCRA, on Redis's own clock).
_LOG_EVERY_S = 30.0


class SharedLimit:
    """A token bucket per key (a client address, an API key), shared by every hub on one Redis."""

    def __init__(self, redis: Redis, name: str, rate: float, burst: int) -> None:
        self.name = name
        self.rate, self.burst = rate, burst
        self._interval_ms = 1000.0 / rate
        self.redis = redis
        self._local = AddressLimits(rate, burst)
        self._complained = -_LOG_EVERY_S

    def key(self, client: str) -> str:
        return f"ratelimit:{self.name}:{client}"

    async def take(self, client: str) -> float:
        """Spend one token of ``client``'s bucket: 0.0 if allowed, else seconds until it would be."""
        try:
            wait_ms = await TAKE_TOKEN(self.redis, (self.key(client[:200]),), (self._interval_ms, self.burst))
        except (RedisError, OSError) as exc:
            now = time.monotonic()
            if now - self._complained > _LOG_EVERY_S:
                self._complained = now
                log.error("rate limit %s counted in this process only: redis: %s", self.name, exc)
            return self._local.take(client, now)
        return float(wait_ms) / 1000.0
