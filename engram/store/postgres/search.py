"""The PostgreSQL store's searches over turns: BM25 (see :mod:`engram.store.postgres.fulltext`)
and vectors (pgvector).

Vectors are unit length, so the score is their inner product (the SQLite store's cosine).
A user with fewer than ``hnsw_threshold`` turns is searched exactly: every vector of the
user is scored (through the ``(tenant, user_id, ...)`` indexes), the SQLite store's ranking.
A larger user is searched through the HNSW index with pgvector's iterative scan
(``hnsw.iterative_scan = relaxed_order``): the index is walked until enough rows pass the
tenant, user and filter conditions, so a big tenant never crowds a small one out of the
candidates; the candidates are then ordered by their exact scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from engram.model import SearchFilters, Turn
from engram.store.base import Candidate, Match, UserScope
from engram.store.postgres.connection import Database
from engram.store.postgres.fulltext import TermCounts, bm25_rows
from engram.store.postgres.sql import (
    MATCH_COLUMNS,
    TURN_COLUMNS,
    filter_sql,
    match_from_row,
    prefixed,
    turn_from_row,
    vector_value,
)


class SearchMixin:
    """Full-text and vector search over turns for :class:`PostgresStore`."""

    _db: Database
    _model: tuple[str, int] | None
    _term_counts: TermCounts
    hnsw_threshold: int
    ef_search: int

    def text_search(
        self, scope: UserScope, terms: Sequence[str], *, filters: SearchFilters, until: datetime, limit: int
    ) -> list[Candidate]:
        rows = self._text_rows(scope, terms, filters, until, limit, TURN_COLUMNS)
        return [Candidate(turn_from_row(row[:-1]), float(row[-1])) for row in rows]

    def text_matches(
        self, scope: UserScope, terms: Sequence[str], *, filters: SearchFilters, until: datetime, limit: int
    ) -> list[Match]:
        rows = self._text_rows(scope, terms, filters, until, limit, MATCH_COLUMNS)
        return [match_from_row(row[:-1], float(row[-1])) for row in rows]

    def _text_rows(
        self, scope: UserScope, terms: Sequence[str], filters: SearchFilters, until: datetime, limit: int, columns: str
    ) -> list[tuple[Any, ...]]:
        where, params = filter_sql(scope, filters, until)
        with self._db.connection() as conn:
            return bm25_rows(
                conn, "turns", "turn", scope.tenant, terms, where, params, prefixed(columns, "t"), limit, "t",
                self._term_counts,
            )  # fmt: skip

    def vector_search(
        self, scope: UserScope, vector: np.ndarray, *, filters: SearchFilters, until: datetime, limit: int
    ) -> list[Candidate]:
        rows = self._nearest(scope, vector, filters, until, limit, TURN_COLUMNS)
        return [Candidate(turn_from_row(row[:-1]), float(row[-1])) for row in rows]

    def vector_matches(
        self, scope: UserScope, vector: np.ndarray, *, filters: SearchFilters, until: datetime, limit: int
    ) -> list[Match]:
        rows = self._nearest(scope, vector, filters, until, limit, MATCH_COLUMNS)
        return [match_from_row(row[:-1], float(row[-1])) for row in rows]

    def _nearest(
        self, scope: UserScope, vector: np.ndarray, filters: SearchFilters, until: datetime, limit: int, columns: str
    ) -> list[tuple[Any, ...]]:
        """Rows of ``columns`` (seq first) with their best inner product to ``vector`` last, best first.

        One statement for a user below the HNSW threshold: its first column says whether the
        user is (a row of NULLs when nothing matched); above it, the indexes are searched.
        """
        if limit <= 0 or self._model is None:
            return []
        where, params = filter_sql(scope, filters, until)
        query = vector_value(vector)
        cols = prefixed(columns, "t")
        mine = [scope.tenant, scope.user_id]
        with self._db.connection() as conn:
            rows = conn.execute(
                _EXACT.format(where=where, cols=cols),
                [*mine, max(self.hnsw_threshold - 1, 0), query, *params, query, limit,
                 query, *mine, *params, limit, limit, *mine],
            ).fetchall()  # fmt: skip
        if rows[0][0]:  # the user is below the threshold: these are the exact answers
            return [row[1:] for row in rows if row[-1] is not None]
        return self._nearest_indexed(query, where, params, cols, limit, mine)

    def _nearest_indexed(
        self, query: Any, where: str, params: list[Any], cols: str, limit: int, mine: list[str]
    ) -> list[tuple[Any, ...]]:
        """:meth:`_nearest` through the HNSW indexes (turns' and chunks'), re-scored exactly."""
        assert self._model is not None
        dim = self._model[1]
        order = f"embedding::vector({dim}) <#> %s::vector({dim})"
        with self._db.atomic(durable=False) as conn:  # SET LOCAL needs a transaction
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            conn.execute(f"SET LOCAL hnsw.ef_search = {max(int(self.ef_search), 4 * limit)}")
            rows = conn.execute(
                f"SELECT {cols}, -(t.embedding <#> %s) AS score FROM turns t WHERE {where} "
                f"AND t.embedding IS NOT NULL ORDER BY t.{order} LIMIT %s",
                [query, *params, query, 4 * limit],
            ).fetchall()
            rows += conn.execute(
                f"SELECT {cols}, -(c.embedding <#> %s) AS score FROM turn_chunks c JOIN turns t "
                f"ON t.tenant = c.tenant AND t.user_id = c.user_id AND t.seq = c.seq "
                f"WHERE c.tenant = %s AND c.user_id = %s AND {where} ORDER BY c.{order} LIMIT %s",
                [query, *mine, *params, query, 4 * limit],
            ).fetchall()
        best: dict[int, tuple[Any, ...]] = {}
        for row in rows:
            if row[0] not in best or row[-1] > best[row[0]][-1]:
                best[row[0]] = row
        return sorted(best.values(), key=lambda row: (-row[-1], row[0]))[:limit]  # exact scores, then seq

    def vector_scores(self, scope: UserScope, turns: Sequence[Turn], vector: np.ndarray) -> dict[str, float]:
        if not turns:
            return {}
        query = vector_value(vector)
        wanted = [scope.tenant, scope.user_id, [t.id for t in turns]]
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT t.id, greatest(-(t.embedding <#> %s), max(-(c.embedding <#> %s))) FROM turns t "
                "LEFT JOIN turn_chunks c ON c.tenant = t.tenant AND c.user_id = t.user_id AND c.seq = t.seq "
                "WHERE t.tenant=%s AND t.user_id=%s AND t.id = ANY(%s) AND t.archived_at IS NULL "
                "AND t.embedding IS NOT NULL GROUP BY t.tenant, t.user_id, t.id",
                [query, query, *wanted],
            ).fetchall()
        return {row[0]: float(row[1]) for row in rows}


#: Whether a user has fewer turns than the HNSW threshold (reads at most that many index entries).
_SMALL = "SELECT NOT EXISTS (SELECT 1 FROM turns WHERE tenant = %s AND user_id = %s OFFSET %s)"

#: Exact search for a user below the threshold: the best turns by their own vectors, and the
#: best by a chunk (a turn once, by its best window), merged. A turn in the top ``limit`` by its
#: best row is in one of the two lists. Each row starts with whether the user is below the
#: threshold (one row, of NULLs after it, when above it or when nothing matched).
_EXACT = (
    "WITH small AS (" + _SMALL + "), "
    "own AS (SELECT t.seq, -(t.embedding <#> %s) AS score FROM turns t WHERE (SELECT * FROM small) AND {where} "
    "AND t.embedding IS NOT NULL ORDER BY t.embedding <#> %s, t.seq LIMIT %s), "
    "part AS (SELECT c.seq, max(-(c.embedding <#> %s)) AS score FROM turn_chunks c JOIN turns t "
    "ON t.tenant = c.tenant AND t.user_id = c.user_id AND t.seq = c.seq "
    "WHERE (SELECT * FROM small) AND c.tenant = %s AND c.user_id = %s AND {where} GROUP BY c.seq), "
    "best AS (SELECT seq, max(score) AS score FROM (SELECT * FROM own UNION ALL "
    "(SELECT * FROM part ORDER BY score DESC, seq LIMIT %s)) u GROUP BY seq ORDER BY 2 DESC, 1 LIMIT %s) "
    "SELECT small.*, x.* FROM small LEFT JOIN LATERAL (SELECT {cols}, best.score FROM best JOIN turns t "
    "ON t.tenant = %s AND t.user_id = %s AND t.seq = best.seq) x ON true ORDER BY x.score DESC, 2"
)
