"""A second factor for sign-in: time-based one-time codes (TOTP, RFC 6238) and recovery codes.

Required for the roles granted ``Grant.SECOND_FACTOR`` in ``server.access.permissions`` (case staff,
team leads and admins: case files are the most sensitive records here),
optional for everyone else. Enrolment shows a QR code of the ``otpauth://``
URI for an authenticator app, and checks one code before it counts.

A code is good for its 30-second step and one step either side (a phone's
clock may be off), and each step is taken once: the last step used is kept,
so a code seen over someone's shoulder cannot be used again. Recovery codes
are random, shown once, kept only as SHA-256 hashes, and each works once.

Pure: time is passed in; nothing here stores anything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
import segno

__all__ = [
    "STEP_S",
    "code_hash",
    "matching_step",
    "new_recovery_codes",
    "new_secret",
    "provisioning_uri",
    "qr_svg",
]

STEP_S = 30
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: easy to copy from paper


def new_secret() -> str:
    """A new shared secret (base32, 160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, user: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, interval=STEP_S).provisioning_uri(name=user, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as a QR code: an SVG image as a ``data:`` URI, for an ``<img>`` (dark modules on
    white with a quiet zone, as phone cameras expect)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, dark="#000", light="#fff", border=4))


def matching_step(secret: str, code: str, now: float, last_step: int) -> int | None:
    """The time step ``code`` is good for (this step or one either side), if that step is later
    than ``last_step`` (each step is used once); None otherwise."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_S)
    current = int(now // STEP_S)
    for step in (current, current - 1, current + 1):
        if step > last_step and hmac.compare_digest(totp.at(step * STEP_S), code):
            return step
    return None


def new_recovery_codes(n: int = RECOVERY_CODES) -> list[str]:
    """``n`` one-time codes such as ``k7dp-m3xq-w9``: about 60 bits each."""
    out = []
    for _ in range(n):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        out.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return out


def code_hash(user: str, code: str) -> str:
    """How a recovery code is kept: hashed with its account's name (the same code elsewhere differs)."""
    normal = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(f"{user}\n{normal}".encode()).hexdigest()
