"""The PostgreSQL store's derived memories: episodes and fact versions.

The same rules as the SQLite store's (:mod:`engram.store.sqlite.lifecycle`): episodes and
facts derive from turns, are scoped by tenant and user in every statement, and an id of
another scope is never overwritten (the primary key holds the scope).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from engram.errors import StoreError
from engram.model import Turn
from engram.model.episode import Episode
from engram.model.fact import FactVersion
from engram.model.timeutil import to_micros
from engram.store.base import UserScope
from engram.store.postgres.connection import Database
from engram.store.postgres.fulltext import EPISODE_WEIGHTS, FACT_WEIGHTS, TOKENIZER, TermCounts, bm25_rows
from engram.store.postgres.sql import (
    EPISODE_COLUMNS,
    FACT_COLUMNS,
    TURN_COLUMNS,
    episode_from_row,
    fact_from_row,
    prefixed,
    scope_where,
    turn_from_row,
    vector_value,
)


def as_array(value: Any, dim: int) -> np.ndarray:
    """A stored pgvector value as float32 (zeros when there is none)."""
    if value is None:
        return np.zeros(dim, dtype=np.float32)
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    return np.asarray(value, dtype=np.float32)


def _us(moment: datetime | None) -> int | None:
    return to_micros(moment) if moment is not None else None


class LifecycleMixin:
    """Episodes and facts for :class:`PostgresStore`."""

    _db: Database
    _model: tuple[str, int] | None
    _term_counts: TermCounts

    # -- episodes ---------------------------------------------------------------------------

    def _dim(self) -> int:
        return self._model[1] if self._model else 0

    def _with_vectors(
        self, rows: Sequence[Sequence[Any]], held: Mapping[str, Turn] | None = None
    ) -> tuple[list[Turn], np.ndarray]:
        dim = self._dim()
        vectors = np.zeros((len(rows), dim), dtype=np.float32)
        for index, row in enumerate(rows):
            if row[-1] is not None:
                vectors[index] = as_array(row[-1], dim)
        return [turn_from_row(row[:-1], held) for row in rows], vectors

    def session_turns(self, scope: UserScope, session_id: str) -> tuple[list[Turn], np.ndarray]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {TURN_COLUMNS}, embedding FROM turns WHERE tenant=%s AND user_id=%s AND session_id=%s "
                "ORDER BY ts, seq",
                (scope.tenant, scope.user_id, session_id),
            ).fetchall()
        return self._with_vectors(rows)

    def session_tail(
        self, scope: UserScope, session_id: str, *, episodes: int = 1, known: Mapping[str, Turn] | None = None
    ) -> tuple[list[Episode], list[Turn], np.ndarray]:
        held = known or {}
        where = "tenant=%s AND user_id=%s AND session_id=%s"
        params: list[Any] = [scope.tenant, scope.user_id, session_id]
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {EPISODE_COLUMNS} FROM episodes WHERE {where} ORDER BY start_ts DESC, seq DESC LIMIT %s",
                (*params, episodes),
            ).fetchall()
            found = [episode_from_row(row) for row in reversed(rows)]
            if found:
                where += " AND (ts, seq) >= (SELECT ts, seq FROM turns WHERE tenant=%s AND user_id=%s AND id=%s)"
                params += [scope.tenant, scope.user_id, found[0].turn_ids[0]]
            rows = conn.execute(
                f"SELECT {TURN_COLUMNS}, CASE WHEN id = ANY(%s) THEN NULL ELSE embedding END FROM turns "
                f"WHERE {where} ORDER BY ts, seq",
                [list(held), *params],
            ).fetchall()
        return (found, *self._with_vectors(rows, held))

    def put_episodes(
        self,
        scope: UserScope,
        session_id: str,
        episodes: Sequence[Episode],
        vectors: np.ndarray,
        at: datetime,
        *,
        replacing: Sequence[str] | None = None,
    ) -> None:
        postings = TOKENIZER.postings(
            [(e.summary, " ".join([*e.keyphrases, *e.entities])) for e in episodes], EPISODE_WEIGHTS
        )
        with self._db.atomic(durable=False) as conn:
            sql = "DELETE FROM episodes WHERE tenant=%s AND user_id=%s AND session_id=%s AND NOT (id = ANY(%s))"
            params: list[Any] = [scope.tenant, scope.user_id, session_id, [e.id for e in episodes]]
            if replacing is not None:
                sql += " AND id = ANY(%s)"
                params.append(list(replacing))
            conn.execute(sql, params)
            for episode, vector, post in zip(episodes, vectors, postings, strict=True):
                conn.execute(
                    "INSERT INTO episodes(tenant, user_id, id, agent_id, session_id, turn_ids, start_ts, end_ts, "
                    "summary, keyphrases, entities, keys, importance, embedding, updated_at, fts_terms, fts_freqs, "
                    "fts_len) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                    "ON CONFLICT (tenant, user_id, id) DO UPDATE SET turn_ids=excluded.turn_ids, "
                    "start_ts=excluded.start_ts, end_ts=excluded.end_ts, summary=excluded.summary, "
                    "keyphrases=excluded.keyphrases, entities=excluded.entities, keys=excluded.keys, "
                    "importance=excluded.importance, embedding=excluded.embedding, updated_at=excluded.updated_at, "
                    "fts_terms=excluded.fts_terms, fts_freqs=excluded.fts_freqs, fts_len=excluded.fts_len",
                    (
                        scope.tenant, scope.user_id, episode.id, episode.scope.agent_id, session_id,
                        json.dumps(list(episode.turn_ids)), to_micros(episode.start), to_micros(episode.end),
                        episode.summary, json.dumps(list(episode.keyphrases)), json.dumps(list(episode.entities)),
                        " ".join([*episode.keyphrases, *episode.entities]), episode.importance,
                        vector_value(vector), to_micros(at), post.terms, post.freqs, post.length,
                    ),
                )  # fmt: skip
                conn.execute(
                    "UPDATE turns SET episode_id=%s WHERE tenant=%s AND user_id=%s AND id = ANY(%s)",
                    (episode.id, scope.tenant, scope.user_id, list(episode.turn_ids)),
                )

    def list_episodes(
        self,
        scope: UserScope,
        *,
        session_id: str | None = None,
        ids: Sequence[str] | None = None,
        until: datetime | None = None,
        include_archived: bool = False,
        limit: int = 1000,
        after: tuple[int, int] | None = None,
    ) -> list[Episode]:
        where, params = scope_where(scope)
        sql = f"SELECT {EPISODE_COLUMNS} FROM episodes WHERE {where}"
        if session_id is not None:
            sql += " AND session_id=%s"
            params.append(session_id)
        if ids is not None:
            sql += " AND id = ANY(%s)"
            params.append(list(ids))
        if until is not None:
            sql += " AND start_ts <= %s"
            params.append(to_micros(until))
        if not include_archived:
            sql += " AND archived_at IS NULL"
        if after is not None:
            sql += " AND (start_ts, seq) > (%s, %s)"
            params += [after[0], after[1]]
        sql += " ORDER BY start_ts, seq LIMIT %s"
        params.append(limit)
        with self._db.connection() as conn:
            return [episode_from_row(row) for row in conn.execute(sql, params)]

    def episode_text_search(
        self, scope: UserScope, terms: Sequence[str], *, until: datetime, limit: int
    ) -> list[tuple[Episode, float]]:
        where = "e.tenant=%s AND e.user_id=%s AND e.start_ts <= %s AND e.archived_at IS NULL"
        params = [scope.tenant, scope.user_id, to_micros(until)]
        with self._db.connection() as conn:
            rows = bm25_rows(
                conn, "episodes", "episode", scope.tenant, terms, where, params,
                prefixed(EPISODE_COLUMNS, "e"), limit, "e", self._term_counts,
            )  # fmt: skip
        return [(episode_from_row(row[:-1]), float(row[-1])) for row in rows]

    def episode_vector_search(
        self, scope: UserScope, vector: np.ndarray, *, until: datetime, limit: int
    ) -> list[tuple[Episode, float]]:
        query = vector_value(vector)
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {EPISODE_COLUMNS}, -(embedding <#> %s) FROM episodes WHERE tenant=%s AND user_id=%s "
                "AND embedding IS NOT NULL AND archived_at IS NULL AND start_ts <= %s "
                "ORDER BY embedding <#> %s, seq LIMIT %s",
                (query, scope.tenant, scope.user_id, to_micros(until), query, limit),
            ).fetchall()
        return [(episode_from_row(row[:-1]), float(row[-1])) for row in rows]

    # -- facts ------------------------------------------------------------------------------

    def slot_versions(self, scope: UserScope, slots: Sequence[str]) -> dict[str, list[FactVersion]]:
        out: dict[str, list[FactVersion]] = {slot: [] for slot in slots}
        if not slots:
            return out
        with self._db.connection() as conn:
            for row in conn.execute(
                f"SELECT {FACT_COLUMNS} FROM facts WHERE tenant=%s AND user_id=%s AND slot = ANY(%s) ORDER BY seq",
                (scope.tenant, scope.user_id, list(slots)),
            ):
                version = fact_from_row(row)
                out[version.slot].append(version)
        return out

    def save_facts(self, scope: UserScope, versions: Sequence[FactVersion]) -> None:
        strays = [v.id for v in versions if (v.tenant, v.user_id) != (scope.tenant, scope.user_id)]
        if strays:
            raise StoreError(
                f"save_facts for {scope.tenant}/{scope.user_id} was given fact versions of another scope: "
                f"{', '.join(strays[:5])}"
            )
        postings = TOKENIZER.postings([(v.statement,) for v in versions], FACT_WEIGHTS)
        with self._db.atomic(durable=False) as conn:
            for v, post in zip(versions, postings, strict=True):
                conn.execute(
                    "INSERT INTO facts(tenant, user_id, id, slot, agent_id, subject, attribute, value, statement, "
                    "kind, multi, valid_from, valid_to, recorded_at, superseded_at, superseded_by, confidence, "
                    "source, source_turn_ids, mentions, recalls, last_recalled, importance, pinned, archived_at, "
                    "fts_terms, fts_freqs, fts_len) VALUES "
                    "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                    "ON CONFLICT (tenant, user_id, id) DO UPDATE SET valid_from=excluded.valid_from, "
                    "valid_to=excluded.valid_to, superseded_at=excluded.superseded_at, "
                    "superseded_by=excluded.superseded_by, confidence=excluded.confidence, "
                    "source_turn_ids=excluded.source_turn_ids, mentions=excluded.mentions, "
                    "importance=excluded.importance, archived_at=excluded.archived_at",
                    (
                        v.tenant, v.user_id, v.id, v.slot, v.agent_id, v.subject, v.attribute, v.value, v.statement,
                        v.kind, int(v.multi), to_micros(v.valid_from), _us(v.valid_to), to_micros(v.recorded_at),
                        _us(v.superseded_at), v.superseded_by, v.confidence, v.source,
                        json.dumps(list(v.source_turn_ids)), v.mentions, v.recalls, _us(v.last_recalled),
                        v.importance, int(v.pinned), _us(v.archived_at), post.terms, post.freqs, post.length,
                    ),
                )  # fmt: skip

    def list_facts(
        self,
        scope: UserScope,
        *,
        ids: Sequence[str] | None = None,
        slots: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        include_history: bool = False,
        include_archived: bool = False,
    ) -> list[FactVersion]:
        where, params = scope_where(scope)
        sql = f"SELECT {FACT_COLUMNS} FROM facts WHERE {where}"
        if ids is not None:
            sql += " AND id = ANY(%s)"
            params.append(list(ids))
        if slots is not None:
            sql += " AND slot = ANY(%s)"
            params.append(list(slots))
        if kinds is not None:
            sql += " AND kind = ANY(%s)"
            params.append(list(kinds))
        if not include_history:
            sql += " AND superseded_by IS NULL"
        if not include_archived:
            sql += " AND archived_at IS NULL"
        with self._db.connection() as conn:
            return [fact_from_row(row) for row in conn.execute(sql + " ORDER BY valid_from, seq", params)]

    def fact_text_search(self, scope: UserScope, terms: Sequence[str], *, limit: int) -> list[tuple[FactVersion, float]]:
        where = "f.tenant=%s AND f.user_id=%s AND f.archived_at IS NULL"
        with self._db.connection() as conn:
            rows = bm25_rows(
                conn, "facts", "fact", scope.tenant, terms, where, [scope.tenant, scope.user_id],
                prefixed(FACT_COLUMNS, "f"), limit, "f", self._term_counts,
            )  # fmt: skip
        return [(fact_from_row(row[:-1]), float(row[-1])) for row in rows]
