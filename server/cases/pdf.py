"""HTML to PDF with WeasyPrint, in a worker process of its own at a lower CPU priority.

WeasyPrint is Python and holds the interpreter lock while it lays a page out: a letter takes
about 60 ms, the delay report of a thousand files several seconds. Run in the hub's own process,
that time would be taken from the event loop that fans out alarms. A process pool (made on the
first render, closed with the app) keeps it apart; without one (tests, tools) a thread does.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

__all__ = ["T", "PdfRenderer", "render_pdf", "run_anywhere"]

T = TypeVar("T")


def render_pdf(html: str) -> bytes:
    import weasyprint

    out = weasyprint.HTML(string=html).write_pdf()
    assert out is not None
    return bytes(out)


def _lower() -> None:
    os.nice(10)  # below the hub and its intake workers


class PdfRenderer:
    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = asyncio.Lock()

    async def render(self, html: str) -> bytes:
        return await self.run(render_pdf, html)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the worker process (a module-level function; its arguments are pickled)."""
        async with self._lock:  # one job at a time per process: a second waits, it does not pile up
            if self._pool is None:
                # spawn, not fork: the hub has threads (the records store's, the resolver's)
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_lower)
            try:
                return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
            except BrokenProcessPool:
                # The worker died (killed, out of memory): the next job gets a new one.
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
                raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


async def run_anywhere(renderer: PdfRenderer | None, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in the renderer's process if there is one, else in a thread."""
    if renderer is not None:
        return await renderer.run(fn, *args)
    return await asyncio.to_thread(fn, *args)
