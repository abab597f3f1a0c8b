"""What a request brings: its body and its query string, bounded and typed.

Bodies are read as they arrive, never past their route's cap, never waited on
for ever. Starlette's ``request.body()`` reads everything before anyone can look at its
size. Every route here reads through ``bounded`` instead (``read_body`` and
``read_json`` for the common cases): a declared ``Content-Length`` over the
cap is refused before a byte is read, and a body that goes on past the cap is
refused as soon as it does, so at most one chunk beyond the cap is ever held.
A body that stops arriving for ``IDLE_S`` is refused too.

Query strings are read into a typed msgspec Struct (``read_query``), whose
field bounds (a limit of 1 to 1,000, a time that fits in a JavaScript number)
say what is allowed; the same Struct is the route's documented parameters.

Problems raise ``InputError``; the app answers it in its one error shape
(``{"error": ...}``), and a door with a shape of its own (Open311) catches it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.types import Message

__all__ = [
    "IDLE_S",
    "InputError",
    "JSON",
    "MAX_MS",
    "Ms",
    "bounded",
    "decode_json",
    "read_body",
    "read_json",
    "read_query",
    "too_large",
]

# Times in milliseconds since the epoch, as clients send them: at most what a JavaScript
# number holds exactly (past year 285,000), so never past SQLite's 64 bits either.
MAX_MS = 2**53 - 1
Ms = Annotated[int, msgspec.Meta(ge=0, le=MAX_MS)]

JSON = "application/json"
IDLE_S = 15.0  # the longest wait for the next piece of a body

T = TypeVar("T")


class InputError(Exception):
    """A body that cannot be taken, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def too_large(limit: int) -> InputError:
    return InputError(413, f"the body is larger than this request takes ({limit:,} bytes)")


def bounded(request: Request, limit: int, *, idle_s: float = IDLE_S) -> Request:
    """The same request, whose body raises ``InputError`` (413) past ``limit`` bytes however it is
    sent, and (408) when nothing more of it arrives for ``idle_s``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InputError(400, "Content-Length must be a number of bytes")
        if int(declared) > limit:
            raise too_large(limit)
    seen = 0
    receive = request.receive

    async def counted() -> Message:
        nonlocal seen
        try:
            async with asyncio.timeout(idle_s):
                message: Any = await receive()
        except TimeoutError:
            raise InputError(408, f"the body stopped arriving (nothing for {idle_s:.0f} s)") from None
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(limit)
        return message  # type: ignore[no-any-return]

    return Request(request.scope, counted)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, at most ``limit`` bytes."""
    return await bounded(request, limit).body()


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_json(request: Request, kind: type[T], limit: int) -> T:
    """A JSON body (``Content-Type: application/json``, at most ``limit`` bytes) as ``kind``.

    Form and text bodies are refused (415): a page of another site can send
    those without asking, and a JSON route never takes them."""
    if _media_type(request) != JSON:
        raise InputError(415, f"send the body as JSON (Content-Type: {JSON})")
    return decode_json(await read_body(request, limit), kind)


def decode_json(raw: bytes, kind: type[T]) -> T:
    """``raw`` as ``kind``: 400 for what is not JSON (or nested too deeply to read), 422 for JSON
    of the wrong shape, with msgspec's path to the problem."""
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise InputError(422, str(exc)) from None
    except msgspec.DecodeError as exc:
        raise InputError(400, f"not valid JSON: {exc}") from None
    except RecursionError:
        raise InputError(400, "not valid JSON: nested too deeply") from None


def read_query(request: Request, kind: type[T]) -> T:
    """The query string as ``kind`` (empty values left out; numbers from their text): 400 naming
    the parameter that is wrong, as msgspec's path does (``$.limit``)."""
    given = {k: v for k, v in request.query_params.items() if v != ""}
    try:
        return msgspec.convert(given, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise InputError(400, f"bad query: {exc}") from None
