"""The peer: python-socketio's AsyncServer with its Redis manager, served by uvicorn.

``python -m loadtest.peer --port P --redis-url URL``. What a Python team would
pick instead of the hub: boards connect with ``?role=board`` and join the
room ``boards``; a publisher emits ``publish`` with an event, which is
emitted to the room through Redis (so any number of these servers could
share it) and acknowledged.
"""

from __future__ import annotations

import argparse
from typing import Any

import socketio
import uvicorn

from protocol.limits import MAX_FRAME_BYTES

__all__ = ["app"]


def app(redis_url: str) -> Any:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=socketio.AsyncRedisManager(redis_url),
        max_http_buffer_size=MAX_FRAME_BYTES,
        http_compression=False,
    )

    @sio.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if "role=board" in environ.get("QUERY_STRING", ""):
            await sio.enter_room(sid, "boards")

    @sio.on("publish")  # type: ignore[untyped-decorator]
    async def publish(sid: str, data: Any) -> str:
        await sio.emit("radio", data, room="boards")
        return "k"

    return socketio.ASGIApp(sio)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--redis-url", required=True)
    a = p.parse_args()
    uvicorn.run(
        app(a.redis_url),
        host="127.0.0.1",
        port=a.port,
        loop="uvloop",
        http="httptools",
        ws_per_message_deflate=False,
        ws_max_size=MAX_FRAME_BYTES,
        log_level="warning",
        access_log=False,
    )
