"""Encoders and decoders for both wire formats, built once and reused.

``dispatch.v1.json`` uses text frames, ``dispatch.v1.msgpack`` binary frames.
Decoding is typed: a frame that is not a valid ``ClientFrame`` raises
``FrameError`` whose message names the path of what was wrong. A frame that
is not JSON (or msgpack) at all, or is nested too deeply to read, raises its
subclass ``UndecodableFrame``.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from protocol.events import Event
from protocol.messages import ClientFrame, ServerFrame
from protocol.refs import ref_of

__all__ = [
    "DEFAULT_FORMAT",
    "Codec",
    "FrameError",
    "UndecodableFrame",
    "WireFormat",
    "codec_for",
    "event_decoder",
    "event_encoder",
    "negotiate",
]


class WireFormat(enum.StrEnum):
    JSON = "dispatch.v1.json"
    MSGPACK = "dispatch.v1.msgpack"


DEFAULT_FORMAT = WireFormat.JSON


class FrameError(ValueError):
    """A frame that does not decode to a known, valid message."""


class UndecodableFrame(FrameError):
    """A frame that is not JSON (or msgpack) at all, or is nested deeper than a decoder goes."""


def _decode(decoder: Any, data: bytes | str) -> Any:
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise FrameError(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise UndecodableFrame(str(exc)) from None
    except RecursionError:
        # msgspec skips values it does not keep (a field before the `type` tag) by recursion,
        # guarded by the interpreter's recursion limit: no frame of ours nests past a few levels.
        raise UndecodableFrame("nested too deeply") from None


class Codec:
    """One format's client/server encoders and decoders."""

    __slots__ = ("_dec_client", "_dec_server", "_enc", "binary", "format")

    def __init__(self, fmt: WireFormat) -> None:
        self.format = fmt
        self.binary = fmt is WireFormat.MSGPACK
        self._enc: Any
        if self.binary:
            self._enc = msgspec.msgpack.Encoder()
            self._dec_client: Any = msgspec.msgpack.Decoder(ClientFrame)
            self._dec_server: Any = msgspec.msgpack.Decoder(ServerFrame)
        else:
            self._enc = msgspec.json.Encoder()
            self._dec_client = msgspec.json.Decoder(ClientFrame)
            self._dec_server = msgspec.json.Decoder(ServerFrame)

    def encode(self, frame: Any) -> bytes:
        return self._enc.encode(frame)  # type: ignore[no-any-return]

    def decode_client(self, data: bytes | str) -> ClientFrame:
        return _decode(self._dec_client, data)  # type: ignore[no-any-return]

    def decode_server(self, data: bytes | str) -> ServerFrame:
        return _decode(self._dec_server, data)  # type: ignore[no-any-return]

    def ref_of(self, data: bytes | str) -> str | None:
        """The ``id`` of a frame that did not decode, if it has a usable one (protocol.refs)."""
        return ref_of(data, self.binary)


_CODECS = {fmt: Codec(fmt) for fmt in WireFormat}


def codec_for(fmt: WireFormat) -> Codec:
    return _CODECS[fmt]


def negotiate(offered: list[str]) -> WireFormat | None:
    """Pick the first subprotocol the client offered that we speak.

    No subprotocol offered means JSON; offers that are all unknown get None
    (the hub then rejects the handshake).
    """
    if not offered:
        return DEFAULT_FORMAT
    for name in offered:
        try:
            return WireFormat(name)
        except ValueError:
            continue
    return None


# Events are stored in the topic streams as msgpack, whatever the wire format.
event_encoder = msgspec.msgpack.Encoder()
event_decoder: msgspec.msgpack.Decoder[Event] = msgspec.msgpack.Decoder(Event)
