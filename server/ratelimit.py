"""A token bucket: the per-connection command rate limit. Pure; time is passed in."""

from __future__ import annotations

__all__ = ["AddressLimits", "TokenBucket"]


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
    """A token bucket per client address (sign-in attempts, the public intake doors).

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
