"""The PostgreSQL store's memory state: recall and pins, archive, links, watermarks, forgetting.

Forgetting deletes the rows; their full-text postings and vectors are in the rows, so they go
with them (and out of the GIN and HNSW indexes, which PostgreSQL's vacuum then reclaims;
``VACUUM`` the tables to have the freed space zeroed and reused at once).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from engram.model import Turn
from engram.model.timeutil import from_micros, to_micros
from engram.store.base import ForgetReceipt, MemoryState, UserScope
from engram.store.flags import flag_sets
from engram.store.postgres.connection import Database
from engram.store.postgres.sql import TURN_COLUMNS, turn_from_row

_KIND_TABLE = {"turn": "turns", "episode": "episodes", "fact": "facts"}
_COUNTERS = ("processed_seq", "consolidated_seq", "llm_calls", "llm_prompt_tokens", "llm_completion_tokens")


class StateMixin:
    """Recall, pins, archive, links, watermarks and forgetting for :class:`PostgresStore`."""

    _db: Database
    read_only: bool

    def touch(self, kind: str, scope: UserScope, ids: Sequence[str], at: datetime) -> None:
        if not ids or self.read_only:  # best effort: a standby serves searches, recall is not recorded
            return
        table = _KIND_TABLE[kind]
        counter, stamp = ("visits", "last_visit") if kind == "episode" else ("recalls", "last_recalled")
        with self._db.atomic(durable=False) as conn:
            conn.execute(
                f"UPDATE {table} SET {counter} = {counter} + 1, {stamp} = %s "
                "WHERE tenant=%s AND user_id=%s AND id = ANY(%s)",
                (to_micros(at), scope.tenant, scope.user_id, list(ids)),
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
        table = _KIND_TABLE[kind]
        sets, params = flag_sets(pinned, archived_at, "%s")
        if not sets or not ids:
            return []
        with self._db.atomic(durable=False) as conn:
            found = [
                row[0]
                for row in conn.execute(
                    f"SELECT id FROM {table} WHERE tenant=%s AND user_id=%s AND id = ANY(%s) ORDER BY seq",
                    (scope.tenant, scope.user_id, list(ids)),
                )
            ]
            if found:
                conn.execute(
                    f"UPDATE {table} SET {', '.join(sets)} WHERE tenant=%s AND user_id=%s AND id = ANY(%s)",
                    (*params, scope.tenant, scope.user_id, found),
                )
        return found

    def memory_states(self, kind: str, scope: UserScope) -> list[MemoryState]:
        if kind == "fact":
            sql = "SELECT id, valid_from, 0, importance, recalls, 1, archived_at FROM facts"
        elif kind == "turn":
            sql = "SELECT id, greatest(ts, recorded_at), last_recalled, importance, recalls, pinned, archived_at FROM turns"
        else:
            learned = (
                "(SELECT max(t.recorded_at) FROM turns t WHERE t.tenant = episodes.tenant "
                "AND t.user_id = episodes.user_id AND t.episode_id = episodes.id)"
            )
            sql = (
                f"SELECT id, greatest(end_ts, coalesce({learned}, 0)), last_visit, importance, visits, pinned, "
                "archived_at FROM episodes"
            )
        with self._db.connection() as conn:
            rows = conn.execute(sql + " WHERE tenant=%s AND user_id=%s ORDER BY seq", (scope.tenant, scope.user_id)).fetchall()
        return [
            MemoryState(
                id=row[0],
                kind=kind,
                reinforced_at=from_micros(max(row[1], row[2] or 0)),
                importance=row[3],
                recalls=row[4],
                pinned=bool(row[5]),
                archived_at=from_micros(row[6]) if row[6] is not None else None,
            )
            for row in rows
        ]

    # -- links ----------------------------------------------------------------------------

    def put_links(self, scope: UserScope, links: Sequence[tuple[str, str, str, float]], at: datetime) -> int:
        with self._db.atomic(durable=False) as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO links(tenant, user_id, src, dst, kind, weight, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s) "
                "ON CONFLICT (tenant, user_id, src, dst, kind) DO UPDATE SET weight=excluded.weight, "
                "updated_at=excluded.updated_at",
                [(scope.tenant, scope.user_id, src, dst, kind, weight, to_micros(at)) for src, dst, kind, weight in links],
            )
        return len(links)

    def strengthen_links(self, scope: UserScope, pairs: Sequence[tuple[str, str]], kind: str, at: datetime) -> None:
        if not pairs or self.read_only:
            return
        with self._db.atomic(durable=False) as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO links AS l (tenant, user_id, src, dst, kind, weight, updated_at) "
                "VALUES (%s,%s,%s,%s,%s,1.0,%s) ON CONFLICT (tenant, user_id, src, dst, kind) "
                "DO UPDATE SET weight = l.weight + 1.0, updated_at=excluded.updated_at",
                [(scope.tenant, scope.user_id, src, dst, kind, to_micros(at)) for src, dst in sorted(pairs)],
            )

    def list_links(self, scope: UserScope, ids: Sequence[str] | None = None) -> list[tuple[str, str, str, float]]:
        sql = "SELECT src, dst, kind, weight FROM links WHERE tenant=%s AND user_id=%s"
        params: list[Any] = [scope.tenant, scope.user_id]
        if ids is not None:
            sql += " AND (src = ANY(%s) OR dst = ANY(%s))"
            params += [list(ids), list(ids)]
        with self._db.connection() as conn:
            return [tuple(row) for row in conn.execute(sql + " ORDER BY kind, src, dst", params)]  # type: ignore[misc]

    # -- progress of the write path and of consolidation -------------------------------------

    def lifecycle_state(self, scope: UserScope) -> dict[str, int]:
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {', '.join(_COUNTERS)} FROM lifecycle_state WHERE tenant=%s AND user_id=%s",
                (scope.tenant, scope.user_id),
            ).fetchone()
        return {name: int(value) for name, value in zip(_COUNTERS, row or (0, 0, 0, 0, 0), strict=True)}

    def update_lifecycle_state(self, scope: UserScope, **values: int) -> None:
        sets = []
        for name in values:
            if name in ("processed_seq", "consolidated_seq"):
                sets.append(f"{name} = greatest(s.{name}, excluded.{name})")
            elif name in ("llm_calls", "llm_prompt_tokens", "llm_completion_tokens"):
                sets.append(f"{name} = s.{name} + excluded.{name}")
            else:
                raise ValueError(name)
        names = list(values)
        with self._db.atomic(durable=False) as conn:
            if not names:
                conn.execute(
                    "INSERT INTO lifecycle_state(tenant, user_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    (scope.tenant, scope.user_id),
                )
                return
            conn.execute(
                f"INSERT INTO lifecycle_state AS s (tenant, user_id, {', '.join(names)}) "
                f"VALUES (%s, %s, {', '.join(['%s'] * len(names))}) ON CONFLICT (tenant, user_id) "
                f"DO UPDATE SET {', '.join(sets)}",
                (scope.tenant, scope.user_id, *values.values()),
            )

    def turns_after(
        self, scope: UserScope, seq: int, *, limit: int = 1000, known: Mapping[str, Turn] | None = None
    ) -> list[Turn]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {TURN_COLUMNS} FROM turns WHERE tenant=%s AND user_id=%s AND seq > %s ORDER BY seq LIMIT %s",
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
        """Delete turns (all of a user's, a session's, or these) and everything derived from them,
        by the SQLite store's rules; ``fact_ids`` forgets those facts' whole slot histories."""
        mine = (scope.tenant, scope.user_id)
        where, params = "tenant=%s AND user_id=%s", [*mine]
        if session_id is not None:
            where += " AND session_id=%s"
            params.append(session_id)
        with self._db.atomic() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", mine)
            rows = conn.execute(f"SELECT id, session_id FROM turns WHERE {where} ORDER BY seq", params).fetchall()
            if fact_ids is not None and ids is None:
                rows = []
            if ids is not None:
                wanted = set(ids)
                rows = [row for row in rows if row[0] in wanted]
            turn_ids = [row[0] for row in rows]
            sessions = sorted({row[1] for row in rows})
            gone = set(turn_ids)
            episode_rows = conn.execute(
                "SELECT id, turn_ids FROM episodes WHERE tenant=%s AND user_id=%s ORDER BY seq", mine
            ).fetchall()
            episode_ids = [eid for eid, tids in episode_rows if gone & set(json.loads(tids))]
            facts = conn.execute(
                "SELECT id, slot, source_turn_ids FROM facts WHERE tenant=%s AND user_id=%s ORDER BY seq", mine
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
                    conn.execute(
                        "UPDATE facts SET source_turn_ids=%s WHERE tenant=%s AND user_id=%s AND id=%s",
                        (json.dumps(kept), *mine, fid),
                    )
                elif fid not in doomed_facts:
                    doomed_facts.append(fid)
            doomed = set(doomed_facts)
            slots = sorted({slot for fid, slot, _ in facts if fid in doomed})
            for table, ids_ in (("turns", turn_ids), ("episodes", episode_ids), ("facts", doomed_facts)):
                if ids_:
                    conn.execute(f"DELETE FROM {table} WHERE tenant=%s AND user_id=%s AND id = ANY(%s)", (*mine, ids_))
            every = turn_ids + episode_ids + doomed_facts
            links = 0
            if every:
                links = conn.execute(
                    "DELETE FROM links WHERE tenant=%s AND user_id=%s AND (src = ANY(%s) OR dst = ANY(%s))",
                    (*mine, every, every),
                ).rowcount
            if session_id is None and ids is None:
                conn.execute("DELETE FROM lifecycle_state WHERE tenant=%s AND user_id=%s", mine)
        return ForgetReceipt(
            turn_ids=turn_ids,
            episode_ids=episode_ids,
            fact_ids=doomed_facts,
            links=links,
            sessions=sessions,
            slots=slots,
        )
