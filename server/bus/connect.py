"""The Redis client of a process, for the three shapes a deployment may have.

- **One server** (``redis://``, ``rediss://``, ``unix://``): a blocking pool, so a burst of
  catch-ups (a reconnect storm) waits for a connection instead of failing.
- **A Valkey Cluster** (``redis+cluster://host:port[,host:port...]``, or ``redis://`` with
  ``DISPATCH_REDIS_CLUSTER`` / ``--redis-cluster``): redis-py's asyncio ``RedisCluster``, which
  follows MOVED and ASK and a failover's new primaries. Every command, script and read of ours
  keeps to one slot (``server/bus/partition.py``), which it requires.
- **A primary with replicas under Sentinel** (``redis+sentinel://host:port[,host:port...]/name``):
  the client asks the sentinels where the primary is, and again after a failover.

``RedisCluster`` has the same commands as ``Redis`` but is not a subclass of it: it is handed
to the rest of the hub as a ``Redis`` (``cast``), which is what it is for every call we make.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["Connected", "GatedCluster", "RedisTarget", "connect", "describe", "is_cluster", "target_of"]

_SCHEMES = ("redis", "rediss", "unix")


@dataclasses.dataclass(frozen=True, slots=True)
class RedisTarget:
    kind: str  # single, cluster, sentinel
    url: str  # for a single server: the URL as given
    nodes: tuple[tuple[str, int], ...] = ()  # cluster seeds or sentinels
    service: str = ""  # the Sentinel's name of the primary
    password: str | None = None
    username: str | None = None
    tls: bool = False


def _hosts(netloc: str, default_port: int) -> tuple[tuple[str, int], ...]:
    out = []
    for part in netloc.split(","):
        host, _, port = part.rpartition(":") if ":" in part else (part, "", "")
        out.append((host or part, int(port) if port else default_port))
    return tuple(out)


def target_of(url: str, cluster: bool = False) -> RedisTarget:
    """What a ``REDIS_URL`` names. Raises ValueError for one that names nothing we can reach."""
    scheme, _, rest = url.partition("://")
    if not rest:
        raise ValueError(f"REDIS_URL {url!r} is not a URL (redis://host:port, redis+cluster://, redis+sentinel://)")
    base, _, shape = scheme.partition("+")
    if base not in _SCHEMES or shape not in ("", "cluster", "sentinel"):
        raise ValueError(f"REDIS_URL scheme {scheme!r}: use redis, rediss, unix, redis+cluster or redis+sentinel")
    if base == "unix" and (shape or cluster):
        raise ValueError("a Valkey Cluster or Sentinel is reached over TCP, not a unix socket")
    if not shape and not cluster:
        return RedisTarget("single", url)
    creds, _, hosts = rest.rpartition("@")
    hosts, _, path = hosts.partition("/")
    user, _, password = creds.partition(":") if creds else ("", "", "")
    common = {
        "password": unquote(password) or None,
        "username": unquote(user) or None,
        "tls": base == "rediss",
    }
    if shape == "sentinel":
        service = path.split("?")[0].strip("/")
        if not service:
            raise ValueError(
                "a redis+sentinel:// URL names the primary after the hosts: redis+sentinel://h:26379/mymaster"
            )
        return RedisTarget("sentinel", url, _hosts(hosts, 26379), service, **common)  # type: ignore[arg-type]
    return RedisTarget("cluster", url, _hosts(hosts, 6379), **common)  # type: ignore[arg-type]


@dataclasses.dataclass(slots=True)
class Connected:
    """A process's client, how it is shaped, and how to close it."""

    redis: Redis
    target: RedisTarget
    close: Callable[[], Awaitable[None]]
    sentinel: Sentinel | None = None

    @property
    def cluster(self) -> RedisCluster | None:
        return cast(RedisCluster, self.redis) if self.target.kind == "cluster" else None


# Inside a gated call already (a cluster client's command may run others of its own): no second
# permit, which could wait on itself.
_gated: ContextVar[bool] = ContextVar("gated", default=False)


class _GatedPipeline(ClusterPipeline):
    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> list[Any]:
        client = self.cluster_client
        assert isinstance(client, GatedCluster)
        async with client.permit():
            return await super().execute(raise_on_error=raise_on_error, allow_redirections=allow_redirections)


class GatedCluster(RedisCluster):
    """redis-py's cluster client, with a wait for a connection instead of an error.

    Its nodes' pools raise at once when full, where a single server's blocking pool waits: a
    burst (800 officers signing on, a reconnect storm) would turn into "unavailable" answers
    and a reader that gives up. So at most ``gate`` commands and pipelines run at once, the
    rest wait their turn; each node may hold twice that many connections, so the gate is what
    binds."""

    def __init__(self, *args: Any, gate: int, wait_s: float = 10.0, **kwargs: Any) -> None:
        kwargs["max_connections"] = gate * 2
        super().__init__(*args, **kwargs)
        self._gate = asyncio.Semaphore(gate)
        self.wait_s = wait_s  # as long as the single server's pool waits for a connection

    @contextlib.asynccontextmanager
    async def permit(self) -> AsyncIterator[None]:
        if _gated.get():
            yield
            return
        try:
            async with asyncio.timeout(self.wait_s):
                await self._gate.acquire()
        except TimeoutError:
            raise RedisConnectionError(f"no connection free in {self.wait_s:.0f}s: nothing was sent") from None
        token = _gated.set(True)
        try:
            yield
        finally:
            _gated.reset(token)
            self._gate.release()

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self.permit():
            return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> ClusterPipeline:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # refused there, as it says
        return _GatedPipeline(self, transaction)  # type: ignore[abstract]


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """A Sentinel's pool that waits for a connection when all are in use, as the single server's
    does, rather than failing the command (``max_connections``, ``timeout``)."""


def is_cluster(redis: Any) -> bool:
    return isinstance(redis, RedisCluster)


def connect(url: str, *, cluster: bool = False, max_connections: int = 64, blocking: bool = True) -> Connected:
    """The client for ``url``; nothing is sent until it is first used."""
    target = target_of(url, cluster)
    if target.kind == "cluster":
        rc = GatedCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
            password=target.password,
            username=target.username,
            ssl=target.tls,
            gate=max_connections,
            socket_connect_timeout=2,
            socket_timeout=10,  # past any blocking read (1 s) or replica wait of ours: a dead node is noticed
            health_check_interval=10,
        )
        return Connected(cast(Redis, rc), target, rc.aclose)
    if target.kind == "sentinel":
        sentinel = Sentinel(
            list(target.nodes),
            socket_connect_timeout=2,
            sentinel_kwargs={"socket_connect_timeout": 1, "socket_timeout": 1},
        )
        client = sentinel.master_for(
            target.service,
            connection_pool_class=_BlockingSentinelPool,
            timeout=10,
            password=target.password,
            username=target.username,
            ssl=target.tls,
            max_connections=max_connections,
            socket_connect_timeout=2,
            socket_timeout=10,
            health_check_interval=10,
        )

        async def close_sentinel() -> None:
            await client.aclose()
            for s in sentinel.sentinels:
                await s.aclose()

        return Connected(client, target, close_sentinel, sentinel)
    if blocking:
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=10, socket_connect_timeout=2, health_check_interval=10
        )
        single = Redis(connection_pool=pool)

        async def close_single() -> None:
            await single.aclose()
            await pool.aclose()  # a pool passed in explicitly is not closed by the client

        return Connected(single, target, close_single)
    plain = Redis.from_url(url, socket_connect_timeout=2, health_check_interval=10)
    return Connected(plain, target, plain.aclose)


def describe(url: str) -> str:
    """The URL with any password masked, for logs."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
