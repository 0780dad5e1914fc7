"""PostgresStore: turns, full-text postings and pgvector vectors in one PostgreSQL database.

The same protocol as the SQLite store (:mod:`engram.store.base`), for many processes on many
machines sharing one database: no process-local state that another worker's writes could make
stale (no cached vectors, counts or speaker names; full-text term counts are kept only while
the tenant's index version, read on every search, is unchanged); idempotency by the primary key
``(tenant, user_id, id)`` (a retried or concurrent insert of the same turn stores it once);
and a user's inserts are serialised (a transaction-scoped advisory lock per user), so that a
user's ``seq`` order is the order their turns became visible and a watermark never skips a
turn another worker had not committed yet.

Turn ids are unique per user (the primary key; a tenant-sharded cluster cannot enforce more
without a cross-shard lookup): a turn id another tenant or user has is no collision here.

Full-text search is BM25 as FTS5 computes it (:mod:`engram.store.postgres.fulltext`); vector
search and the rest are in :mod:`engram.store.postgres.search`,
:mod:`engram.store.postgres.lifecycle`, :mod:`engram.store.postgres.state` and
:mod:`engram.store.postgres.browsing`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from engram.errors import EmbedderMismatchError, EngramError, StoreError, StoreReadOnlyError
from engram.model import NewTurn, SearchFilters, Turn
from engram.model.timeutil import to_micros
from engram.store.base import TurnChunks, TurnNotes, UserScope
from engram.store.postgres.browsing import BrowsingMixin
from engram.store.postgres.connection import Database, map_error, maps_errors, redacted
from engram.store.postgres.fulltext import TOKENIZER, TURN_WEIGHTS, Query, TermCounts, candidates_sql
from engram.store.postgres.lifecycle import LifecycleMixin
from engram.store.postgres.schema import MIGRATION_LOCK, check_readable, migrate
from engram.store.postgres.search import SearchMixin
from engram.store.postgres.sql import TURN_COLUMNS, filter_sql, scope_where, turn_from_row, vector_value
from engram.store.postgres.state import StateMixin

#: Turns per user above which vector search uses the HNSW index (exact below it).
HNSW_THRESHOLD = 20_000


@maps_errors
class PostgresStore(SearchMixin, LifecycleMixin, StateMixin, BrowsingMixin):
    """The PostgreSQL store. Thread-safe; any number of processes may share one database.

    Args:
        url: a ``postgresql://`` URL (libpq's keywords in its query string work too).
        min_connections: connections the pool keeps open.
        max_connections: connections the pool may open (per process).
        timeout: seconds to wait for a connection (or a lock) before
            :class:`~engram.errors.StoreBusyError`.
        hnsw_threshold: turns per user above which vector search uses the HNSW index.
        ef_search: candidates the HNSW index scan keeps (pgvector's ``hnsw.ef_search``).
    """

    def __init__(
        self,
        url: str,
        *,
        min_connections: int = 1,
        max_connections: int = 8,
        timeout: float = 30.0,
        hnsw_threshold: int = HNSW_THRESHOLD,
        ef_search: int = 100,
    ) -> None:
        from engram.errors import require

        for module in ("psycopg", "psycopg_pool", "pgvector"):
            require(module, feature="the PostgreSQL store", extra="postgres")
        import psycopg

        self.url = url
        self.location = self.path = redacted(url)
        self.read_only = False
        self.hnsw_threshold = hnsw_threshold
        self.ef_search = ef_search
        self.timeout = timeout
        self._term_counts = TermCounts()
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout))) as conn:
                self.read_only = _read_only_server(conn)
                if self.read_only:
                    check_readable(conn, self.location)
                else:
                    migrate(conn, self.location)
        except EngramError:
            raise
        except psycopg.Error as exc:
            raise map_error(exc, self.location) from exc
        try:
            self._db = Database(
                url, self.location, min_size=min_connections, max_size=max_connections, timeout=timeout
            )
        except Exception as exc:
            raise map_error(exc, self.location) from exc
        self._model: tuple[str, int] | None = self._stored_model()
        if self._model is not None and not self.read_only:
            with self._db.connection() as conn:  # a store bound before migration 0002 lacks the chunks'
                missing = conn.execute("SELECT to_regclass('turn_chunks_embedding') IS NULL").fetchone()[0]
            if missing:
                with self._db.atomic() as conn:  # workers starting at once: one makes it
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                    self._create_vector_indexes(conn, self._model[1])

    # -- embedder binding ------------------------------------------------------------------

    def _stored_model(self) -> tuple[str, int] | None:
        with self._db.connection() as conn:
            row = conn.execute("SELECT value FROM engram_meta WHERE key='embedding_model'").fetchone()
        if not row:
            return None
        model = json.loads(row[0])
        return (model["id"], int(model["dim"]))

    def bind_embedder(self, model_id: str, dim: int) -> None:
        if self._model is None and self.read_only:
            self._model = (model_id, dim)  # nothing to search yet, and nothing may be written
        if self._model is None:
            value = json.dumps({"id": model_id, "dim": dim})
            with self._db.atomic() as conn:
                conn.execute(
                    "INSERT INTO engram_meta(key, value) VALUES ('embedding_model', %s) ON CONFLICT DO NOTHING",
                    (value,),
                )
                stored = json.loads(
                    conn.execute("SELECT value FROM engram_meta WHERE key='embedding_model'").fetchone()[0]
                )
                self._model = (stored["id"], int(stored["dim"]))
                if self._model == (model_id, dim):
                    self._create_vector_indexes(conn, dim)
        if self._model != (model_id, dim):
            raise EmbedderMismatchError(
                f"{self.location} holds vectors of model {self._model[0]!r} ({self._model[1]}-d) but "
                f"the configured embedder is {model_id!r} ({dim}-d). Use the same embedder, or "
                "export the store and import it into a new one with the new embedder."
            )

    @staticmethod
    def _create_vector_indexes(conn: Any, dim: int) -> None:
        """HNSW indexes over the vectors, once their size is known (inner product: unit vectors)."""
        for table in ("turns", "turn_chunks"):
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {table}_embedding ON {table} "
                f"USING hnsw ((embedding::vector({dim})) vector_ip_ops)"
            )

    @property
    def embedding_model(self) -> str | None:
        """The model id the store's vectors were made with, once known."""
        return self._model[0] if self._model else None

    @property
    def embedding_dim(self) -> int | None:
        """The length of the store's vectors, once known."""
        return self._model[1] if self._model else None

    # -- transactions ------------------------------------------------------------------------

    @contextlib.contextmanager
    def atomic(self, *, durable: bool = True) -> Iterator[None]:
        """A unit of work: the writes inside commit together or not at all (nested: a savepoint).

        On an error everything inside is rolled back and the original error re-raised, a
        psycopg error mapped onto :class:`~engram.errors.StoreError`'s tree. Calls on this
        thread inside it share its connection. ``durable=False`` commits without waiting for
        the WAL flush (derived state); the outermost level decides.
        """
        if self.read_only:
            raise StoreReadOnlyError(
                f"the store {self.location} is a read-only server (a standby, or read-only "
                "transactions by default): searches work; connect to the primary to write"
            )
        try:
            with self._db.atomic(durable=durable):
                yield
        except Exception as exc:
            if isinstance(exc, EngramError) or not _backend_error(exc):
                raise
            raise map_error(exc, self.location) from exc

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
        """See :meth:`engram.store.base.Store.insert_turns`."""
        if self._model is None:
            raise StoreError("bind_embedder must be called before turns are inserted")
        if len({turn.scope.tenant for turn in turns}) > 1:
            raise StoreError("one insert_turns call writes to one tenant")
        recorded = to_micros(recorded_at)
        given: Sequence[TurnNotes | None] = notes if notes is not None else [None] * len(turns)
        postings = TOKENIZER.postings(
            [(turn.content, turn.name, note.keys if note else None) for turn, note in zip(turns, given, strict=True)],
            TURN_WEIGHTS,
        )
        owners = sorted({(turn.scope.tenant, turn.scope.user_id) for turn in turns})
        inserted: set[tuple[str, str, str]] = set()
        parts: list[tuple[Any, ...]] = []
        given_chunks = [*(chunks or []), *[None] * len(turns)][: len(turns)]
        with self._db.atomic() as conn:
            for tenant, user_id in owners:  # in one order: two writers never wait on each other in a cycle
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", (tenant, user_id))
            for turn, vector, key, note, post, chunk in zip(
                turns, vectors, keys, given, postings, given_chunks, strict=True
            ):
                row = conn.execute(
                    "INSERT INTO turns(tenant, user_id, id, agent_id, session_id, role, name, content, content_hash, "
                    "ts, recorded_at, metadata, embed_key, embedding, keys, importance, fts_terms, fts_freqs, fts_len) "
                    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                    "ON CONFLICT (tenant, user_id, id) DO NOTHING RETURNING seq",
                    (
                        turn.scope.tenant, turn.scope.user_id, turn.id, turn.scope.agent_id, turn.scope.session_id,
                        turn.role, turn.name, turn.content, turn.content_hash, to_micros(turn.timestamp),
                        to_micros(turn.recorded_at) if turn.recorded_at else recorded,
                        json.dumps(dict(turn.metadata), ensure_ascii=False, separators=(",", ":")),
                        key, vector_value(vector), note.keys if note else None, note.importance if note else 0.5,
                        post.terms, post.freqs, post.length,
                    ),
                ).fetchone()  # fmt: skip
                if row is not None:
                    inserted.add((turn.scope.tenant, turn.scope.user_id, turn.id))
                    if chunk is not None:
                        parts += [
                            (turn.scope.tenant, turn.scope.user_id, row[0], part, window, vector_value(vec))
                            for part, (window, vec) in enumerate(zip(chunk.keys, chunk.vectors, strict=True), 1)
                        ]
            if parts:
                conn.cursor().executemany(
                    "INSERT INTO turn_chunks(tenant, user_id, seq, part, embed_key, embedding) VALUES (%s,%s,%s,%s,%s,%s)",
                    parts,
                )
            stored: dict[tuple[str, str, str], Turn] = {}
            for tenant, user_id in owners:
                ids = [t.id for t in turns if (t.scope.tenant, t.scope.user_id) == (tenant, user_id)]
                for found in self._fetch(conn, tenant, user_id, ids):
                    stored[(tenant, user_id, found.id)] = found
        out = []
        for turn in turns:
            key3 = (turn.scope.tenant, turn.scope.user_id, turn.id)
            out.append((stored[key3], key3 in inserted))
        return out

    @staticmethod
    def _fetch(conn: Any, tenant: str, user_id: str, ids: Sequence[str]) -> list[Turn]:
        rows = conn.execute(
            f"SELECT {TURN_COLUMNS} FROM turns WHERE tenant=%s AND user_id=%s AND id = ANY(%s)",
            (tenant, user_id, list(ids)),
        ).fetchall()
        return [turn_from_row(row) for row in rows]

    # -- reads -----------------------------------------------------------------------------

    def get_turns(
        self,
        scope: UserScope,
        ids: Sequence[str],
        *,
        filters: SearchFilters | None = None,
        until: datetime | None = None,
    ) -> list[Turn]:
        if filters is not None or until is not None:
            where, params = filter_sql(scope, filters or SearchFilters(), until or datetime.max.replace(tzinfo=UTC))
        else:
            where, params = scope_where(scope, "t")
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {TURN_COLUMNS} FROM turns t WHERE {where} AND t.id = ANY(%s)",
                [*params, list(dict.fromkeys(ids))],
            ).fetchall()
        return [turn_from_row(row) for row in rows]

    def cached_vectors(self, scope: UserScope, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        out: dict[bytes, np.ndarray] = {}
        wanted = (scope.tenant, scope.user_id, list(dict.fromkeys(keys)))
        with self._db.connection() as conn:
            for key, vector in conn.execute(
                "SELECT DISTINCT ON (embed_key) embed_key, embedding FROM (SELECT embed_key, embedding FROM turns "
                "WHERE tenant=%s AND user_id=%s AND embed_key = ANY(%s) AND embedding IS NOT NULL UNION ALL "
                "SELECT embed_key, embedding FROM turn_chunks WHERE tenant=%s AND user_id=%s AND embed_key = ANY(%s)) v",
                (*wanted, *wanted),
            ):
                out[bytes(key)] = np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)
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
            sql += " AND session_id=%s"
            params.append(session_id)
        if after is not None:
            sql += " AND (ts, seq) > (%s, %s)"
            params += [after[0], after[1]]
        sql += " ORDER BY ts, seq LIMIT %s"
        params.append(limit)
        with self._db.connection() as conn:
            return [turn_from_row(row) for row in conn.execute(sql, params)]

    def text_count(self, scope: UserScope, terms: Sequence[str]) -> int:
        query = Query.of(terms)
        if not query.tokens:
            return 0
        condition, params = candidates_sql(query, (), "t")
        sql = f"SELECT count(*) FROM turns t WHERE t.tenant = %s AND t.user_id = %s AND {condition}"
        with self._db.connection() as conn:
            row = conn.execute(sql, [scope.tenant, scope.user_id, *params]).fetchone()
        return int(row[0])

    def speaker_names(self, scope: UserScope) -> frozenset[str]:
        with self._db.connection() as conn:
            rows = conn.execute(_SPEAKERS, (scope.tenant, scope.user_id) * 2).fetchall()
        return frozenset(row[0] for row in rows)

    def recent_turns(self, scope: UserScope, session_id: str, *, until: datetime, limit: int) -> list[Turn]:
        where, params = scope_where(scope)
        sql = f"SELECT {TURN_COLUMNS} FROM turns WHERE {where} AND session_id=%s AND ts <= %s ORDER BY ts DESC, seq DESC LIMIT %s"
        with self._db.connection() as conn:
            return [turn_from_row(row) for row in conn.execute(sql, [*params, session_id, to_micros(until), limit])]

    def adjacent_turns(self, scope: UserScope, turn: Turn, *, before: int = 1, after: int = 1) -> list[Turn]:
        ts = to_micros(turn.timestamp)
        base = (
            f"SELECT {TURN_COLUMNS} FROM turns WHERE tenant=%s AND user_id=%s AND session_id=%s AND archived_at IS NULL"
        )
        params = (scope.tenant, scope.user_id, turn.session_id, ts, turn.seq)
        with self._db.connection() as conn:
            earlier = conn.execute(base + " AND (ts, seq) < (%s, %s) ORDER BY ts DESC, seq DESC LIMIT %s", (*params, before)).fetchall()
            later = conn.execute(base + " AND (ts, seq) > (%s, %s) ORDER BY ts, seq LIMIT %s", (*params, after)).fetchall()
        return [turn_from_row(row) for row in reversed(earlier)] + [turn_from_row(row) for row in later]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: A user's distinct speaker names, one index probe per name (a loose scan of ``turns_user_name``)
#: rather than a read of every turn: nothing is cached, so another worker's new speaker is seen.
_SPEAKERS = (
    "WITH RECURSIVE names(name) AS ((SELECT name FROM turns WHERE tenant=%s AND user_id=%s AND name IS NOT NULL "
    "ORDER BY name LIMIT 1) UNION ALL SELECT (SELECT t.name FROM turns t WHERE t.tenant=%s AND t.user_id=%s "
    "AND t.name > names.name ORDER BY t.name LIMIT 1) FROM names WHERE names.name IS NOT NULL) "
    "SELECT name FROM names WHERE name IS NOT NULL"
)


def _read_only_server(conn: Any) -> bool:
    """Whether this connection's server (a standby) or session (read-only by default) refuses writes."""
    row = conn.execute("SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')").fetchone()
    return bool(row[0]) or row[1] == "on"


def _backend_error(exc: BaseException) -> bool:
    import psycopg
    import psycopg_pool

    return isinstance(exc, psycopg.Error | psycopg_pool.PoolTimeout)


__all__ = ["HNSW_THRESHOLD", "PostgresStore"]
