"""The SQLite store's vector search: an in-memory index per user, rebuilt from the file on demand.

A mixin of :class:`~engram.store.sqlite.store.SQLiteStore`: it shares the store's connection,
lock and caches. Each user's vectors are loaded once into a :class:`~engram.store.vectors.ScopeVectors`
(exact search, then HNSW above a size), kept up to date by the store's own inserts, dropped
when another connection writes (``_sync_caches``), and evicted least recently used first when
the loaded users' indexes exceed the store's budget
(:class:`~engram.store.vector_cache.VectorCache`). A search finds seqs in the index; its
matches come from the index itself (id, role, speaker and time are kept beside the vectors),
whole turns from their rows, always within the user's scope.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from engram.model import SearchFilters, Turn
from engram.model.timeutil import from_micros, to_micros
from engram.store.base import Candidate, Match, TurnChunks, UserScope
from engram.store.sqlite.sql import (
    TURN_COLUMNS,
    chunks,
    filter_sql,
    turn_from_row,
)
from engram.store.vector_cache import VectorCache
from engram.store.vectors import ScopeVectors


class VectorSearchMixin:
    """Vector search over turns for :class:`SQLiteStore`."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    _vectors: VectorCache[tuple[str, str]]
    _model: tuple[str, int] | None
    hnsw_threshold: int
    _sync_caches: Callable[[], None]

    def vector_search(
        self,
        scope: UserScope,
        vector: np.ndarray,
        *,
        filters: SearchFilters,
        until: datetime,
        limit: int,
    ) -> list[Candidate]:
        """The ``limit`` turns nearest ``vector`` (cosine) that pass ``filters``, best first."""
        rows = self._nearest(scope, vector, filters, until, limit, TURN_COLUMNS)
        return [Candidate(turn_from_row(row), score) for row, score in rows]

    def vector_matches(
        self,
        scope: UserScope,
        vector: np.ndarray,
        *,
        filters: SearchFilters,
        until: datetime,
        limit: int,
    ) -> list[Match]:
        """:meth:`vector_search`'s ranking as light matches: no turn is built, and no row read
        (the index keeps what a match says of a turn beside its vectors)."""
        with self._lock:
            index, found = self._found(scope, vector, filters, until, limit)
            described = index.describe([seq for seq, _ in found])
        return [
            Match(turn_id, score, role, name, from_micros(ts))
            for (turn_id, role, name, ts), (_, score) in zip(described, found, strict=True)
        ]

    def _nearest(
        self, scope: UserScope, vector: np.ndarray, filters: SearchFilters, until: datetime, limit: int, columns: str
    ) -> list[tuple[tuple[Any, ...], float]]:
        """Rows of ``columns`` (seq first) of the nearest turns with their cosines, best first."""
        with self._lock:
            _, found = self._found(scope, vector, filters, until, limit)
            rows = self._rows_by_seq(scope, [seq for seq, _ in found], columns)
        return [(rows[seq], score) for seq, score in found if seq in rows]

    def _found(
        self, scope: UserScope, vector: np.ndarray, filters: SearchFilters, until: datetime, limit: int
    ) -> tuple[ScopeVectors, list[tuple[int, float]]]:
        """The user's index, and the seqs of the nearest turns that pass ``filters`` with their
        cosines, best first. Call with the lock held."""
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
        return index, found

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
        """Cosine of ``vector`` to each turn's vector (a long turn's best chunk when better);
        archived turns are left out."""
        with self._lock:
            self._sync_caches()
            index = self._scope_vectors(scope.tenant, scope.user_id)
            best = index.best_scores(np.array([t.seq for t in turns], dtype=np.int64), vector)
        return {turn.id: best[turn.seq] for turn in turns if turn.seq in best}

    def _scope_vectors(self, tenant: str, user_id: str) -> ScopeVectors:
        key = (tenant, user_id)
        index = self._vectors.use(key)  # counts its size again: its HNSW graph, or rows appended, grow it
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
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    "SELECT seq, ts, embedding, archived_at IS NULL, id, role, name FROM turns WHERE tenant=? AND user_id=? "
                    f"AND seq IN ({marks}) AND embedding IS NOT NULL ORDER BY seq",
                    (*key, *chunk),
                ).fetchall()
                if rows:
                    parts = self._conn.execute(
                        f"SELECT seq, embedding FROM turn_chunks WHERE seq IN ({marks}) ORDER BY seq, part", chunk
                    ).fetchall()
                    index.append(*_with_chunk_rows(rows, parts, dim))
            self._vectors[key] = index
        return index

    def _append_vectors(
        self,
        stored: dict[str, Turn],
        inserted: list[str],
        vectors: dict[str, np.ndarray],
        parts: dict[str, TurnChunks],
    ) -> None:
        by_scope: dict[tuple[str, str], list[Turn]] = {}
        for turn_id in inserted:
            turn = stored[turn_id]
            by_scope.setdefault((turn.scope.tenant, turn.scope.user_id), []).append(turn)
        for key, turns in by_scope.items():
            index = self._vectors.get(key)
            if index is None:
                continue  # built from the file on first search
            counts = [1 + (len(parts[t.id].keys) if t.id in parts else 0) for t in turns]
            index.append(
                np.repeat(np.array([t.seq for t in turns], dtype=np.int64), counts),
                np.repeat(np.array([to_micros(t.timestamp) for t in turns], dtype=np.int64), counts),
                np.concatenate(
                    [np.vstack([vectors[t.id], *([parts[t.id].vectors] if t.id in parts else [])]) for t in turns]
                ),
                turns=[(t.id, t.role, t.name) for t, count in zip(turns, counts, strict=True) for _ in range(count)],
            )

    def _insert_chunk_rows(self, seq_of: dict[str, int], parts: dict[str, TurnChunks]) -> None:
        """Store the chunk vectors of the turns just inserted (their ids to their seqs)."""
        self._conn.executemany(
            "INSERT OR REPLACE INTO turn_chunks(seq, part, embed_key, embedding) VALUES (?,?,?,?)",
            [
                (seq_of[turn_id], number, key, np.ascontiguousarray(vector, dtype=np.float32).tobytes())
                for turn_id, found in parts.items()
                if turn_id in seq_of
                for number, (key, vector) in enumerate(zip(found.keys, found.vectors, strict=True), start=1)
            ],
        )

    def _cached_chunk_vectors(self, scope: UserScope, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The chunk vectors this user stored for these window keys (another user's never answer)."""
        out: dict[bytes, np.ndarray] = {}
        for chunk in chunks(list(dict.fromkeys(keys))):
            for key, blob in self._conn.execute(
                "SELECT c.embed_key, c.embedding FROM turn_chunks c JOIN turns t ON t.seq = c.seq "
                f"WHERE c.embed_key IN ({','.join('?' * len(chunk))}) AND +t.tenant=? AND +t.user_id=?",
                (*chunk, scope.tenant, scope.user_id),
            ):
                out[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
        return out

    def _rows_by_seq(self, scope: UserScope, seqs: Sequence[int], columns: str) -> dict[int, tuple[Any, ...]]:
        """Rows of ``columns`` (seq first) of the user's turns with these seqs, by seq."""
        out: dict[int, tuple[Any, ...]] = {}
        for chunk in chunks(list(seqs)):
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(
                f"SELECT {columns} FROM turns WHERE tenant=? AND user_id=? AND seq IN ({marks})",
                (scope.tenant, scope.user_id, *chunk),
            ):
                out[row[0]] = row
        return out


def _with_chunk_rows(
    rows: Sequence[tuple[Any, ...]], parts: Sequence[tuple[Any, ...]], dim: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[tuple[str, str, str | None]]]:
    """Index rows (seqs, timestamps, vectors, active, turns) of turn ``rows`` (seq, ts,
    embedding, active, id, role, name; by seq) each followed by its chunk rows of ``parts``
    (seq, embedding; in order)."""
    seqs = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    timestamps = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), dim)
    active = np.fromiter((bool(r[3]) for r in rows), dtype=bool, count=len(rows))
    turns = [(r[4], r[5], r[6]) for r in rows]
    known = set(seqs.tolist())
    parts = [p for p in parts if p[0] in known]
    if not parts:
        return seqs, timestamps, vectors, active, turns
    part_seqs = np.fromiter((p[0] for p in parts), dtype=np.int64, count=len(parts))
    owner = np.searchsorted(seqs, part_seqs)
    order = np.argsort(np.concatenate([seqs, part_seqs]), kind="stable")  # a turn, then its chunks
    part_vectors = np.frombuffer(b"".join(p[1] for p in parts), dtype=np.float32).reshape(len(parts), dim)
    every = [*turns, *(turns[row] for row in owner.tolist())]
    return (
        np.concatenate([seqs, part_seqs])[order],
        np.concatenate([timestamps, timestamps[owner]])[order],
        np.concatenate([vectors, part_vectors])[order],
        np.concatenate([active, active[owner]])[order],
        [every[row] for row in order.tolist()],
    )
