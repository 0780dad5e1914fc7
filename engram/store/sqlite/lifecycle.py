"""The SQLite store's lifecycle tables: episodes, fact versions, memory state, forgetting.

A mixin of :class:`~engram.store.sqlite.store.SQLiteStore`: it shares the store's connection
and lock. Episodes and facts are derived from turns and can be rebuilt from them; forgetting
removes a memory everywhere it is held and scrubs the freed bytes from the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from engram.model import Scope, Turn
from engram.model.episode import Episode
from engram.model.fact import FactVersion
from engram.model.timeutil import from_micros, to_micros
from engram.store.base import ForgetReceipt, MemoryState, UserScope
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
    _vectors: dict[tuple[str, str], ScopeVectors]
    _model: tuple[str, int] | None
    _episode_vectors: dict[tuple[str, str], tuple[ScopeVectors, dict[int, str]]]

    # -- episodes ---------------------------------------------------------------------------

    def session_turns(self, scope: UserScope, session_id: str) -> tuple[list[Turn], np.ndarray]:
        """Every turn of a session in time order, with its vectors (one row each)."""
        from engram.store.sqlite.store import _TURN_COLUMNS, _turn

        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_TURN_COLUMNS}, embedding FROM turns WHERE tenant=? AND user_id=? AND session_id=? "
                "ORDER BY ts, seq",
                (scope.tenant, scope.user_id, session_id),
            ).fetchall()
        dim = self._model[1] if self._model else 0
        turns = [_turn(row[:-1]) for row in rows]
        vectors = np.frombuffer(b"".join(row[-1] for row in rows), dtype=np.float32).reshape(len(rows), dim)
        return turns, vectors

    def put_episodes(
        self, scope: UserScope, session_id: str, episodes: Sequence[Episode], vectors: np.ndarray, at: datetime
    ) -> None:
        """Make ``episodes`` the session's episodes; ids that survive keep visits, pins and archive marks."""
        from engram.store.sqlite.store import scope_key

        key = scope_key(scope.tenant, scope.user_id)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                keep = [e.id for e in episodes]
                self._conn.execute(
                    f"DELETE FROM episodes WHERE tenant=? AND user_id=? AND session_id=? AND id NOT IN ({_marks(keep)})",
                    (scope.tenant, scope.user_id, session_id, *keep),
                )
                for episode, vector in zip(episodes, vectors, strict=True):
                    self._conn.execute(
                        "INSERT INTO episodes(id, tenant, user_id, agent_id, session_id, scope_key, turn_ids, "
                        "start_ts, end_ts, summary, keyphrases, entities, keys, importance, embedding, updated_at) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                        "turn_ids=excluded.turn_ids, start_ts=excluded.start_ts, end_ts=excluded.end_ts, "
                        "summary=excluded.summary, keyphrases=excluded.keyphrases, entities=excluded.entities, "
                        "keys=excluded.keys, importance=excluded.importance, embedding=excluded.embedding, "
                        "updated_at=excluded.updated_at",
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
                    self._conn.execute(
                        f"UPDATE turns SET episode_id=? WHERE tenant=? AND user_id=? AND id IN ({_marks(episode.turn_ids)})",
                        (episode.id, scope.tenant, scope.user_id, *episode.turn_ids),
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._episode_vectors.pop((scope.tenant, scope.user_id), None)

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
        sql = f"SELECT {_EPISODE_COLUMNS} FROM episodes WHERE tenant=? AND user_id=?"
        params: list[Any] = [scope.tenant, scope.user_id]
        if scope.agent_id is not None:
            sql += " AND agent_id=?"
            params.append(scope.agent_id)
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
        from engram.store.sqlite.store import scope_key

        if not terms:
            return []
        phrase = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        match = f'scope_key : "{scope_key(scope.tenant, scope.user_id)}" AND {{summary keys}} : ({phrase})'
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

    def slot_versions(self, slots: Sequence[str]) -> dict[str, list[FactVersion]]:
        """Every version of each slot."""
        out: dict[str, list[FactVersion]] = {slot: [] for slot in slots}
        if not slots:
            return out
        with self._lock:
            for row in self._conn.execute(
                f"SELECT {_FACT_COLUMNS} FROM facts WHERE slot IN ({_marks(slots)})", list(slots)
            ):
                version = _fact(row)
                out[version.slot].append(version)
        return out

    def save_facts(self, versions: Sequence[FactVersion]) -> None:
        """Insert new versions and update changed ones (by id), in one transaction."""
        from engram.store.sqlite.store import scope_key

        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for v in versions:
                    self._conn.execute(
                        "INSERT INTO facts(id, slot, tenant, user_id, agent_id, scope_key, subject, attribute, "
                        "value, statement, kind, multi, valid_from, valid_to, recorded_at, superseded_at, "
                        "superseded_by, confidence, source, source_turn_ids, mentions, recalls, last_recalled, "
                        "importance, pinned, archived_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                        "ON CONFLICT(id) DO UPDATE SET valid_from=excluded.valid_from, valid_to=excluded.valid_to, "
                        "superseded_at=excluded.superseded_at, superseded_by=excluded.superseded_by, "
                        "confidence=excluded.confidence, source_turn_ids=excluded.source_turn_ids, "
                        "mentions=excluded.mentions, importance=excluded.importance",
                        (
                            v.id, v.slot, v.tenant, v.user_id, v.agent_id, scope_key(v.tenant, v.user_id),
                            v.subject, v.attribute, v.value, v.statement, v.kind, int(v.multi),
                            to_micros(v.valid_from), _us(v.valid_to), to_micros(v.recorded_at),
                            _us(v.superseded_at), v.superseded_by, v.confidence, v.source,
                            json.dumps(list(v.source_turn_ids)), v.mentions, v.recalls, _us(v.last_recalled),
                            v.importance, int(v.pinned), _us(v.archived_at),
                        ),
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def list_facts(
        self,
        scope: UserScope,
        *,
        ids: Sequence[str] | None = None,
        slots: Sequence[str] | None = None,
        include_history: bool = False,
        include_archived: bool = False,
    ) -> list[FactVersion]:
        """Fact versions of a user: all of them, or those not replaced (``include_history=False``)."""
        sql = f"SELECT {_FACT_COLUMNS} FROM facts WHERE tenant=? AND user_id=?"
        params: list[Any] = [scope.tenant, scope.user_id]
        if scope.agent_id is not None:
            sql += " AND agent_id=?"
            params.append(scope.agent_id)
        if ids is not None:
            sql += f" AND id IN ({_marks(ids)})"
            params.extend(ids)
        if slots is not None:
            sql += f" AND slot IN ({_marks(slots)})"
            params.extend(slots)
        if not include_history:
            sql += " AND superseded_by IS NULL"
        if not include_archived:
            sql += " AND archived_at IS NULL"
        with self._lock:
            return [_fact(row) for row in self._conn.execute(sql + " ORDER BY valid_from, seq", params)]

    def fact_text_search(self, scope: UserScope, terms: Sequence[str], *, limit: int) -> list[tuple[FactVersion, float]]:
        """BM25 over fact statements (every version). Best first."""
        from engram.store.sqlite.store import scope_key

        if not terms:
            return []
        phrase = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        match = f'scope_key : "{scope_key(scope.tenant, scope.user_id)}" AND statement : ({phrase})'
        columns = ", ".join("f." + c.strip() for c in _FACT_COLUMNS.split(","))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {columns}, bm25(facts_fts, 1.0, 0.0) AS rank FROM facts_fts JOIN facts f "
                "ON f.seq = facts_fts.rowid WHERE facts_fts MATCH ? AND f.tenant=? AND f.user_id=? "
                "AND f.archived_at IS NULL ORDER BY rank LIMIT ?",
                (match, scope.tenant, scope.user_id, limit),
            ).fetchall()
        return [(_fact(row[:-1]), -float(row[-1])) for row in rows]

    # -- memory state: recall, pins, archive ------------------------------------------------

    def touch(self, kind: str, scope: UserScope, ids: Sequence[str], at: datetime) -> None:
        """Reinforce memories on recall: one more recall (visit), at ``at``."""
        if not ids:
            return
        table = _KIND_TABLE[kind]
        counter, stamp = ("visits", "last_visit") if kind == "episode" else ("recalls", "last_recalled")
        with self._lock:
            self._conn.execute(
                f"UPDATE {table} SET {counter} = {counter} + 1, {stamp} = ? "
                f"WHERE tenant=? AND user_id=? AND id IN ({_marks(ids)})",
                (to_micros(at), scope.tenant, scope.user_id, *ids),
            )

    def set_memory_flags(
        self,
        kind: str,
        scope: UserScope,
        ids: Sequence[str],
        *,
        pinned: bool | None = None,
        archived_at: datetime | bool | None = False,
    ) -> list[str]:
        """Pin/unpin, archive (``archived_at=<time>``) or restore (``archived_at=None``); returns ids changed."""
        table = _KIND_TABLE[kind]
        sets: list[str] = []
        params: list[Any] = []
        if pinned is not None:
            sets.append("pinned = ?")
            params.append(int(pinned))
        if archived_at is not False:
            sets.append("archived_at = ?")
            params.append(_us(archived_at) if isinstance(archived_at, datetime) else None)
        if not sets or not ids:
            return []
        with self._lock:
            found = [
                row[0]
                for row in self._conn.execute(
                    f"SELECT id FROM {table} WHERE tenant=? AND user_id=? AND id IN ({_marks(ids)})",
                    (scope.tenant, scope.user_id, *ids),
                )
            ]
            if found:
                self._conn.execute(
                    f"UPDATE {table} SET {', '.join(sets)} WHERE tenant=? AND user_id=? AND id IN ({_marks(found)})",
                    (*params, scope.tenant, scope.user_id, *found),
                )
            if kind == "turn" and archived_at is not False:
                self._vectors.pop((scope.tenant, scope.user_id), None)
            if kind == "episode" and archived_at is not False:
                self._episode_vectors.pop((scope.tenant, scope.user_id), None)
        return found

    def memory_states(self, kind: str, scope: UserScope) -> list[MemoryState]:
        """What forgetting needs to know of each memory of a kind."""
        created, counter, stamp = {
            "turn": ("ts", "recalls", "last_recalled"),
            "episode": ("end_ts", "visits", "last_visit"),
            "fact": ("valid_from", "recalls", "last_recalled"),
        }[kind]
        # A fact that is still true does not fade with age: only replaced versions decay.
        pinned = "pinned OR (superseded_by IS NULL AND valid_to IS NULL)" if kind == "fact" else "pinned"
        with self._lock:
            rows = self._conn.execute(
                f"SELECT id, {created}, {stamp}, importance, {counter}, {pinned}, archived_at "
                f"FROM {_KIND_TABLE[kind]} WHERE tenant=? AND user_id=?",
                (scope.tenant, scope.user_id),
            ).fetchall()
        return [
            MemoryState(
                id=row[0],
                kind=kind,
                reinforced_at=from_micros(max(row[1], row[2] or 0)),
                importance=row[3],
                recalls=row[4],
                pinned=bool(row[5]),
                archived_at=_dt(row[6]),
            )
            for row in rows
        ]

    # -- links ----------------------------------------------------------------------------

    def put_links(self, scope: UserScope, links: Sequence[tuple[str, str, str, float]], at: datetime) -> int:
        """Upsert ``(src, dst, kind, weight)`` edges; an existing edge takes the new weight."""
        with self._lock:
            self._conn.executemany(
                "INSERT INTO links(tenant, user_id, src, dst, kind, weight, updated_at) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(src, dst, kind) DO UPDATE SET weight=excluded.weight, updated_at=excluded.updated_at",
                [(scope.tenant, scope.user_id, src, dst, kind, weight, to_micros(at)) for src, dst, kind, weight in links],
            )
        return len(links)

    def strengthen_links(self, scope: UserScope, pairs: Sequence[tuple[str, str]], kind: str, at: datetime) -> None:
        """Hebbian update: each pair's edge weight grows by one (created at 1)."""
        with self._lock:
            self._conn.executemany(
                "INSERT INTO links(tenant, user_id, src, dst, kind, weight, updated_at) VALUES (?,?,?,?,?,1.0,?) "
                "ON CONFLICT(src, dst, kind) DO UPDATE SET weight=weight + 1.0, updated_at=excluded.updated_at",
                [(scope.tenant, scope.user_id, src, dst, kind, to_micros(at)) for src, dst in pairs],
            )

    def list_links(self, scope: UserScope, ids: Sequence[str] | None = None) -> list[tuple[str, str, str, float]]:
        """Edges of a user (touching ``ids`` when given)."""
        sql = "SELECT src, dst, kind, weight FROM links WHERE tenant=? AND user_id=?"
        params: list[Any] = [scope.tenant, scope.user_id]
        if ids is not None:
            sql += f" AND (src IN ({_marks(ids)}) OR dst IN ({_marks(ids)}))"
            params += [*ids, *ids]
        with self._lock:
            return [tuple(row) for row in self._conn.execute(sql + " ORDER BY kind, src, dst", params)]  # type: ignore[misc]

    # -- progress of the write path and of consolidation -------------------------------------

    def lifecycle_state(self, scope: UserScope) -> dict[str, int]:
        """Watermarks and LLM usage counters of a user (zeros when new)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT processed_seq, consolidated_seq, llm_calls, llm_prompt_tokens, llm_completion_tokens "
                "FROM lifecycle_state WHERE tenant=? AND user_id=?",
                (scope.tenant, scope.user_id),
            ).fetchone()
        names = ("processed_seq", "consolidated_seq", "llm_calls", "llm_prompt_tokens", "llm_completion_tokens")
        return dict(zip(names, row or (0, 0, 0, 0, 0), strict=True))

    def update_lifecycle_state(self, scope: UserScope, **values: int) -> None:
        """Set watermarks (never lowering them) and add to the LLM counters."""
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO lifecycle_state(tenant, user_id) VALUES (?, ?)", (scope.tenant, scope.user_id)
            )
            for name, value in values.items():
                if name in ("processed_seq", "consolidated_seq"):
                    expression = f"max({name}, ?)"
                elif name in ("llm_calls", "llm_prompt_tokens", "llm_completion_tokens"):
                    expression = f"{name} + ?"
                else:
                    raise ValueError(name)
                self._conn.execute(
                    f"UPDATE lifecycle_state SET {name} = {expression} WHERE tenant=? AND user_id=?",
                    (value, scope.tenant, scope.user_id),
                )

    def turns_after(self, scope: UserScope, seq: int, *, limit: int = 1000) -> list[Turn]:
        """A user's turns stored after the watermark ``seq``, in insertion order."""
        from engram.store.sqlite.store import _TURN_COLUMNS, _turn

        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_TURN_COLUMNS} FROM turns WHERE tenant=? AND user_id=? AND seq > ? ORDER BY seq LIMIT ?",
                (scope.tenant, scope.user_id, seq, limit),
            ).fetchall()
        return [_turn(row) for row in rows]

    # -- forgetting ------------------------------------------------------------------------

    def forget(
        self,
        scope: UserScope,
        *,
        session_id: str | None = None,
        ids: Sequence[str] | None = None,
        fact_ids: Sequence[str] | None = None,
    ) -> ForgetReceipt:
        """Delete turns (all of a user's, a session's, or these) and everything derived from them.

        Episodes that held a forgotten turn are deleted (their summaries quote it); facts lose
        the forgotten turns from their provenance and are deleted when none is left; links to
        any deleted memory go too. Freed pages are zeroed (``secure_delete``), full-text
        indexes are merged so no segment keeps a forgotten term, and the WAL is checkpointed
        and truncated, so the forgotten text no longer exists in the database files.
        ``fact_ids`` forgets facts themselves: every version of their slots, not the turns.
        """
        where, params = "tenant=? AND user_id=?", [scope.tenant, scope.user_id]
        if session_id is not None:
            where += " AND session_id=?"
            params.append(session_id)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                rows = self._conn.execute(f"SELECT id, session_id FROM turns WHERE {where}", params).fetchall()
                if fact_ids is not None and ids is None:
                    rows = []
                if ids is not None:
                    wanted = set(ids)
                    rows = [row for row in rows if row[0] in wanted]
                turn_ids = [row[0] for row in rows]
                sessions = sorted({row[1] for row in rows})
                gone = set(turn_ids)
                episode_rows = self._conn.execute(
                    "SELECT id, turn_ids FROM episodes WHERE tenant=? AND user_id=?", (scope.tenant, scope.user_id)
                ).fetchall()
                episode_ids = [eid for eid, tids in episode_rows if gone & set(json.loads(tids))]
                doomed_facts: list[str] = []
                if fact_ids:
                    doomed_facts = [
                        row[0]
                        for row in self._conn.execute(
                            f"SELECT id FROM facts WHERE tenant=? AND user_id=? AND slot IN "
                            f"(SELECT slot FROM facts WHERE id IN ({_marks(fact_ids)}))",
                            (scope.tenant, scope.user_id, *fact_ids),
                        )
                    ]
                for fid, sources in self._conn.execute(
                    "SELECT id, source_turn_ids FROM facts WHERE tenant=? AND user_id=?", (scope.tenant, scope.user_id)
                ).fetchall():
                    kept = [t for t in json.loads(sources) if t not in gone]
                    if len(kept) == len(json.loads(sources)):
                        continue
                    if kept:
                        self._conn.execute("UPDATE facts SET source_turn_ids=? WHERE id=?", (json.dumps(kept), fid))
                    elif fid not in doomed_facts:
                        doomed_facts.append(fid)
                slots = sorted(
                    {
                        row[0]
                        for start in range(0, len(doomed_facts), 500)
                        for row in self._conn.execute(
                            f"SELECT slot FROM facts WHERE id IN ({_marks(doomed_facts[start : start + 500])})",
                            doomed_facts[start : start + 500],
                        )
                    }
                )
                for table, doomed in (("turns", turn_ids), ("episodes", episode_ids), ("facts", doomed_facts)):
                    for start in range(0, len(doomed), 500):
                        chunk = doomed[start : start + 500]
                        self._conn.execute(f"DELETE FROM {table} WHERE id IN ({_marks(chunk)})", chunk)
                links = 0
                every = turn_ids + episode_ids + doomed_facts
                for start in range(0, len(every), 400):
                    chunk = every[start : start + 400]
                    links += self._conn.execute(
                        f"DELETE FROM links WHERE src IN ({_marks(chunk)}) OR dst IN ({_marks(chunk)})", chunk + chunk
                    ).rowcount
                if session_id is None and ids is None:
                    self._conn.execute(
                        "DELETE FROM lifecycle_state WHERE tenant=? AND user_id=?", (scope.tenant, scope.user_id)
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._vectors.pop((scope.tenant, scope.user_id), None)
            self._episode_vectors.pop((scope.tenant, scope.user_id), None)
            if turn_ids or doomed_facts:
                self.scrub()
        return ForgetReceipt(
            turn_ids=turn_ids,
            episode_ids=episode_ids,
            fact_ids=doomed_facts,
            links=links,
            sessions=sessions,
            slots=slots,
        )

    def scrub(self) -> None:
        """Remove deleted content from the files: merge FTS segments, zero free pages, truncate the WAL."""
        with self._lock:
            for table in ("turns_fts", "episodes_fts", "facts_fts"):
                self._conn.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


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
