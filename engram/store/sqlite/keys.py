"""The SQLite store's API keys: stored by the hash of their secret (see :mod:`engram.auth`).

A mixin of :class:`~engram.store.sqlite.store.SQLiteStore`, sharing its connection and lock.
Keys are store-wide administration (the CLI's ``engram keys``): a key is found by the hash of
its secret, whatever its tenant, and then names the one tenant it may act for.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from engram.model.keys import ApiKey
from engram.model.timeutil import from_micros, to_micros


class ApiKeysMixin:
    """Put, find, list and revoke API keys."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    atomic: Callable[..., contextlib.AbstractContextManager[None]]

    def put_api_key(self, key: ApiKey, key_hash: str) -> None:
        with self.atomic():
            self._conn.execute(
                "INSERT INTO api_keys(id, tenant, label, key_hash, prefix, created_at) VALUES (?,?,?,?,?,?)",
                (key.id, key.tenant, key.label, key_hash, key.prefix, to_micros(key.created_at)),
            )

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash=?", (key_hash,)).fetchone()
        return _api_key(row) if row else None

    def list_api_keys(self, tenant: str | None = None) -> list[ApiKey]:
        sql, params = f"SELECT {_KEY_COLUMNS} FROM api_keys", []
        if tenant is not None:
            sql += " WHERE tenant=?"
            params.append(tenant)
        with self._lock:
            return [_api_key(row) for row in self._conn.execute(sql + " ORDER BY created_at, id", params)]

    def revoke_api_key(self, key_id: str, at: datetime) -> ApiKey | None:
        with self.atomic():
            self._conn.execute(
                "UPDATE api_keys SET revoked_at=? WHERE id=? AND revoked_at IS NULL", (to_micros(at), key_id)
            )
            row = self._conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id=?", (key_id,)).fetchone()
        return _api_key(row) if row else None


_KEY_COLUMNS = "id, tenant, label, prefix, created_at, revoked_at"


def _api_key(row: Sequence[Any]) -> ApiKey:
    key_id, tenant, label, prefix, created, revoked = row
    return ApiKey(key_id, tenant, label, prefix, from_micros(created), from_micros(revoked) if revoked else None)
