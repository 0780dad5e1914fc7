"""The PostgreSQL store's tenant-wide reads (users, sessions, stats, export) and API keys.

Reads here are bounded by a tenant (and a user when one is given). ``stats``'s
``store_bytes`` is the size of the whole database, shared by every tenant in it. API keys are
store-wide administration: a key is found by the hash of its secret, whatever its tenant.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from engram.model import Stats, Turn
from engram.model.keys import ApiKey
from engram.model.results import SessionSummary, UserSummary
from engram.model.timeutil import from_micros, to_micros
from engram.store.base import UserScope
from engram.store.postgres.connection import Database
from engram.store.postgres.lifecycle import as_array
from engram.store.postgres.sql import TURN_COLUMNS, turn_from_row

_KEY_COLUMNS = "id, tenant, label, prefix, created_at, revoked_at"


def _api_key(row: Sequence[Any]) -> ApiKey:
    key_id, tenant, label, prefix, created, revoked = row
    return ApiKey(key_id, tenant, label, prefix, from_micros(created), from_micros(revoked) if revoked else None)


class BrowsingMixin:
    """Users, sessions, stats, export iteration and API keys for :class:`PostgresStore`."""

    _db: Database
    _model: tuple[str, int] | None
    location: str

    def iter_turns(
        self, tenant: str, user_id: str | None = None, *, batch: int = 500
    ) -> Iterator[tuple[Turn, np.ndarray | None]]:
        """Every turn of a tenant (or user) with its vector, in insertion order."""
        dim = self._model[1] if self._model else 0
        last = 0
        while True:
            sql = f"SELECT {TURN_COLUMNS}, embedding FROM turns WHERE tenant=%s AND seq > %s"
            params: list[Any] = [tenant, last]
            if user_id is not None:
                sql += " AND user_id=%s"
                params.append(user_id)
            sql += " ORDER BY seq LIMIT %s"
            params.append(batch)
            with self._db.connection() as conn:
                rows = conn.execute(sql, params).fetchall()
            if not rows:
                return
            for row in rows:
                yield turn_from_row(row[:-1]), (as_array(row[-1], dim) if row[-1] is not None else None)
            last = rows[-1][0]

    def list_users(self, tenant: str, *, after: str | None = None, limit: int = 100) -> list[UserSummary]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT user_id, count(*), count(DISTINCT session_id), min(ts), max(ts) FROM turns "
                "WHERE tenant=%s AND user_id > %s GROUP BY user_id ORDER BY user_id LIMIT %s",
                (tenant, after or "", limit),
            ).fetchall()
        return [UserSummary(u, n, s, from_micros(a), from_micros(b)) for u, n, s, a, b in rows]

    def list_sessions(self, scope: UserScope, *, after: str | None = None, limit: int = 100) -> list[SessionSummary]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT session_id, array_agg(DISTINCT agent_id) FILTER (WHERE agent_id IS NOT NULL), count(*), "
                "min(ts), max(ts) FROM turns WHERE tenant=%s AND user_id=%s GROUP BY session_id "
                "ORDER BY max(ts) DESC, session_id",
                (scope.tenant, scope.user_id),
            ).fetchall()
        ids = [row[0] for row in rows]
        start = ids.index(after) + 1 if after in ids else (len(ids) if after is not None else 0)
        return [
            SessionSummary(sid, tuple(sorted(agents or ())), n, from_micros(a), from_micros(b))
            for sid, agents, n, a, b in rows[start : start + limit]
        ]

    def stats(self, tenant: str, user_id: str | None = None) -> Stats:
        where, params = "tenant=%s", [tenant]
        if user_id is not None:
            where += " AND user_id=%s"
            params.append(user_id)
        with self._db.connection() as conn:
            turns, users, sessions, first, last = conn.execute(
                f"SELECT count(*), count(DISTINCT user_id), count(DISTINCT (user_id, session_id)), min(ts), max(ts) "
                f"FROM turns WHERE {where}",
                params,
            ).fetchone()
            by_role = dict(conn.execute(f"SELECT role, count(*) FROM turns WHERE {where} GROUP BY role", params).fetchall())
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        return Stats(
            turns=turns,
            users=users,
            sessions=sessions,
            first_timestamp=from_micros(first) if first is not None else None,
            last_timestamp=from_micros(last) if last is not None else None,
            store_bytes=int(size),
            embedding_model=self._model[0] if self._model else None,
            path=self.location,
            by_role=by_role,
        )

    # -- API keys ----------------------------------------------------------------------------

    def put_api_key(self, key: ApiKey, key_hash: str) -> None:
        with self._db.atomic() as conn:
            conn.execute(
                "INSERT INTO api_keys(id, tenant, label, key_hash, prefix, created_at) VALUES (%s,%s,%s,%s,%s,%s)",
                (key.id, key.tenant, key.label, key_hash, key.prefix, to_micros(key.created_at)),
            )

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        with self._db.connection() as conn:
            row = conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_hash=%s", (key_hash,)).fetchone()
        return _api_key(row) if row else None

    def list_api_keys(self, tenant: str | None = None) -> list[ApiKey]:
        sql, params = f"SELECT {_KEY_COLUMNS} FROM api_keys", []
        if tenant is not None:
            sql += " WHERE tenant=%s"
            params.append(tenant)
        with self._db.connection() as conn:
            return [_api_key(row) for row in conn.execute(sql + " ORDER BY created_at, id", params)]

    def revoke_api_key(self, key_id: str, at: datetime) -> ApiKey | None:
        with self._db.atomic() as conn:
            conn.execute(
                "UPDATE api_keys SET revoked_at=%s WHERE id=%s AND revoked_at IS NULL", (to_micros(at), key_id)
            )
            row = conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id=%s", (key_id,)).fetchone()
        return _api_key(row) if row else None
