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
        """Rows of ``columns`` with their inner product to ``vector`` last, best first."""
        if limit <= 0 or self._model is None:
            return []
        where, params = filter_sql(scope, filters, until)
        query = vector_value(vector)
        cols = prefixed(columns, "t")
        with self._db.atomic(durable=False) as conn:  # SET LOCAL needs a transaction
            large = conn.execute(  # reads at most the threshold's index entries, not every turn
                "SELECT 1 FROM turns WHERE tenant=%s AND user_id=%s OFFSET %s LIMIT 1",
                (scope.tenant, scope.user_id, max(self.hnsw_threshold - 1, 0)),
            ).fetchone()
            if large is None:
                return conn.execute(  # type: ignore[no-any-return]
                    f"SELECT {cols}, -(t.embedding <#> %s) AS score FROM turns t WHERE {where} "
                    "AND t.embedding IS NOT NULL ORDER BY t.embedding <#> %s, t.seq LIMIT %s",
                    [query, *params, query, limit],
                ).fetchall()
            dim = self._model[1]
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            conn.execute(f"SET LOCAL hnsw.ef_search = {max(int(self.ef_search), 4 * limit)}")
            rows = conn.execute(
                f"SELECT {cols}, -(t.embedding <#> %s) AS score FROM turns t WHERE {where} "
                f"AND t.embedding IS NOT NULL ORDER BY t.embedding::vector({dim}) <#> %s::vector({dim}) LIMIT %s",
                [query, *params, query, 4 * limit],
            ).fetchall()
        rows.sort(key=lambda row: (-row[-1], row[0]))  # exact scores, then seq
        return rows[:limit]  # type: ignore[no-any-return]

    def vector_scores(self, scope: UserScope, turns: Sequence[Turn], vector: np.ndarray) -> dict[str, float]:
        if not turns:
            return {}
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT id, -(embedding <#> %s) FROM turns WHERE tenant=%s AND user_id=%s AND id = ANY(%s) "
                "AND archived_at IS NULL AND embedding IS NOT NULL",
                (vector_value(vector), scope.tenant, scope.user_id, [t.id for t in turns]),
            ).fetchall()
        return {row[0]: float(row[1]) for row in rows}
