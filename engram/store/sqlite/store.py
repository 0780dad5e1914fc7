"""SQLiteStore: one file holds turns, their full-text index (FTS5) and their vectors.

WAL journal, one writer transaction per call (:meth:`SQLiteStore.atomic`): a crash mid-batch
leaves rows, full-text index and vectors in agreement and keeps every batch whose call had
returned. Vectors are searched from an in-memory per-user index (:mod:`engram.store.vectors`)
rebuilt from the file on demand and invalidated when another process writes.

Every method is bounded by the scope it is given (see :mod:`engram.store.base`): rows are
read and written by tenant and user, never by id or seq alone. Opening (create or refuse,
read-only files, concurrent first opens) is in :mod:`engram.store.sqlite.opening`; the
transaction helper and the mapping of SQLite errors onto :mod:`engram.errors` in
:mod:`engram.store.sqlite.transactions`; forgetting and scrubbing in
:mod:`engram.store.sqlite.forgetting` and :mod:`engram.store.sqlite.scrubbing`; full-text and
vector search in :mod:`engram.store.sqlite.fulltext` and :mod:`engram.store.sqlite.vectorsearch`.
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
from typing import Any

import numpy as np

from engram.errors import EmbedderMismatchError, StoreError, ValidationError
from engram.model import NewTurn, SearchFilters, Turn
from engram.model.timeutil import from_micros, to_micros
from engram.model.turn import metadata_json
from engram.store.base import TurnChunks, TurnNotes, UserScope
from engram.store.sqlite.browsing import BrowsingMixin
from engram.store.sqlite.forgetting import MemoryStateMixin
from engram.store.sqlite.fulltext import FullTextMixin
from engram.store.sqlite.keys import ApiKeysMixin
from engram.store.sqlite.lifecycle import LifecycleMixin
from engram.store.sqlite.opening import open_database
from engram.store.sqlite.postings import FULLTEXT_CACHE_MB, TermPostings
from engram.store.sqlite.scrubbing import ScrubMixin
from engram.store.sqlite.sql import (
    SQLITE_MAX_VARS,
    TURN_COLUMNS,
    chunks,
    filter_sql,
    match_expression,
    scope_key,
    scope_where,
    turn_from_row,
)
from engram.store.sqlite.transactions import maps_errors, read_only_error, transaction
from engram.store.sqlite.vectorsearch import VectorSearchMixin
from engram.store.vector_cache import VECTOR_CACHE_MB, VectorCache
from engram.store.vectors import HNSW_THRESHOLD, ScopeVectors

#: Most turns one INSERT statement writes: FTS5 writes its pending terms out after each statement,
#: and from 100 to 200 rows a statement the full-text index's work is least (1,451 LoCoMo turns).
ROWS_PER_INSERT = 128
#: Most characters of content one INSERT statement binds (SQLite copies what is bound), unless one
#: turn alone holds more: long messages (up to 1 MiB each) are written fewer a statement.
CHARS_PER_INSERT = 4 * 2**20
#: The columns insert_turns writes, in the order of its rows.
_INSERTED = (
    "id", "tenant", "user_id", "agent_id", "session_id", "scope_key", "role", "name", "content",
    "content_hash", "ts", "recorded_at", "metadata", "embed_key", "embedding", "keys", "importance",
)  # fmt: skip
_INSERTED_SQL = ", ".join(_INSERTED)
_CONTENT = _INSERTED.index("content")
_ROW_MARKS = "(" + ",".join("?" * len(_INSERTED)) + ")"


@maps_errors
class SQLiteStore(FullTextMixin, VectorSearchMixin, LifecycleMixin, MemoryStateMixin, ScrubMixin, BrowsingMixin, ApiKeysMixin):
    """The embedded store. Thread-safe; several processes may share one file.

    Args:
        path: the database file, or ``":memory:"``.
        create: create the file (and its folders) when missing; with ``False`` a missing file
            raises :class:`~engram.errors.StoreNotFoundError` and nothing is created.
        read_only: open for reading only (also chosen when the file or its folder cannot be
            written); writes raise :class:`~engram.errors.StoreReadOnlyError`.
        timeout: seconds to wait for another process's lock before
            :class:`~engram.errors.StoreBusyError`.
        scrub_wait: seconds a forget waits for readers to let the WAL be checkpointed before
            its receipt says the scrub is pending (finished later, see :meth:`finish_scrub`).
        hnsw_threshold: vectors per user above which the approximate index is used.
        vector_cache_mb: the memory budget, in MiB, of the users' vector indexes kept loaded
            (least recently searched evicted first; see :class:`~engram.store.vector_cache.VectorCache`).
        fulltext_cache_mb: the memory budget, in MiB, of the query terms' posting lists kept
            for full-text search in a large store (least recently used terms dropped first;
            0 turns that ranking off; see :mod:`engram.store.sqlite.postings`).
        synchronous: SQLite's ``synchronous`` pragma; ``FULL`` also survives power loss.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        read_only: bool = False,
        timeout: float = 30.0,
        scrub_wait: float = 5.0,
        hnsw_threshold: int = HNSW_THRESHOLD,
        vector_cache_mb: float = VECTOR_CACHE_MB,
        fulltext_cache_mb: float = FULLTEXT_CACHE_MB,
        synchronous: str = "FULL",
    ) -> None:
        self.path = str(path)
        self.location = self.path
        self.hnsw_threshold = hnsw_threshold
        self.timeout = timeout
        self.scrub_wait = scrub_wait
        self._synchronous = synchronous.upper()
        self._lock = threading.RLock()
        if vector_cache_mb < 0:
            raise ValidationError(f"vector_cache_mb must be 0 or more, not {vector_cache_mb}")
        self._vectors: VectorCache[tuple[str, str]] = VectorCache(int(vector_cache_mb * 2**20))
        if fulltext_cache_mb < 0:
            raise ValidationError(f"fulltext_cache_mb must be 0 or more, not {fulltext_cache_mb}")
        self._postings = TermPostings(int(fulltext_cache_mb * 2**20))
        self._turn_counts: dict[tuple[str, str], int] = {}  # per user, for choosing a search plan
        self._speakers: dict[tuple[str, str], frozenset[str]] = {}  # per user
        self._episode_vectors: dict[tuple[str, str], tuple[ScopeVectors, dict[int, str]]] = {}
        self._model: tuple[str, int] | None = None
        self._conn, self.read_only = open_database(
            self.path, create=create, read_only=read_only, timeout=timeout, synchronous=self._synchronous
        )
        self._data_version = self._read_data_version()
        row = self._conn.execute("SELECT value FROM engram_meta WHERE key='embedding_model'").fetchone()
        if row:
            model = json.loads(row[0])
            self._model = (model["id"], int(model["dim"]))
        self._scrub_pending = self._scrub_flagged()
        if self._scrub_pending:
            self.finish_scrub(wait=0)  # a forget of an earlier run (or process) left it to finish

    # -- embedder binding ------------------------------------------------------------------

    def bind_embedder(self, model_id: str, dim: int) -> None:
        with self._lock:
            if self._model is None and self.read_only:
                self._model = (model_id, dim)  # nothing to search yet, and nothing may be written
            if self._model is None:
                value = json.dumps({"id": model_id, "dim": dim})
                with self.atomic():
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

    @property
    def embedding_dim(self) -> int | None:
        """The length of the store's vectors, once known."""
        return self._model[1] if self._model else None

    # -- writes ----------------------------------------------------------------------------

    def insert_turns(
        self,
        turns: Sequence[NewTurn],
        vectors: np.ndarray,
        keys: Sequence[bytes],
        recorded_at: datetime,
        notes: Sequence[TurnNotes] | None = None,
        chunks: Sequence[TurnChunks | None] | None = None,
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
                metadata_json(turn.metadata),
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
        actual: list[str] = []  # the id each input turn is stored under
        stored: dict[str, Turn] = {}
        with self._lock:
            self._sync_caches()
            with self.atomic():
                placed = self._placed(rows)
                inserted = self._insert_rows([row for row, new in placed if new])
                for turn, (row, _) in zip(turns, placed, strict=True):
                    if row[0] in inserted:
                        stored[row[0]] = _as_written(turn, inserted[row[0]], row)
                    actual.append(row[0])
                parts = {turn_id: part for turn_id, part in zip(actual, chunks or [], strict=False) if part}
                self._insert_chunk_rows(inserted, parts)
            self._data_version = self._read_data_version()
            held = [turn_id for turn_id in actual if turn_id not in inserted]  # stored before: read
            owners = {(row[1], row[2]) for row in rows} if held else set()
            stored.update((turn.id, turn) for owner in owners for turn in self._fetch_by_ids(*owner, held))
            self._append_vectors(stored, list(inserted), dict(zip(actual, vectors, strict=True)), parts)
            for turn_id in inserted:
                key = (stored[turn_id].scope.tenant, stored[turn_id].scope.user_id)
                if key in self._turn_counts:
                    self._turn_counts[key] += 1
                name = stored[turn_id].name
                if key in self._speakers and name:
                    self._speakers[key] |= {name}
        new = set(inserted)
        return [(stored[turn_id], turn_id in new) for turn_id in actual]

    def _placed(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[tuple[Any, ...], bool]]:
        """Each row under the id it is stored with, and whether this call inserts it, as inserting
        the rows one by one would decide (in the caller's order, a row sees the ones before it).

        An id already stored for the same tenant and user is that turn: not inserted again. One
        stored for another tenant or user (an imported file can carry any id) gives way to an id
        derived for this owner, revealing nothing; if that one is taken by someone else too, the
        call fails.
        """
        owners = self._owners([row[0] for row in rows])
        out: list[tuple[tuple[Any, ...], bool]] = []
        for row in rows:
            owner = (row[1], row[2])
            holder = owners.get(row[0])
            if holder is not None and holder != owner:
                row = (_rederived_id(row[0], *owner), *row[1:])
                holder = owners[row[0]] if row[0] in owners else self._owner(row[0])
                if holder is not None and holder != owner:
                    raise StoreError(f"turn id {row[0]} is taken in another scope: import with new ids")
            if holder is None:
                owners[row[0]] = owner
            out.append((row, holder is None))
        return out

    def _owners(self, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """The (tenant, user) each of these turn ids is stored for, when stored."""
        out: dict[str, tuple[str, str]] = {}
        for chunk in chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            for turn_id, tenant, user_id in self._conn.execute(
                f"SELECT id, tenant, user_id FROM turns WHERE id IN ({marks})", chunk
            ):
                out[turn_id] = (tenant, user_id)
        return out

    def _insert_rows(self, rows: Sequence[tuple[Any, ...]]) -> dict[str, int]:
        """Insert the rows (their ids new), in order; their ids to their seqs, in that order.

        Many rows a statement: FTS5 writes its pending terms out at every statement that
        changes the table (its savepoint), so one statement a row wrote a segment a row and
        merged them again and again (two thirds of an insert's time). Up to
        :data:`ROWS_PER_INSERT` rows (fewer where SQLite allows fewer bound values) and
        :data:`CHARS_PER_INSERT` characters of content a statement.
        """
        bound = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(_INSERTED)
        seqs: dict[str, int] = {}
        for part in _statements(rows, max(1, min(ROWS_PER_INSERT, bound))):
            marks = ",".join([_ROW_MARKS] * len(part))
            sql = f"INSERT INTO turns({_INSERTED_SQL}) VALUES {marks} RETURNING id, seq"
            seqs.update(self._conn.execute(sql, [value for row in part for value in row]).fetchall())
        return {row[0]: seqs[row[0]] for row in rows}

    # -- reads -----------------------------------------------------------------------------

    def get_turns(
        self,
        scope: UserScope,
        ids: Sequence[str],
        *,
        filters: SearchFilters | None = None,
        until: datetime | None = None,
    ) -> list[Turn]:
        """The turns with these ids in this scope; with ``filters``, only those a search could return."""
        if filters is not None or until is not None:
            where, params = filter_sql(
                scope, filters or SearchFilters(), until or datetime.max.replace(tzinfo=UTC), by_key=True
            )
        else:
            where, params = scope_where(scope, by_key=True)
        out: list[Turn] = []
        with self._lock:
            for chunk in chunks(list(dict.fromkeys(ids)), max(SQLITE_MAX_VARS - len(params), 100)):
                sql = f"SELECT {TURN_COLUMNS} FROM turns t WHERE {where} AND t.id IN ({','.join('?' * len(chunk))})"
                out.extend(turn_from_row(row) for row in self._conn.execute(sql, [*params, *chunk]))
        return out

    def cached_vectors(self, scope: UserScope, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The vectors this user stored for these embedding-text keys (another user's never answer)."""
        out: dict[bytes, np.ndarray] = {}
        with self._lock:
            for chunk in chunks(list(dict.fromkeys(keys))):
                marks = ",".join("?" * len(chunk))
                for key, blob in self._conn.execute(
                    # "+": look up by the embed_key index, not by scanning the user's turns
                    "SELECT embed_key, embedding FROM turns WHERE +tenant=? AND +user_id=? "
                    f"AND embed_key IN ({marks}) AND embedding IS NOT NULL GROUP BY embed_key",
                    (scope.tenant, scope.user_id, *chunk),
                ):
                    out[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
            missing = [key for key in keys if key not in out]
            out.update(self._cached_chunk_vectors(scope, missing) if missing else {})
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

    def close(self) -> None:
        with self._lock:
            if self._scrub_pending:
                self.finish_scrub(wait=0)
            self._vectors.clear()
            self._conn.close()

    # -- transactions ------------------------------------------------------------------------

    @contextlib.contextmanager
    def atomic(self, *, durable: bool = True) -> Iterator[None]:
        """A unit of work: the writes inside commit together or not at all (nested: a savepoint).

        On an error everything inside is rolled back and the original error re-raised, an
        SQLite error mapped onto :class:`~engram.errors.StoreError`'s tree. Holds the store's
        lock throughout. A forget's scrub left pending (by this or another process) is
        retried once the transaction has committed.

        Args:
            durable: ``False`` for derived state (facts, episodes, counters, links), which can
                always be rebuilt from the turns (the per-user watermark stays behind it): its
                commit skips the fsync (``synchronous=NORMAL``), still safe when the process
                crashes, up to a second of it lost if the machine loses power. Turns are
                committed with the store's ``synchronous`` level (FULL by default). The
                outermost level decides.
        """
        with self._lock:
            if self.read_only:
                raise read_only_error(self.location)
            outer = not self._conn.in_transaction
            relaxed = outer and not durable and self._synchronous != "NORMAL"
            if relaxed:
                self._conn.execute("PRAGMA synchronous=NORMAL")
            try:
                with transaction(self._conn, self.location):
                    yield
                    if outer and not self._scrub_pending:
                        self._scrub_pending = self._scrub_flagged()  # another process's forget
            except BaseException:
                if outer:  # the caches may hold what was rolled back (a turn's vectors, its count)
                    self._drop_caches()
                raise
            finally:
                if relaxed:
                    self._conn.execute(f"PRAGMA synchronous={self._synchronous}")
            if outer and self._scrub_pending:
                self.finish_scrub(wait=0)

    # -- internals -------------------------------------------------------------------------

    def _read_data_version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def _sync_caches(self) -> None:
        """Drop derived vector indexes when another connection has written to the file."""
        version = self._read_data_version()
        if version != self._data_version:
            self._drop_caches()
            self._data_version = version

    def _drop_caches(self) -> None:
        """Drop what is derived from the file's rows (rebuilt from them on next need)."""
        self._vectors.clear()
        self._turn_counts.clear()
        self._speakers.clear()
        self._episode_vectors.clear()

    def _owner(self, turn_id: str) -> tuple[str, str] | None:
        row = self._conn.execute("SELECT tenant, user_id FROM turns WHERE id=?", (turn_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def _fetch_by_ids(self, tenant: str, user_id: str, ids: Sequence[str]) -> list[Turn]:
        out: list[Turn] = []
        for chunk in chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            out.extend(
                turn_from_row(row)
                for row in self._conn.execute(
                    f"SELECT {TURN_COLUMNS} FROM turns WHERE +tenant=? AND +user_id=? AND id IN ({marks})",
                    (tenant, user_id, *chunk),
                )
            )
        return out


def _statements(rows: Sequence[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    """``rows`` in order, in parts of at most ``size`` rows and :data:`CHARS_PER_INSERT` characters
    of content (a row holding more alone is a part of its own)."""
    part: list[tuple[Any, ...]] = []
    held = 0
    for row in rows:
        if part and (len(part) == size or held + len(row[_CONTENT]) > CHARS_PER_INSERT):
            yield part
            part, held = [], 0
        part.append(row)
        held += len(row[_CONTENT])
    if part:
        yield part


def _as_written(turn: NewTurn, seq: int, row: tuple[Any, ...]) -> Turn:
    """What a read of the turn's row just written gives (:func:`turn_from_row`), from the values in
    hand: the row's id (the turn's, or one derived again), times and metadata as written, and the
    turn's own scope and texts, which the row holds as they are."""
    return Turn(
        id=row[0],
        scope=turn.scope,
        role=turn.role,
        content=turn.content,
        timestamp=from_micros(row[10]),
        recorded_at=from_micros(row[11]),
        content_hash=turn.content_hash,
        name=turn.name,
        metadata=json.loads(row[12]),
        seq=seq,
    )


def _rederived_id(turn_id: str, tenant: str, user_id: str) -> str:
    """The id a turn is stored under when its own id belongs to someone else."""
    digest = hashlib.sha256(f"{tenant}\x00{user_id}\x00{turn_id}".encode()).hexdigest()
    return "t_" + digest[:20]


__all__ = ["SQLiteStore", "match_expression", "scope_key", "scope_where"]
