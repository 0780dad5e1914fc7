"""SQLiteStore: one file holds turns, their full-text index (FTS5) and their vectors.

WAL journal, one writer transaction per call: a crash mid-batch leaves rows, full-text index
and vectors in agreement and keeps every batch whose call had returned. Vectors are searched
from an in-memory per-user index (:mod:`engram.store.vectors`) rebuilt from the file on demand
and invalidated when another process writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engram.errors import CorruptStoreError, EmbedderMismatchError, StoreError
from engram.model import NewTurn, SearchFilters, Stats, Turn
from engram.model.results import SessionSummary, UserSummary
from engram.model.timeutil import from_micros, to_micros
from engram.store.base import Candidate, TurnNotes, UserScope
from engram.store.sqlite.forgetting import MemoryStateMixin
from engram.store.sqlite.fulltext import FullTextMixin
from engram.store.sqlite.keys import ApiKeysMixin
from engram.store.sqlite.lifecycle import LifecycleMixin
from engram.store.sqlite.schema import check_compatible, migrate
from engram.store.sqlite.sql import (
    TURN_COLUMNS,
    chunks,
    filter_sql,
    match_expression,
    scope_key,
    scope_where,
    turn_from_row,
)
from engram.store.vectors import HNSW_THRESHOLD, ScopeVectors


class SQLiteStore(FullTextMixin, LifecycleMixin, MemoryStateMixin, ApiKeysMixin):
    """The embedded store. Thread-safe; several processes may share one file.

    Args:
        path: the database file (created with its folders if missing), or ``":memory:"``.
        hnsw_threshold: vectors per user above which the approximate index is used.
        synchronous: SQLite's ``synchronous`` pragma; ``FULL`` also survives power loss.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        hnsw_threshold: int = HNSW_THRESHOLD,
        synchronous: str = "FULL",
    ) -> None:
        self.path = str(path)
        self.location = self.path
        self.hnsw_threshold = hnsw_threshold
        self._synchronous = synchronous.upper()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._vectors: dict[tuple[str, str], ScopeVectors] = {}
        self._turn_counts: dict[tuple[str, str], int] = {}  # per user, for choosing a search plan
        self._speakers: dict[tuple[str, str], frozenset[str]] = {}  # per user
        self._episode_vectors: dict[tuple[str, str], tuple[ScopeVectors, dict[int, str]]] = {}
        self._model: tuple[str, int] | None = None
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            check_compatible(self._conn)  # before any pragma that writes to the file
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._conn.execute("PRAGMA secure_delete=ON")  # deleted content is zeroed, not left in free pages
            self._conn.execute("PRAGMA foreign_keys=ON")
            migrate(self._conn)
        except sqlite3.DatabaseError as exc:
            raise CorruptStoreError(f"cannot open {self.path} as an Engram store: {exc}") from exc
        self._data_version = self._read_data_version()
        row = self._conn.execute("SELECT value FROM engram_meta WHERE key='embedding_model'").fetchone()
        if row:
            model = json.loads(row[0])
            self._model = (model["id"], int(model["dim"]))

    # -- embedder binding ------------------------------------------------------------------

    def bind_embedder(self, model_id: str, dim: int) -> None:
        with self._lock:
            if self._model is None:
                value = json.dumps({"id": model_id, "dim": dim})
                self._conn.execute(
                    "INSERT OR IGNORE INTO engram_meta(key, value) VALUES ('embedding_model', ?)",
                    (value,),
                )
                stored = json.loads(
                    self._conn.execute(
                        "SELECT value FROM engram_meta WHERE key='embedding_model'"
                    ).fetchone()[0]
                )
                self._model = (stored["id"], int(stored["dim"]))
            if self._model != (model_id, dim):
                raise EmbedderMismatchError(
                    f"{self.path} holds vectors of model {self._model[0]!r} ({self._model[1]}-d) but "
                    f"the configured embedder is {model_id!r} ({dim}-d). Use the same embedder, or "
                    "export the store and import it into a new one with the new embedder."
                )

    @property
    def embedding_model(self) -> str | None:
        """The model id the store's vectors were made with, once known."""
        return self._model[0] if self._model else None

    # -- writes ----------------------------------------------------------------------------

    def insert_turns(
        self,
        turns: Sequence[NewTurn],
        vectors: np.ndarray,
        keys: Sequence[bytes],
        recorded_at: datetime,
        notes: Sequence[TurnNotes] | None = None,
    ) -> list[tuple[Turn, bool]]:
        if self._model is None:
            raise StoreError("bind_embedder must be called before turns are inserted")
        recorded = to_micros(recorded_at)
        given: Sequence[TurnNotes | None] = notes if notes is not None else [None] * len(turns)
        rows = [
            (
                turn.id,
                turn.scope.tenant,
                turn.scope.user_id,
                turn.scope.agent_id,
                turn.scope.session_id,
                scope_key(turn.scope.tenant, turn.scope.user_id),
                turn.role,
                turn.name,
                turn.content,
                turn.content_hash,
                to_micros(turn.timestamp),
                to_micros(turn.recorded_at) if turn.recorded_at else recorded,
                json.dumps(dict(turn.metadata), ensure_ascii=False, separators=(",", ":")),
                key,
                np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
                note.keys if note else None,
                note.importance if note else 0.5,
            )
            for turn, vector, key, note in zip(turns, vectors, keys, given, strict=True)
        ]
        tenants = {turn.scope.tenant for turn in turns}
        if len(tenants) > 1:
            raise StoreError("one insert_turns call writes to one tenant")
        inserted: list[str] = []
        actual: list[str] = []  # the id each input turn is stored under
        with self._lock:
            self._sync_caches()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    if not self._insert_row(row):
                        owner = self._conn.execute(
                            "SELECT tenant, user_id FROM turns WHERE id=?", (row[0],)
                        ).fetchone()
                        if owner is not None and tuple(owner) != (row[1], row[2]):
                            # The id is taken by another tenant or user (an imported file can carry
                            # any id): store under an id derived for this owner, and reveal nothing.
                            row = (_rederived_id(row[0], row[1], row[2]), *row[1:])
                            if self._insert_row(row):
                                inserted.append(row[0])
                    else:
                        inserted.append(row[0])
                    actual.append(row[0])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._data_version = self._read_data_version()
            tenant = next(iter(tenants)) if tenants else ""
            stored = {turn.id: turn for turn in self._fetch_by_ids(tenant, actual)}
            self._append_vectors(stored, inserted, dict(zip(actual, vectors, strict=True)))
            for turn_id in inserted:
                key = (stored[turn_id].scope.tenant, stored[turn_id].scope.user_id)
                if key in self._turn_counts:
                    self._turn_counts[key] += 1
                name = stored[turn_id].name
                if key in self._speakers and name:
                    self._speakers[key] |= {name}
        new = set(inserted)
        return [(stored[turn_id], turn_id in new) for turn_id in actual]

    def _insert_row(self, row: tuple[Any, ...]) -> bool:
        cursor = self._conn.execute(
            "INSERT OR IGNORE INTO turns(id, tenant, user_id, agent_id, session_id, "
            "scope_key, role, name, content, content_hash, ts, recorded_at, metadata, "
            "embed_key, embedding, keys, importance) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            row,
        )
        return cursor.rowcount == 1

    # -- reads -----------------------------------------------------------------------------

    def get_turns(
        self,
        scope: UserScope,
        ids: Sequence[str],
        *,
        filters: SearchFilters | None = None,
        until: datetime | None = None,
    ) -> list[Turn]:
        out: list[Turn] = []
        with self._lock:
            for chunk in chunks(list(dict.fromkeys(ids))):
                marks = ",".join("?" * len(chunk))
                if filters is None and until is None:
                    where, params = scope_where(scope)
                else:  # exactly the conditions search applies (archive rule included)
                    where, params = filter_sql(scope, filters or SearchFilters(), until or _FAR_FUTURE)
                sql = f"SELECT {TURN_COLUMNS} FROM turns t WHERE {where} AND id IN ({marks})"
                params.extend(chunk)
                out.extend(turn_from_row(row) for row in self._conn.execute(sql, params))
        return out

    def cached_vectors(self, scope: UserScope, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        out: dict[bytes, np.ndarray] = {}
        with self._lock:
            for chunk in chunks(list(dict.fromkeys(keys))):
                marks = ",".join("?" * len(chunk))
                for key, blob in self._conn.execute(
                    # "+": look up by the embed_key index, not by scanning the user's turns
                    "SELECT embed_key, embedding FROM turns WHERE +tenant=? AND +user_id=? "
                    f"AND embed_key IN ({marks}) GROUP BY embed_key",
                    (scope.tenant, scope.user_id, *chunk),
                ):
                    out[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
        return out

    def list_turns(
        self,
        scope: UserScope,
        *,
        session_id: str | None = None,
        after: tuple[int, int] | None = None,
        limit: int = 100,
    ) -> list[Turn]:
        where, params = scope_where(scope)
        sql = f"SELECT {TURN_COLUMNS} FROM turns WHERE {where}"
        if session_id is not None:
            sql += " AND session_id=?"
            params.append(session_id)
        if after is not None:
            sql += " AND (ts > ? OR (ts = ? AND seq > ?))"
            params += [after[0], after[0], after[1]]
        sql += " ORDER BY ts, seq LIMIT ?"
        params.append(limit)
        with self._lock:
            return [turn_from_row(row) for row in self._conn.execute(sql, params)]

    def speaker_names(self, scope: UserScope) -> frozenset[str]:
        key = (scope.tenant, scope.user_id)
        with self._lock:
            self._sync_caches()
            if key not in self._speakers:
                self._speakers[key] = frozenset(
                    row[0]
                    for row in self._conn.execute(
                        "SELECT DISTINCT name FROM turns WHERE tenant=? AND user_id=? AND name IS NOT NULL", key
                    )
                )
            return self._speakers[key]

    def recent_turns(self, scope: UserScope, session_id: str, *, until: datetime, limit: int) -> list[Turn]:
        where, params = scope_where(scope)
        sql = f"SELECT {TURN_COLUMNS} FROM turns WHERE {where} AND session_id=? AND ts <= ?"
        params += [session_id, to_micros(until)]
        sql += " ORDER BY ts DESC, seq DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            return [turn_from_row(row) for row in self._conn.execute(sql, params)]

    def vector_search(
        self,
        scope: UserScope,
        vector: np.ndarray,
        *,
        filters: SearchFilters,
        until: datetime,
        limit: int,
    ) -> list[Candidate]:
        with self._lock:
            self._sync_caches()
            index = self._scope_vectors(scope.tenant, scope.user_id)
            allowed = None
            if scope.agent_id is not None or filters.session_ids or filters.roles or filters.metadata:
                where, params = filter_sql(scope, filters, until)
                allowed = np.array(
                    [
                        row[0]
                        for row in self._conn.execute(
                            f"SELECT t.seq FROM turns t WHERE {where} ORDER BY t.seq", params
                        )
                    ],
                    dtype=np.int64,
                )
            found = index.search(
                vector,
                limit,
                until=to_micros(until if filters.until is None else min(until, filters.until)),
                since=to_micros(filters.since) if filters.since else None,
                allowed=allowed,
                include_archived=filters.include_archived,
            )
            turns = self._fetch_by_seqs([seq for seq, _ in found])
        return [Candidate(turns[seq], score) for seq, score in found if seq in turns]

    def build_vector_index(self, tenant: str, user_id: str, *, wait: bool = True) -> bool:
        """Load a user's vectors now, and start building their HNSW graph if they have enough.

        Searches build both on first need (the graph in the background, exact search
        answering meanwhile); this does it ahead, e.g. when a server starts. With ``wait``
        it returns once the graph is built, holding the store meanwhile. Returns whether
        the graph is in use.
        """
        with self._lock:
            self._sync_caches()
            return self._scope_vectors(tenant, user_id).build_index(wait=wait)

    def vector_scores(self, scope: UserScope, turns: Sequence[Turn], vector: np.ndarray) -> dict[str, float]:
        """Cosine of ``vector`` to each turn's vector; archived turns are left out."""
        with self._lock:
            self._sync_caches()
            index = self._scope_vectors(scope.tenant, scope.user_id)
            seqs = np.array([t.seq for t in turns], dtype=np.int64)
            rows = np.searchsorted(index.seqs, seqs)
            rows = np.minimum(rows, max(len(index) - 1, 0))
            out: dict[str, float] = {}
            if len(index) == 0:
                return out
            found = (index.seqs[rows] == seqs) & index.active[rows]
            scores = index.matrix[rows[found]] @ vector.astype(np.float32)
            for turn, score in zip(
                [t for t, ok in zip(turns, found, strict=True) if ok], scores, strict=True
            ):
                out[turn.id] = float(score)
        return out

    def adjacent_turns(self, scope: UserScope, turn: Turn, *, before: int = 1, after: int = 1) -> list[Turn]:
        """The turns said just before and after ``turn`` in its session, in time order."""
        ts = to_micros(turn.timestamp)
        base = f"SELECT {TURN_COLUMNS} FROM turns WHERE tenant=? AND user_id=? AND session_id=? AND archived_at IS NULL"
        params = (scope.tenant, scope.user_id, turn.session_id, ts, ts, turn.seq)
        with self._lock:
            earlier = self._conn.execute(
                base + " AND (ts < ? OR (ts = ? AND seq < ?)) ORDER BY ts DESC, seq DESC LIMIT ?",
                (*params, before),
            ).fetchall()
            later = self._conn.execute(
                base + " AND (ts > ? OR (ts = ? AND seq > ?)) ORDER BY ts, seq LIMIT ?", (*params, after)
            ).fetchall()
        return [turn_from_row(row) for row in reversed(earlier)] + [turn_from_row(row) for row in later]

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
            embedding_model=self.embedding_model,
            path=self.path,
            by_role=by_role,
        )

    def close(self) -> None:
        with self._lock:
            self._vectors.clear()
            self._conn.close()

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """Placeholder for the unit of work (the store hardening implements it); unused here."""
        raise NotImplementedError("SQLiteStore.atomic() comes with the store hardening branch")

    # -- internals -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _derived_write(self) -> Iterator[None]:
        """Hold the lock for a write of derived state (facts, episodes, counters, links).

        Turns are committed with the store's ``synchronous`` level (FULL by default: they
        survive a power cut). Derived state can always be rebuilt from the turns (the
        per-user watermark stays behind it), so its commits skip the fsync: still safe when
        the process crashes, up to a second of it lost if the machine loses power.
        """
        with self._lock:
            if self._synchronous == "NORMAL":
                yield
                return
            self._conn.execute("PRAGMA synchronous=NORMAL")
            try:
                yield
            finally:
                self._conn.execute(f"PRAGMA synchronous={self._synchronous}")

    def _read_data_version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def _sync_caches(self) -> None:
        """Drop derived vector indexes when another connection has written to the file."""
        version = self._read_data_version()
        if version != self._data_version:
            self._vectors.clear()
            self._turn_counts.clear()
            self._speakers.clear()
            self._episode_vectors.clear()
            self._data_version = version

    def _scope_vectors(self, tenant: str, user_id: str) -> ScopeVectors:
        key = (tenant, user_id)
        index = self._vectors.get(key)
        if index is None:
            dim = self._model[1] if self._model else 0
            index = ScopeVectors(dim, self.hnsw_threshold)
            # By seq, in chunks into a buffer of the final size: a copy of every vector at once,
            # or SQLite sorting the rows with their vectors, would triple the memory it takes.
            seqs = [
                row[0]
                for row in self._conn.execute(
                    "SELECT seq FROM turns WHERE tenant=? AND user_id=? ORDER BY seq", key
                )
            ]
            index.reserve(len(seqs))
            for chunk in chunks(seqs):
                rows = self._conn.execute(
                    "SELECT seq, ts, embedding, archived_at IS NULL FROM turns "
                    f"WHERE seq IN ({','.join('?' * len(chunk))}) AND embedding IS NOT NULL ORDER BY seq",
                    chunk,
                ).fetchall()
                if rows:
                    index.append(
                        np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                        np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
                        np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), dim),
                        np.fromiter((bool(r[3]) for r in rows), dtype=bool, count=len(rows)),
                    )
            self._vectors[key] = index
        return index

    def _append_vectors(
        self, stored: dict[str, Turn], inserted: list[str], vectors: dict[str, np.ndarray]
    ) -> None:
        by_scope: dict[tuple[str, str], list[Turn]] = {}
        for turn_id in inserted:
            turn = stored[turn_id]
            by_scope.setdefault((turn.scope.tenant, turn.scope.user_id), []).append(turn)
        for key, turns in by_scope.items():
            index = self._vectors.get(key)
            if index is None:
                continue  # built from the file on first search
            index.append(
                np.array([t.seq for t in turns], dtype=np.int64),
                np.array([to_micros(t.timestamp) for t in turns], dtype=np.int64),
                np.stack([vectors[t.id] for t in turns]),
            )

    def _fetch_by_ids(self, tenant: str, ids: Sequence[str]) -> list[Turn]:
        out: list[Turn] = []
        for chunk in chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            out.extend(
                turn_from_row(row)
                for row in self._conn.execute(
                    f"SELECT {TURN_COLUMNS} FROM turns WHERE tenant=? AND id IN ({marks})", (tenant, *chunk)
                )
            )
        return out

    def _fetch_by_seqs(self, seqs: Sequence[int]) -> dict[int, Turn]:
        out: dict[int, Turn] = {}
        for chunk in chunks(list(seqs)):
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(f"SELECT {TURN_COLUMNS} FROM turns WHERE seq IN ({marks})", chunk):
                out[row[0]] = turn_from_row(row)
        return out


_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def _rederived_id(turn_id: str, tenant: str, user_id: str) -> str:
    """The id a turn is stored under when its own id belongs to someone else."""
    digest = hashlib.sha256(f"{tenant}\x00{user_id}\x00{turn_id}".encode()).hexdigest()
    return "t_" + digest[:20]


__all__ = ["SQLiteStore", "match_expression", "scope_key", "scope_where"]
