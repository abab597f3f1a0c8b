"""Files sent with a complaint: bounded in number and size, checked by their first bytes,
kept once by content (named by SHA-256) in DATA_DIR/attachments."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import msgspec

__all__ = ["KINDS", "AttachmentRef", "Checked", "keep_uploads", "read_uploads", "sniff"]


class AttachmentRef(msgspec.Struct, forbid_unknown_fields=True):
    sha256: str
    name: str
    type: str
    size: int


# What a file's first bytes say it is; nothing else is taken.
KINDS: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
    (b"WEBP", 8, "image/webp"),
    (b"ftypheic", 4, "image/heic"),
    (b"ftypmif1", 4, "image/heic"),
)


def sniff(head: bytes) -> str | None:
    for magic, at, kind in KINDS:
        if head[at : at + len(magic)] == magic and (kind != "image/webp" or head[:4] == b"RIFF"):
            return kind
    return None


def _safe_name(name: str) -> str:
    base = os.path.basename(name or "attachment")
    return re.sub(r"[^\w.\- ]", "_", base)[:120] or "attachment"


def _store(data: bytes, folder: Path) -> str:
    digest = hashlib.sha256(data).hexdigest()
    target = folder / digest[:2] / digest
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    return digest


Checked = list[tuple[bytes, str, str]]  # data, safe name, type


async def read_uploads(uploads: list[Any], most: int, max_bytes: int) -> tuple[Checked, dict[str, str]]:
    """The uploaded files, read and checked. -> those that pass, and the problems by field."""
    if len(uploads) > most:
        return [], {"attachments": f"Please attach at most {most} files."}
    errors: dict[str, str] = {}
    checked: Checked = []
    for i, upload in enumerate(uploads):
        data = await upload.read(max_bytes + 1)
        name = _safe_name(getattr(upload, "filename", "") or "")
        if len(data) > max_bytes:
            errors[f"attachments.{i}"] = f"{name} is larger than {max_bytes // (1024 * 1024)} MB."
        elif not data:
            errors[f"attachments.{i}"] = f"{name} is empty."
        elif (kind := sniff(data[:16])) is None:
            errors[f"attachments.{i}"] = f"{name}: we can take photos (JPEG, PNG, GIF, WebP, HEIC) and PDF files."
        else:
            checked.append((data, name, kind))
    return checked, errors


async def keep_uploads(checked: Checked, folder: Path) -> list[AttachmentRef]:
    """Keep checked files, once each by content. -> their references."""
    refs = []
    for data, name, kind in checked:
        digest = await asyncio.to_thread(_store, data, folder)
        refs.append(AttachmentRef(digest, name, kind, len(data)))
    return refs
