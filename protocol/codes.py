"""Every error code and close code the hub uses, in one place.

Error codes travel in ``error`` frames (the connection stays open).
Close codes end the WebSocket; each reason the hub closes for is a ``CloseReason``
with its code and text. The ranges tell a client what to do:

- 1000-2999: standard WebSocket codes, each with its own rule (``FINAL_STANDARD`` lists the
  ones after which reconnecting cannot help; the rest mean reconnect and resume).
- 4000-4099: do not reconnect: sign in again, or fix the client.
- 4100-4199: reconnect with backoff and resume from your offsets.
- any other code: reconnect with backoff (what a client does not know may pass).

``should_reconnect`` is the rule; ``CLOSE_RULES`` is the same rule as data, which the hub
serves to the browser clients in ``/api/me`` (``close_codes``) so that they keep no copy.
"""

from __future__ import annotations

import enum

import msgspec

__all__ = [
    "CLOSE_RULES",
    "FINAL_RANGE",
    "FINAL_STANDARD",
    "RESUME_RANGE",
    "CloseCode",
    "CloseReason",
    "CloseRules",
    "ErrorCode",
    "should_reconnect",
]


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
    """Why a connection closed: the hub's codes, and the standard ones a client may see."""

    NORMAL = 1000
    GOING_AWAY = 1001  # hub shutting down: reconnect elsewhere and resume
    UNSUPPORTED_DATA = 1003  # binary frame on the JSON subprotocol, or text on msgpack
    ABNORMAL = 1006  # never sent: the connection dropped without a close frame
    INVALID_FRAME_DATA = 1007  # too many undecodable frames in a row
    POLICY_VIOLATION = 1008  # too many sessions for the account (or a refused handshake)
    MESSAGE_TOO_BIG = 1009  # frame larger than limits.MAX_FRAME_BYTES
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013  # hub not ready (Redis down) or draining
    # 4000-4099: do not reconnect.
    UNAUTHENTICATED = 4001  # no valid token within limits.HELLO_TIMEOUT_S, or the token ended
    FORBIDDEN = 4003  # token valid but the account may not connect
    # 4100-4199: reconnect and resume.
    CLIENT_RECONNECT = 4100  # sent by a client that drops its own connection to reconnect (no pong, no network)
    SLOW_CONSUMER = 4108  # queue overflowed: reconnect and resume


FINAL_RANGE = (4000, 4099)
RESUME_RANGE = (4100, 4199)
# Standard codes after which reconnecting cannot help.
FINAL_STANDARD = frozenset(
    {
        CloseCode.NORMAL,
        CloseCode.UNSUPPORTED_DATA,
        CloseCode.INVALID_FRAME_DATA,
        CloseCode.POLICY_VIOLATION,
        CloseCode.MESSAGE_TOO_BIG,
    }
)


class CloseReason(enum.Enum):
    """Every reason the hub closes a connection: its code and the text sent with it. A reason
    whose text depends on the case (which check refused a token) is sent with that text."""

    SHUTTING_DOWN = (CloseCode.GOING_AWAY, "hub shutting down: reconnect and resume")
    NOT_READY = (CloseCode.TRY_AGAIN_LATER, "hub not ready: retry shortly")
    RESYNC_FAILED = (CloseCode.TRY_AGAIN_LATER, "resync failed: reconnect and resume")
    WRITER_STOPPED = (CloseCode.INTERNAL_ERROR, "writer stopped")
    SLOW_CONSUMER = (CloseCode.SLOW_CONSUMER, "slow consumer: reconnect and resume")
    BINARY_ON_JSON = (CloseCode.UNSUPPORTED_DATA, "binary frame on dispatch.v1.json")
    TEXT_ON_MSGPACK = (CloseCode.UNSUPPORTED_DATA, "text frame on dispatch.v1.msgpack")
    UNDECODABLE_FRAMES = (CloseCode.INVALID_FRAME_DATA, "too many undecodable frames")
    TOO_MANY_SESSIONS = (CloseCode.POLICY_VIOLATION, "too many sessions for this account")
    # Before the handshake is accepted: the client sees HTTP 403, without the text.
    OTHER_SITE = (CloseCode.POLICY_VIOLATION, "a page of another site")
    NO_SUBPROTOCOL = (CloseCode.POLICY_VIOLATION, "no subprotocol this hub speaks")
    NO_HELLO = (CloseCode.UNAUTHENTICATED, "no hello within the time allowed")
    TOKEN_REFUSED = (CloseCode.UNAUTHENTICATED, "invalid token")  # sent with the check that failed
    TOKEN_EXPIRED = (CloseCode.UNAUTHENTICATED, "token expired")
    SIGNED_OUT = (CloseCode.UNAUTHENTICATED, "signed out: sign in again")  # sent with how
    ACCOUNT_DISABLED = (CloseCode.FORBIDDEN, "account disabled")

    @property
    def code(self) -> CloseCode:
        code: CloseCode = self.value[0]
        return code

    @property
    def text(self) -> str:
        text: str = self.value[1]
        return text


def should_reconnect(code: int) -> bool:
    """Whether a client should reconnect (and resume) after this close code."""
    if FINAL_RANGE[0] <= code <= FINAL_RANGE[1]:
        return False
    return code not in FINAL_STANDARD


class CloseRules(msgspec.Struct, frozen=True):
    """``should_reconnect`` as data, for clients in other languages: a code is final (do not
    reconnect) when it is in ``final`` or in one of ``final_ranges``; any other code reconnects."""

    codes: dict[str, int]  # every close code by name: "SLOW_CONSUMER": 4108
    final: list[int]
    final_ranges: list[tuple[int, int]]
    resume_ranges: list[tuple[int, int]]


CLOSE_RULES = CloseRules(
    codes={c.name: int(c) for c in CloseCode},
    final=sorted(int(c) for c in FINAL_STANDARD),
    final_ranges=[FINAL_RANGE],
    resume_ranges=[RESUME_RANGE],
)
