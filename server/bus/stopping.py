"""How a long-running loop is asked to stop: a flag it checks each turn, sleeps that end early,
and blocking reads that the stop interrupts.

``task.cancel()`` alone does not stop a loop that talks to Redis. redis-py (under Python
3.11's ``asyncio.wait_for``) can swallow a cancellation that lands while a command is in
flight: the command returns normally, the loop goes round again, and shutdown waits for a
task that will never end. So a loop here ends because it sees ``StopSignal.is_set()``; a
cancel is only used to cut short a read that blocks on Redis (``with stop.blocking():``),
and even when that cancel is swallowed the flag still ends the loop at its next turn::

    while not stop.is_set():
        try:
            with stop.blocking():
                reply = await redis.xread(..., block=1000)
        except Stopped:
            return
        handle(reply)
        await stop.sleep(0.25)

A loop is stopped by ``stop.set()`` and then awaited (bounded) by its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from redis.exceptions import RedisError

__all__ = ["StopSignal", "Stopped"]


class Stopped(Exception):
    """A blocking read was cut short because the loop was asked to stop."""


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class StopSignal:
    """Set once, never cleared: a stopped loop is made again, not restarted."""

    __slots__ = ("_blocked", "_interrupted", "_set", "_sleepers")

    def __init__(self) -> None:
        self._set = False
        self._sleepers: set[asyncio.Future[None]] = set()
        self._blocked: set[asyncio.Task[object]] = set()
        self._interrupted: set[asyncio.Task[object]] = set()

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        """Ask every loop watching this signal to stop: sleepers wake, blocking reads are cut short."""
        if self._set:
            return
        self._set = True
        for waiter in self._sleepers:
            _wake(waiter)
        for task in self._blocked:
            self._interrupted.add(task)
            task.cancel()

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less if the stop comes first. -> whether the loop should stop."""
        if self._set:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(seconds, _wake, waiter)
        self._sleepers.add(waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._sleepers.discard(waiter)
        return self._set

    @contextlib.contextmanager
    def blocking(self) -> Iterator[None]:
        """Around one read that blocks on Redis: a stop cancels it, and it raises ``Stopped``.

        Only the cancel this signal sent is turned into ``Stopped``; any other cancel goes
        through as it came. redis-py may report the cut as a connection error: once stopped,
        that is ``Stopped`` too. If the cancel was swallowed, the read returns normally and
        the loop's next check of ``is_set`` ends it."""
        if self._set:
            raise Stopped
        task = asyncio.current_task()
        if task is None:  # not in a task: nothing to interrupt
            yield
            return
        self._blocked.add(task)
        try:
            yield
        except (asyncio.CancelledError, RedisError, OSError) as exc:
            if task in self._interrupted:
                self._interrupted.discard(task)
                task.uncancel()
                raise Stopped from exc
            raise
        finally:
            self._blocked.discard(task)
            if task in self._interrupted:  # the cancel was swallowed on the way: take it back
                self._interrupted.discard(task)
                task.uncancel()
