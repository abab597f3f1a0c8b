"""The keys every hub on one records store shares: the token-signing key and the complaint
status-code key. Given in the environment (``DISPATCH_SECRET``, ``DISPATCH_STATUS_SECRET``)
they win; else the first hub to open the store makes each and every later hub reads it, so
a token signed by one hub is good on all of them, and a status code checks on any.

A SQLite store that an older version ran keeps the keys it had in files of its data dir:
those seed the store, so the tokens and status codes given out before stay good.
"""

from __future__ import annotations

import dataclasses
import secrets

from server.config import Settings, key_file
from server.records.store import RecordsStore

__all__ = ["TOKEN_KEY", "STATUS_KEY", "with_shared_keys"]

TOKEN_KEY = "token-secret"
STATUS_KEY = "status-code-secret"
_FILES = {TOKEN_KEY: "secret.key", STATUS_KEY: "status-code.key"}


async def _key(store: RecordsStore, settings: Settings, name: str) -> str:
    seed = None if store.shared else key_file(settings.data_dir, _FILES[name])
    return await store.shared_key(name, seed or secrets.token_urlsafe(48))


async def with_shared_keys(settings: Settings, store: RecordsStore) -> Settings:
    """``settings`` with both keys filled in: from the environment, else from the store."""
    secret = settings.secret or await _key(store, settings, TOKEN_KEY)
    status = settings.status_secret or await _key(store, settings, STATUS_KEY)
    return dataclasses.replace(settings, secret=secret, status_secret=status)
