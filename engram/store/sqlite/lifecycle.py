"""The SQLite store's derived memories: episodes and fact versions.

A mixin of :class:`~engram.store.sqlite.store.SQLiteStore`: it shares the store's connection
and lock. Episodes and facts are derived from turns and can be rebuilt from them. Memory
state, links and forgetting are in :mod:`engram.store.sqlite.forgetting`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from engram.errors import StoreError
from engram.model import Scope, Turn
from engram.model.episode import Episode
from engram.model.fact import FactVersion
from engram.model.timeutil import from_micros, to_micros
from engram.store.base import UserScope
from engram.store.sqlite.sql import TURN_COLUMNS, match_expression, scope_key, scope_where, turn_from_row
from engram.store.vectors import ScopeVectors

_EPISODE_COLUMNS = (
    "seq, id, tenant, user_id, agent_id, session_id, turn_ids, start_ts, end_ts, summary, keyphrases, "
    "entities, importance, visits, last_visit, pinned, archived_at"
)
_FACT_COLUMNS = (
    "seq, id, slot, tenant, user_id, agent_id, subject, attribute, value, statement, kind, multi, "
    "valid_from, valid_to, recorded_at, superseded_at, superseded_by, confidence, source, "
    "source_turn_ids, mentions, recalls, last_recalled, importance, pinned, archived_at"
)
_KIND_TABLE = {"turn": "turns", "episode": "episodes", "fact": "facts"}


def _us(moment: datetime | None) -> int | None:
    return to_micros(moment) if moment is not None else None


def _dt(micros: int | None) -> datetime | None:
    return from_micros(micros) if micros is not None else None


def _marks(items: Sequence[Any]) -> str:
    return ",".join("?" * len(items))


class LifecycleMixin:
    """Episodes, facts, memory state and forgetting for :class:`SQLiteStore`."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    atomic: Callable[..., contextlib.AbstractContextManager[None]]
    _vectors: dict[tuple[str, str], ScopeVectors]
    _model: tuple[str, int] | None
    _episode_vectors: dict[tuple[str, str], tuple[ScopeVectors, dict[int, str]]]

    # -- episodes ---------------------------------------------------------------------------

    def session_turns(self, scope: UserScope, session_id: str) -> tuple[list[Turn], np.ndarray]:
        """Every turn of a session in time order, with its vectors (one row each)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {TURN_COLUMNS}, embedding FROM turns WHERE tenant=? AND user_id=? AND session_id=? "
                "ORDER BY ts, seq",
                (scope.tenant, scope.user_id, session_id),
            ).fetchall()
        return self._turns_with_vectors(rows)

    def session_tail(
        self, scope: UserScope, session_id: str, *, episodes: int = 1, known: Mapping[str, Turn] | None = None
    ) -> tuple[list[Episode], list[Turn], np.ndarray]:
        """The session's last ``episodes`` episodes (time order) and every turn from the first
        of them on (all of the session's turns when it has none), with vectors: a bounded read,
        whatever the session's length. The turns in ``known`` (the caller holds them, by id,
        with their vectors) are given back as the caller's objects, and their vectors are not
        read: their rows are zero."""
        held = known or {}
        skipped = list(held) if len(held) <= 500 else []
        where = "tenant=? AND user_id=? AND session_id=?"
        params: list[Any] = [scope.tenant, scope.user_id, session_id]
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_EPISODE_COLUMNS} FROM episodes WHERE {where} ORDER BY start_ts DESC, seq DESC LIMIT ?",
                (*params, episodes),
            ).fetchall()
            found = [_episode(row) for row in reversed(rows)]
            if found:
                where += " AND (ts, seq) >= (SELECT ts, seq FROM turns WHERE tenant=? AND user_id=? AND id=?)"
                params += [scope.tenant, scope.user_id, found[0].turn_ids[0]]
            vector = "embedding"
            if skipped:
                vector = f"CASE WHEN id IN ({_marks(skipped)}) THEN NULL ELSE embedding END"
            rows = self._conn.execute(
                f"SELECT {TURN_COLUMNS}, {vector} FROM turns WHERE {where} ORDER BY ts, seq",
                [*skipped, *params],
            ).fetchall()
        return (found, *self._turns_with_vectors(rows, held))

    def _turns_with_vectors(
        self, rows: Sequence[Sequence[Any]], held: Mapping[str, Turn] | None = None
    ) -> tuple[list[Turn], np.ndarray]:
        dim = self._model[1] if self._model else 0
        vectors = np.zeros((len(rows), dim), dtype=np.float32)
        for index, row in enumerate(rows):
            if row[-1] is not None:
                vectors[index] = np.frombuffer(row[-1], dtype=np.float32)
        return [turn_from_row(row[:-1], held) for row in rows], vectors

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
        """Make ``episodes`` the session's episodes; ids that survive keep visits, pins and archive marks.

        With ``replacing``, only those episodes of the session give way to ``episodes`` (the
        open tail re-segmented); the session's other episodes are not touched.
        """
        key = scope_key(scope.tenant, scope.user_id)
        with self.atomic(durable=False):
            keep = [e.id for e in episodes]
            sql = f"DELETE FROM episodes WHERE tenant=? AND user_id=? AND session_id=? AND id NOT IN ({_marks(keep)})"
            params: list[Any] = [scope.tenant, scope.user_id, session_id, *keep]
            if replacing is not None:
                sql += f" AND id IN ({_marks(replacing)})"
                params += replacing
            self._conn.execute(sql, params)
            for episode, vector in zip(episodes, vectors, strict=True):
                self._put_episode(scope, session_id, key, episode, vector, at)
            self._episode_vectors.pop((scope.tenant, scope.user_id), None)

    def _put_episode(
        self, scope: UserScope, session_id: str, key: str, episode: Episode, vector: np.ndarray, at: datetime
    ) -> None:
        self._conn.execute(
            "INSERT INTO episodes(id, tenant, user_id, agent_id, session_id, scope_key, turn_ids, "
            "start_ts, end_ts, summary, keyphrases, entities, keys, importance, embedding, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
            "turn_ids=excluded.turn_ids, start_ts=excluded.start_ts, end_ts=excluded.end_ts, "
            "summary=excluded.summary, keyphrases=excluded.keyphrases, entities=excluded.entities, "
            "keys=excluded.keys, importance=excluded.importance, embedding=excluded.embedding, "
            "updated_at=excluded.updated_at WHERE episodes.tenant=excluded.tenant AND episodes.user_id=excluded.user_id",
            (
                episode.id,
                scope.tenant,
                scope.user_id,
                episode.scope.agent_id,
                session_id,
                key,
                json.dumps(list(episode.turn_ids)),
                to_micros(episode.start),
                to_micros(episode.end),
                episode.summary,
                json.dumps(list(episode.keyphrases)),
                json.dumps(list(episode.entities)),
                " ".join([*episode.keyphrases, *episode.entities]),
                episode.importance,
                np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
                to_micros(at),
            ),
        )
        # By id: with the scope on an index, SQLite walked every turn of the user for each episode.
        self._conn.execute(
            f"UPDATE turns SET episode_id=? WHERE +tenant=? AND +user_id=? AND id IN ({_marks(episode.turn_ids)})",
            (episode.id, scope.tenant, scope.user_id, *episode.turn_ids),
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
        """Episodes in time order, optionally of one session or with these ids."""
        where, params = scope_where(scope)
        sql = f"SELECT {_EPISODE_COLUMNS} FROM episodes WHERE {where}"
        if session_id is not None:
            sql += " AND session_id=?"
            params.append(session_id)
        if ids is not None:
            sql += f" AND id IN ({_marks(ids)})"
            params.extend(ids)
        if until is not None:
            sql += " AND start_ts <= ?"
            params.append(to_micros(until))
        if not include_archived:
            sql += " AND archived_at IS NULL"
        if after is not None:
            sql += " AND (start_ts > ? OR (start_ts = ? AND seq > ?))"
            params += [after[0], after[0], after[1]]
        sql += " ORDER BY start_ts, seq LIMIT ?"
        params.append(limit)
        with self._lock:
            return [_episode(row) for row in self._conn.execute(sql, params)]

    def episode_text_search(
        self, scope: UserScope, terms: Sequence[str], *, until: datetime, limit: int
    ) -> list[tuple[Episode, float]]:
        """BM25 over episode summaries and keys. Best first."""
        if not terms:
            return []
        match = match_expression(scope, "{summary keys}", terms)
        columns = ", ".join("e." + c.strip() for c in _EPISODE_COLUMNS.split(","))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {columns}, bm25(episodes_fts, 1.0, 0.7, 0.0) AS rank FROM episodes_fts "
                "JOIN episodes e ON e.seq = episodes_fts.rowid WHERE episodes_fts MATCH ? "
                "AND e.tenant=? AND e.user_id=? AND e.start_ts <= ? AND e.archived_at IS NULL "
                "ORDER BY rank LIMIT ?",
                (match, scope.tenant, scope.user_id, to_micros(until), limit),
            ).fetchall()
        return [(_episode(row[:-1]), -float(row[-1])) for row in rows]

    def episode_vector_search(
        self, scope: UserScope, vector: np.ndarray, *, until: datetime, limit: int
    ) -> list[tuple[Episode, float]]:
        """Cosine similarity to episode centroids. Best first."""
        key = (scope.tenant, scope.user_id)
        with self._lock:
            cached = self._episode_vectors.get(key)
            if cached is None:
                rows = self._conn.execute(
                    "SELECT seq, id, start_ts, embedding, archived_at IS NULL FROM episodes "
                    "WHERE tenant=? AND user_id=? AND embedding IS NOT NULL ORDER BY seq",
                    key,
                ).fetchall()
                dim = self._model[1] if self._model else 0
                index = ScopeVectors(dim, hnsw_threshold=10**12)
                if rows:
                    index.append(
                        np.array([r[0] for r in rows], dtype=np.int64),
                        np.array([r[2] for r in rows], dtype=np.int64),
                        np.frombuffer(b"".join(r[3] for r in rows), dtype=np.float32).reshape(len(rows), dim),
                        np.array([bool(r[4]) for r in rows], dtype=bool),
                    )
                cached = self._episode_vectors[key] = (index, {r[0]: r[1] for r in rows})
            index, ids = cached
            found = index.search(vector, limit, until=to_micros(until))
            episodes = {e.id: e for e in self.list_episodes(scope, ids=[ids[seq] for seq, _ in found])}
        return [(episodes[ids[seq]], score) for seq, score in found if ids[seq] in episodes]

    # -- facts ------------------------------------------------------------------------------

    def slot_versions(self, scope: UserScope, slots: Sequence[str]) -> dict[str, list[FactVersion]]:
        """Every version of each of this user's slots (a slot of anyone else's comes back empty)."""
        out: dict[str, list[FactVersion]] = {slot: [] for slot in slots}
        if not slots:
            return out
        with self._lock:
            for row in self._conn.execute(
                f"SELECT {_FACT_COLUMNS} FROM facts WHERE tenant=? AND user_id=? AND slot IN ({_marks(slots)})",
                (scope.tenant, scope.user_id, *slots),
            ):
                version = _fact(row)
                out[version.slot].append(version)
        return out

    def save_facts(self, scope: UserScope, versions: Sequence[FactVersion]) -> None:
        """Insert new versions and update changed ones (by id) of this user, in one transaction.

        Raises:
            StoreError: a version belongs to another tenant or user (a programming error),
                or its id is another scope's; nothing is written.
        """
        strays = [v.id for v in versions if (v.tenant, v.user_id) != (scope.tenant, scope.user_id)]
        if strays:
            raise StoreError(
                f"save_facts for {scope.tenant}/{scope.user_id} was given fact versions of another scope: "
                f"{', '.join(strays[:5])}"
            )
        key = scope_key(scope.tenant, scope.user_id)
        with self.atomic(durable=False):
            for v in versions:
                cursor = self._conn.execute(
                    "INSERT INTO facts(id, slot, tenant, user_id, agent_id, scope_key, subject, attribute, "
                    "value, statement, kind, multi, valid_from, valid_to, recorded_at, superseded_at, "
                    "superseded_by, confidence, source, source_turn_ids, mentions, recalls, last_recalled, "
                    "importance, pinned, archived_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT(id) DO UPDATE SET valid_from=excluded.valid_from, valid_to=excluded.valid_to, "
                    "superseded_at=excluded.superseded_at, superseded_by=excluded.superseded_by, "
                    "confidence=excluded.confidence, source_turn_ids=excluded.source_turn_ids, "
                    "mentions=excluded.mentions, importance=excluded.importance, archived_at=excluded.archived_at "
                    "WHERE facts.tenant=excluded.tenant AND facts.user_id=excluded.user_id",
                    (
                        v.id, v.slot, v.tenant, v.user_id, v.agent_id, key,
                        v.subject, v.attribute, v.value, v.statement, v.kind, int(v.multi),
                        to_micros(v.valid_from), _us(v.valid_to), to_micros(v.recorded_at),
                        _us(v.superseded_at), v.superseded_by, v.confidence, v.source,
                        json.dumps(list(v.source_turn_ids)), v.mentions, v.recalls, _us(v.last_recalled),
                        v.importance, int(v.pinned), _us(v.archived_at),
                    ),
                )  # fmt: skip
                if cursor.rowcount == 0:
                    raise StoreError(f"fact id {v.id} is taken in another scope; nothing was saved")

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
        """Fact versions of a user: all of them, or those not replaced (``include_history=False``)."""
        where, params = scope_where(scope)
        sql = f"SELECT {_FACT_COLUMNS} FROM facts WHERE {where}"
        if ids is not None:
            sql += f" AND id IN ({_marks(ids)})"
            params.extend(ids)
        if slots is not None:
            sql += f" AND slot IN ({_marks(slots)})"
            params.extend(slots)
        if kinds is not None:
            sql += f" AND kind IN ({_marks(kinds)})"
            params.extend(kinds)
        if not include_history:
            sql += " AND superseded_by IS NULL"
        if not include_archived:
            sql += " AND archived_at IS NULL"
        with self._lock:
            return [_fact(row) for row in self._conn.execute(sql + " ORDER BY valid_from, seq", params)]

    def fact_text_search(self, scope: UserScope, terms: Sequence[str], *, limit: int) -> list[tuple[FactVersion, float]]:
        """BM25 over fact statements (every version). Best first."""
        if not terms:
            return []
        match = match_expression(scope, "statement", terms)
        columns = ", ".join("f." + c.strip() for c in _FACT_COLUMNS.split(","))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {columns}, bm25(facts_fts, 1.0, 0.0) AS rank FROM facts_fts JOIN facts f "
                "ON f.seq = facts_fts.rowid WHERE facts_fts MATCH ? AND f.tenant=? AND f.user_id=? "
                "AND f.archived_at IS NULL ORDER BY rank LIMIT ?",
                (match, scope.tenant, scope.user_id, limit),
            ).fetchall()
        return [(_fact(row[:-1]), -float(row[-1])) for row in rows]

def _episode(row: Sequence[Any]) -> Episode:
    (seq, eid, tenant, user_id, agent_id, session_id, turn_ids, start, end, summary, keyphrases, entities,
     importance, visits, last_visit, pinned, archived_at) = row  # fmt: skip
    return Episode(
        id=eid,
        scope=Scope.trusted(tenant, user_id, agent_id, session_id),
        turn_ids=tuple(json.loads(turn_ids)),
        start=from_micros(start),
        end=from_micros(end),
        summary=summary,
        keyphrases=tuple(json.loads(keyphrases)),
        entities=tuple(json.loads(entities)),
        visits=visits,
        last_visit=_dt(last_visit),
        pinned=bool(pinned),
        archived_at=_dt(archived_at),
        importance=importance,
        seq=seq,
    )


def _fact(row: Sequence[Any]) -> FactVersion:
    (seq, fid, slot, tenant, user_id, agent_id, subject, attribute, value, statement, kind, multi, valid_from,
     valid_to, recorded_at, superseded_at, superseded_by, confidence, source, sources, mentions, recalls,
     last_recalled, importance, pinned, archived_at) = row  # fmt: skip
    return FactVersion(
        id=fid,
        slot=slot,
        tenant=tenant,
        user_id=user_id,
        agent_id=agent_id,
        subject=subject,
        attribute=attribute,
        value=value,
        statement=statement,
        kind=kind,
        multi=bool(multi),
        valid_from=from_micros(valid_from),
        valid_to=_dt(valid_to),
        recorded_at=from_micros(recorded_at),
        superseded_at=_dt(superseded_at),
        superseded_by=superseded_by,
        confidence=confidence,
        source=source,
        source_turn_ids=tuple(json.loads(sources)),
        mentions=mentions,
        recalls=recalls,
        last_recalled=_dt(last_recalled),
        importance=importance,
        pinned=bool(pinned),
        archived_at=_dt(archived_at),
        seq=seq,
    )
