"""The Lua scripts, one ``.lua`` file each under ``server/bus/lua/``, read once at import.

Each file's header says its KEYS, its ARGV and what it returns; the Python side reads the
answer through a small decode function beside the code that calls it, so nobody reads a
reply by tuple index far from the script that made it. A script may start with a shared
part (``plan.lua``: the one atomic step, used by ``apply`` and ``fire_timers``).

A ``Script`` is run by its hash (EVALSHA) and loaded on NOSCRIPT (a fresh or restarted
Redis), as redis-py's own ``register_script`` does, but made once per process rather than
per client, and usable in a pipeline (``queue``) without a SCRIPT EXISTS each time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import PipelineCommand, RedisCluster
from redis.exceptions import AskError, MovedError, NoScriptError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = [
    "APPLY",
    "CLAIM_CLOCKS",
    "FIRE_TIMERS",
    "RAISE_FLOOR",
    "SCRIPTS",
    "SUBMIT_INTAKE",
    "TAKE_NUMBER",
    "TAKE_TOKEN",
    "TRIM_ARCHIVED",
    "Script",
    "load_all",
]

Arg = str | bytes | int | float


def _read(name: str) -> str:
    return (files("server.bus") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


class Script:
    """One Lua script: its name (its file), its source and the hash Redis knows it by."""

    __slots__ = ("name", "sha", "source")

    def __init__(self, name: str, *, prelude: str | None = None) -> None:
        self.name = name
        self.source = (_read(prelude) + "\n" if prelude else "") + _read(name)
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    async def __call__(self, redis: Redis, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """Run it: by hash, loading it first if this Redis does not have it."""
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[misc]
        except NoScriptError:
            await redis.script_load(self.source)
            return await redis.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[misc]

    def queue(self, pipe: Pipeline, keys: Sequence[str], args: Sequence[Arg]) -> None:
        """Queue it in a pipeline, by hash only: the pipeline raises NoScriptError if this Redis
        does not have it yet (``load_all``, then run the pipeline again)."""
        pipe.evalsha(self.sha, len(keys), *keys, *args)

    async def run_and_wait(
        self, redis: Redis, keys: Sequence[str], args: Sequence[Arg], wait_ms: int
    ) -> tuple[Any, int]:
        """Run it, then WAIT for one replica to hold what it wrote, both on one connection (WAIT
        counts the replicas that hold what its connection wrote). -> (its answer, replicas that
        hold it). The script writes something even when it changes nothing (a resend renews its
        key), so the count is about this command, and replication's order covers the first send.

        One server: a pipeline, one connection. A cluster: both sent on one connection of the
        node that owns the key's slot, with none of the cluster client's retries or redirects,
        which could send the WAIT elsewhere and so confirm nothing; a redirect or a lost
        connection raises ConnectionError (the command may or may not have been applied)."""
        if isinstance(redis, RedisCluster):
            return await self._run_and_wait_on_node(redis, keys, args, wait_ms)
        for loaded in (False, True):
            async with redis.pipeline(transaction=False) as pipe:
                self.queue(pipe, keys, args)
                pipe.execute_command("WAIT", 1, wait_ms)
                try:
                    reply, held = await pipe.execute()
                except NoScriptError:
                    if loaded:
                        raise
                    await redis.script_load(self.source)
                    continue
            return reply, int(held)
        raise AssertionError("unreachable")

    async def _run_and_wait_on_node(
        self, redis: RedisCluster, keys: Sequence[str], args: Sequence[Arg], wait_ms: int
    ) -> tuple[Any, int]:
        for loaded in (False, True):
            node = redis.get_node_from_key(keys[0])
            if node is None:
                raise RedisConnectionError(f"no node serves {keys[0]} now")
            commands = [
                PipelineCommand(0, "EVALSHA", self.sha, len(keys), *keys, *args),
                PipelineCommand(1, "WAIT", 1, wait_ms),
            ]
            try:
                await node.execute_pipeline(commands)
            except (OSError, RedisConnectionError, RedisTimeoutError) as exc:
                raise RedisConnectionError(f"{node.name}: {exc}") from exc
            reply, held = commands[0].result, commands[1].result
            if isinstance(reply, NoScriptError) and not loaded:
                await redis.script_load(self.source)
                continue
            if isinstance(reply, MovedError | AskError):
                # The slot moved (a failover): the cluster client's next command learns where.
                if isinstance(reply, MovedError):
                    await redis.nodes_manager.move_slot(reply)
                raise RedisConnectionError(f"{node.name} no longer serves {keys[0]}: {reply}")
            if isinstance(reply, Exception):
                raise reply
            if isinstance(held, Exception):
                raise held
            return reply, int(held)
        raise AssertionError("unreachable")

    def __repr__(self) -> str:
        return f"Script({self.name!r}, sha={self.sha[:12]})"


APPLY = Script("apply", prelude="plan")
FIRE_TIMERS = Script("fire_timers", prelude="plan")
TRIM_ARCHIVED = Script("trim_archived")
TAKE_TOKEN = Script("take_token")
SUBMIT_INTAKE = Script("submit_intake")
RAISE_FLOOR = Script("raise_floor")
TAKE_NUMBER = Script("take_number")
CLAIM_CLOCKS = Script("claim_clocks")

SCRIPTS: tuple[Script, ...] = (
    APPLY,
    FIRE_TIMERS,
    TRIM_ARCHIVED,
    TAKE_TOKEN,
    SUBMIT_INTAKE,
    RAISE_FLOOR,
    TAKE_NUMBER,
    CLAIM_CLOCKS,
)


async def load_all(redis: Redis) -> None:
    """Load every script into this Redis (before a pipeline that runs them by hash): on a cluster
    into every primary, one by one (a cluster's pipeline takes no SCRIPT LOAD)."""
    if isinstance(redis, RedisCluster):
        for script in SCRIPTS:
            await redis.script_load(script.source)
        return
    async with redis.pipeline(transaction=False) as pipe:
        for script in SCRIPTS:
            pipe.script_load(script.source)
        await pipe.execute()
