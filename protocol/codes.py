"""Every error code and close code the hub uses, in one place.

Error codes travel in ``error`` frames (the connection stays open).
Close codes end the WebSocket; the ranges tell a client what to do:

- 1000-1015: standard WebSocket codes.
- 4000-4099: do not reconnect without fixing something (credentials, client).
- 4100-4199: reconnect with backoff and resume from your offsets.
"""

from __future__ import annotations

import enum

__all__ = ["CloseCode", "ErrorCode", "should_reconnect"]


class ErrorCode(enum.StrEnum):
    """Stable machine-readable reasons carried by ``error`` frames."""

    INVALID_FRAME = "invalid_frame"  # not decodable, unknown type, wrong field types
    UNAUTHENTICATED = "unauthenticated"  # command before hello / bad token
    FORBIDDEN = "forbidden"  # role lacks the permission, or not your unit
    RATE_LIMITED = "rate_limited"  # too many commands per second
    NOT_FOUND = "not_found"  # the incident, unit or topic does not exist
    CONFLICT = "conflict"  # state changed under you; re-read and retry
    INVALID_TRANSITION = "invalid_transition"  # the rules do not allow it
    UNKNOWN_TOPIC = "unknown_topic"
    UNAVAILABLE = "unavailable"  # Redis is down; nothing was written
    INTERNAL = "internal"  # a bug: logged with the frame's ref


class CloseCode(enum.IntEnum):
    """Why the hub closed a connection."""

    NORMAL = 1000
    GOING_AWAY = 1001  # hub shutting down: reconnect elsewhere and resume
    UNSUPPORTED_DATA = 1003  # binary frame on the JSON subprotocol, or text on msgpack
    INVALID_FRAME_DATA = 1007  # too many undecodable frames in a row
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009  # frame larger than limits.MAX_FRAME_BYTES
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013  # hub not ready (Redis down) or draining
    UNAUTHENTICATED = 4001  # no valid token within limits.HELLO_TIMEOUT_S
    FORBIDDEN = 4003  # token valid but the account may not connect
    SLOW_CONSUMER = 4008  # queue overflowed: reconnect and resume


_RECONNECT = {
    CloseCode.GOING_AWAY,
    CloseCode.INTERNAL_ERROR,
    CloseCode.TRY_AGAIN_LATER,
    CloseCode.SLOW_CONSUMER,
}


def should_reconnect(code: int) -> bool:
    """Whether a client should reconnect (and resume) after this close code."""
    if code in (CloseCode.UNAUTHENTICATED, CloseCode.FORBIDDEN):
        return False
    if code in _RECONNECT or code == 1006 or 4100 <= code <= 4199:
        return True
    return code not in (
        CloseCode.NORMAL,
        CloseCode.UNSUPPORTED_DATA,
        CloseCode.INVALID_FRAME_DATA,
        CloseCode.MESSAGE_TOO_BIG,
        CloseCode.POLICY_VIOLATION,
    )
