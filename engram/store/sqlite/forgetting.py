"""The SQLite store's memory state: recall and pins, archive, links, watermarks, forgetting.

A mixin of :class:`~engram.store.sqlite.store.SQLiteStore`, sharing its connection and lock.
Forgetting removes a memory everywhere it is held and scrubs the freed bytes from the file.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from engram.model import Turn
from engram.model.timeutil import from_micros, to_micros
from engram.store.base import ForgetReceipt, MemoryState, UserScope
from engram.store.flags import flag_sets
from engram.store.sqlite.lifecycle import _KIND_TABLE, _dt, _marks
from engram.store.sqlite.sql import TURN_COLUMNS, chunks, turn_from_row
from engram.store.vectors import ScopeVectors


class MemoryStateMixin:
    """Recall, pins, archive, links, watermarks and forgetting for :class:`SQLiteStore`."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    atomic: Callable[..., contextlib.AbstractContextManager[None]]
    read_only: bool
    _scrub_after_forget: Callable[[], bool]
    _drop_fresh: Callable[[], None]
    _vectors: dict[tuple[str, str], ScopeVectors]
    _episode_vectors: dict[tuple[str, str], tuple[ScopeVectors, dict[int, str]]]
    _speakers: dict[tuple[str, str], frozenset[str]]
    _turn_counts: dict[tuple[str, str], int]

    # -- memory state: recall, pins, archive ------------------------------------------------

    def touch(self, kind: str, scope: UserScope, ids: Sequence[str], at: datetime) -> None:
        """Reinforce memories on recall: one more recall (visit), at ``at``.

        Best effort: on a read-only store recall is not recorded (searches still work).
        """
        if not ids or self.read_only:
            return
        table = _KIND_TABLE[kind]
        counter, stamp = ("visits", "last_visit") if kind == "episode" else ("recalls", "last_recalled")
        with self.atomic(durable=False):
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
        sets, params = flag_sets(pinned, archived_at, "?")
        if not sets or not ids:
            return []
        with self.atomic(durable=False):
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
        """What forgetting needs to know of each memory of a kind.

        ``reinforced_at`` is the latest of when the memory happened, when memory learned it
        (a turn's ``recorded_at``; an episode's newest turn's) and its last recall: history
        imported today is as fresh as a conversation held today (see
        :mod:`engram.model.retention`). Fact versions never fade (``pinned``): history is the
        point, and a version that was true stays answerable as of its time.
        """
        if kind == "fact":
            sql = "SELECT id, valid_from, 0, importance, recalls, 1, archived_at FROM facts"
        elif kind == "turn":
            sql = "SELECT id, max(ts, recorded_at), last_recalled, importance, recalls, pinned, archived_at FROM turns"
        else:
            learned = (
                "(SELECT max(t.recorded_at) FROM turns t WHERE t.tenant = episodes.tenant "
                "AND t.user_id = episodes.user_id AND t.episode_id = episodes.id)"
            )
            sql = (
                f"SELECT id, max(end_ts, coalesce({learned}, 0)), last_visit, importance, visits, pinned, archived_at "
                "FROM episodes"
            )
        with self._lock:
            rows = self._conn.execute(sql + " WHERE tenant=? AND user_id=?", (scope.tenant, scope.user_id)).fetchall()
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
        with self.atomic(durable=False):
            self._conn.executemany(
                "INSERT INTO links(tenant, user_id, src, dst, kind, weight, updated_at) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(src, dst, kind) DO UPDATE SET weight=excluded.weight, updated_at=excluded.updated_at "
                "WHERE links.tenant=excluded.tenant AND links.user_id=excluded.user_id",  # never another's edge
                [(scope.tenant, scope.user_id, src, dst, kind, weight, to_micros(at)) for src, dst, kind, weight in links],
            )
        return len(links)

    def strengthen_links(self, scope: UserScope, pairs: Sequence[tuple[str, str]], kind: str, at: datetime) -> None:
        """Hebbian update: each pair's edge weight grows by one (created at 1); not on a read-only store."""
        if not pairs or self.read_only:
            return
        with self.atomic(durable=False):
            self._conn.executemany(
                "INSERT INTO links(tenant, user_id, src, dst, kind, weight, updated_at) VALUES (?,?,?,?,?,1.0,?) "
                "ON CONFLICT(src, dst, kind) DO UPDATE SET weight=weight + 1.0, updated_at=excluded.updated_at "
                "WHERE links.tenant=excluded.tenant AND links.user_id=excluded.user_id",
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
        with self.atomic(durable=False):
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

    def turns_after(
        self, scope: UserScope, seq: int, *, limit: int = 1000, known: Mapping[str, Turn] | None = None
    ) -> list[Turn]:
        """A user's turns stored after the watermark ``seq``, in insertion order; those in
        ``known`` (the caller's, by id) given back as the caller's objects."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {TURN_COLUMNS} FROM turns WHERE tenant=? AND user_id=? AND seq > ? ORDER BY seq LIMIT ?",
                (scope.tenant, scope.user_id, seq, limit),
            ).fetchall()
        return [turn_from_row(row, known) for row in rows]

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
        and truncated, so the forgotten text no longer exists in the database files; while
        other connections' readers prevent that past ``scrub_wait``, the receipt says
        ``scrub_pending`` and the store finishes it later (:mod:`engram.store.sqlite.scrubbing`).
        ``fact_ids`` forgets facts themselves: every version of their slots, not the turns.
        """
        where, params = "tenant=? AND user_id=?", [scope.tenant, scope.user_id]
        if session_id is not None:
            where += " AND session_id=?"
            params.append(session_id)
        mine = (scope.tenant, scope.user_id)
        with self._lock:
            with self.atomic():
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
                    "SELECT id, turn_ids FROM episodes WHERE tenant=? AND user_id=?", mine
                ).fetchall()
                episode_ids = [eid for eid, tids in episode_rows if gone & set(json.loads(tids))]
                facts = self._conn.execute(
                    "SELECT id, slot, source_turn_ids FROM facts WHERE tenant=? AND user_id=?", mine
                ).fetchall()
                asked = set(fact_ids or ())
                doomed_slots = {slot for fid, slot, _ in facts if fid in asked}
                doomed_facts = [fid for fid, slot, _ in facts if slot in doomed_slots]
                for fid, _, sources in facts:
                    before = json.loads(sources)
                    kept = [t for t in before if t not in gone]
                    if len(kept) == len(before):
                        continue
                    if kept:
                        self._conn.execute(
                            "UPDATE facts SET source_turn_ids=? WHERE id=? AND tenant=? AND user_id=?",
                            (json.dumps(kept), fid, *mine),
                        )
                    elif fid not in doomed_facts:
                        doomed_facts.append(fid)
                doomed = set(doomed_facts)
                slots = sorted({slot for fid, slot, _ in facts if fid in doomed})
                for table, ids_ in (("turns", turn_ids), ("episodes", episode_ids), ("facts", doomed_facts)):
                    for chunk in chunks(ids_, 500):
                        self._conn.execute(
                            f"DELETE FROM {table} WHERE tenant=? AND user_id=? AND id IN ({_marks(chunk)})",
                            (*mine, *chunk),
                        )
                links = 0
                for chunk in chunks(turn_ids + episode_ids + doomed_facts, 400):
                    links += self._conn.execute(
                        f"DELETE FROM links WHERE tenant=? AND user_id=? AND "
                        f"(src IN ({_marks(chunk)}) OR dst IN ({_marks(chunk)}))",
                        (*mine, *chunk, *chunk),
                    ).rowcount
                if session_id is None and ids is None:
                    self._conn.execute("DELETE FROM lifecycle_state WHERE tenant=? AND user_id=?", mine)
                if turn_ids or episode_ids or doomed_facts:
                    for table in ("turns_fts", "episodes_fts", "facts_fts"):  # merge: no segment keeps a term
                        self._conn.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
                    self._drop_fresh()  # full-text search's copies of new turns' text, in the temp schema
            self._vectors.pop(mine, None)
            self._episode_vectors.pop(mine, None)
            self._speakers.pop(mine, None)
            self._turn_counts.pop(mine, None)  # counted again on next need: full text's plan and index check
        pending = bool(turn_ids or episode_ids or doomed_facts) and self._scrub_after_forget()
        return ForgetReceipt(
            turn_ids=turn_ids,
            episode_ids=episode_ids,
            fact_ids=doomed_facts,
            links=links,
            sessions=sessions,
            slots=slots,
            scrub_pending=pending,
        )
