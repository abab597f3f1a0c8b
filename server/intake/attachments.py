"""Files sent with a complaint: bounded in number and size, checked by their first bytes,
kept once by content (named by SHA-256) in DATA_DIR/attachments.

Files are kept only for a submission the door takes: one refused (its id used
before for other answers) leaves nothing behind, and neither does one that
could not be queued. What a crash leaves between keeping a file and queueing
its submission is swept later (``sweep_orphans``): a file that no complaint,
queued entry or dead letter names, once it is a day old."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import msgspec

__all__ = ["KINDS", "AttachmentRef", "Checked", "discard", "keep_uploads", "read_uploads", "sniff", "sweep_orphans"]


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


def _path(folder: Path, digest: str) -> Path:
    return folder / digest[:2] / digest


def _store(data: bytes, folder: Path) -> tuple[str, bool]:
    """Keep ``data`` under its SHA-256. -> (digest, whether this call made the file)."""
    digest = hashlib.sha256(data).hexdigest()
    target = _path(folder, digest)
    if target.exists():
        return digest, False
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return digest, True


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


async def keep_uploads(checked: Checked, folder: Path) -> tuple[list[AttachmentRef], list[str]]:
    """Keep checked files, once each by content. -> their references, and the digests of the files
    this call made (what ``discard`` removes if the submission is not queued after all)."""
    refs, made = [], []
    for data, name, kind in checked:
        digest, new = await asyncio.to_thread(_store, data, folder)
        refs.append(AttachmentRef(digest, name, kind, len(data)))
        if new:
            made.append(digest)
    return refs, made


def discard(folder: Path, digests: list[str]) -> None:
    """Remove files ``keep_uploads`` made for a submission that was not queued."""
    for digest in digests:
        _path(folder, digest).unlink(missing_ok=True)


def sweep_orphans(folder: Path, named: set[str], now: float, older_than_s: float) -> list[str]:
    """Remove kept files that nothing names (``named``: the digests complaints, queued entries
    and dead letters hold), once older than ``older_than_s``. -> the digests removed."""
    removed: list[str] = []
    if not folder.exists():
        return removed
    for path in folder.glob("??/*"):
        digest = path.name
        if len(digest) != 64 or digest in named:
            continue
        try:
            if now - path.stat().st_mtime < older_than_s:
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(digest)
    return removed
