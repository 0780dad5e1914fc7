"""The SQLite store's tenant-wide reads: a tenant's users and a user's sessions, counts and
sizes, and every turn of a tenant (or user) for export.

A mixin of :class:`~engram.store.sqlite.store.SQLiteStore`, sharing its connection and lock.
These are bounded by a tenant (and a user when one is given), never wider. ``stats``'s
``store_bytes`` is the size of the whole file, shared by every tenant in it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from engram.model import Stats, Turn
from engram.model.results import SessionSummary, UserSummary
from engram.model.timeutil import from_micros
from engram.store.base import UserScope
from engram.store.sqlite.sql import TURN_COLUMNS, turn_from_row


class BrowsingMixin:
    """Users, sessions, stats and export iteration for :class:`SQLiteStore`."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    path: str
    _model: tuple[str, int] | None

    def iter_turns(
        self, tenant: str, user_id: str | None = None, *, batch: int = 500
    ) -> Iterator[tuple[Turn, np.ndarray | None]]:
        last = 0
        while True:
            sql = f"SELECT {TURN_COLUMNS}, embedding FROM turns WHERE tenant=? AND seq > ?"
            params: list[Any] = [tenant, last]
            if user_id is not None:
                sql += " AND user_id=?"
                params.append(user_id)
            sql += " ORDER BY seq LIMIT ?"
            params.append(batch)
            with self._lock:
                rows = self._conn.execute(sql, params).fetchall()
            if not rows:
                return
            for row in rows:
                blob = row[-1]
                yield turn_from_row(row[:-1]), (np.frombuffer(blob, dtype=np.float32) if blob else None)
            last = rows[-1][0]

    def list_users(self, tenant: str, *, after: str | None = None, limit: int = 100) -> list[UserSummary]:
        """A tenant's users ordered by id, after the user id ``after``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT user_id, count(*), count(DISTINCT session_id), min(ts), max(ts) FROM turns "
                "WHERE tenant=? AND user_id > ? GROUP BY user_id ORDER BY user_id LIMIT ?",
                (tenant, after or "", limit),
            ).fetchall()
        return [UserSummary(u, n, s, from_micros(a), from_micros(b)) for u, n, s, a, b in rows]

    def list_sessions(
        self, scope: UserScope, *, after: str | None = None, limit: int = 100
    ) -> list[SessionSummary]:
        """A user's sessions, the most recently active first, after the session ``after``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT session_id, group_concat(DISTINCT agent_id), count(*), min(ts), max(ts) FROM turns "
                "WHERE tenant=? AND user_id=? GROUP BY session_id ORDER BY max(ts) DESC, session_id",
                (scope.tenant, scope.user_id),
            ).fetchall()
        ids = [row[0] for row in rows]
        start = ids.index(after) + 1 if after in ids else (len(ids) if after is not None else 0)
        return [
            SessionSummary(
                sid, tuple(sorted(agents.split(","))) if agents else (), n, from_micros(a), from_micros(b)
            )
            for sid, agents, n, a, b in rows[start : start + limit]
        ]

    def stats(self, tenant: str, user_id: str | None = None) -> Stats:
        where, params = "tenant=?", [tenant]
        if user_id is not None:
            where += " AND user_id=?"
            params.append(user_id)
        with self._lock:
            turns, users, sessions, first, last = self._conn.execute(
                f"SELECT count(*), count(DISTINCT user_id), count(DISTINCT user_id || char(0) || "
                f"session_id), min(ts), max(ts) FROM turns WHERE {where}",
                params,
            ).fetchone()
            by_role = dict(
                self._conn.execute(f"SELECT role, count(*) FROM turns WHERE {where} GROUP BY role", params)
            )
        size = None
        if self.path != ":memory:":
            size = sum(os.path.getsize(p) for p in (self.path, self.path + "-wal") if os.path.exists(p))
        return Stats(
            turns=turns,
            users=users,
            sessions=sessions,
            first_timestamp=from_micros(first) if first is not None else None,
            last_timestamp=from_micros(last) if last is not None else None,
            store_bytes=size,
            embedding_model=self._model[0] if self._model else None,
            path=self.path,
            by_role=by_role,
        )
