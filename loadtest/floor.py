"""The floor: a bare ``websockets`` broadcast server, the least work Python can do per delivery.

``python -m loadtest.floor --port P``. Boards connect to ``/board`` and only
listen. A publisher connects to ``/publish``; each message it sends is passed
with ``websockets.broadcast`` to every board, unchanged, and answered with
``k``. No auth, no persistence, no queues: nothing but the socket writes.
"""

from __future__ import annotations

import argparse
import asyncio

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

from protocol.limits import MAX_FRAME_BYTES

__all__ = ["main"]


async def main(port: int) -> None:
    boards: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        if ws.request is not None and ws.request.path.startswith("/publish"):
            async for message in ws:
                broadcast(boards, message)
                await ws.send(b"k")
            return
        boards.add(ws)
        try:
            await ws.wait_closed()
        finally:
            boards.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, max_size=MAX_FRAME_BYTES):
        await asyncio.Future()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    uvloop.run(main(p.parse_args().port))
