"""The SQLite store's full-text search over turns (FTS5, bm25).

A mixin of :class:`~engram.store.sqlite.store.SQLiteStore`: it shares the store's connection,
lock and caches. A user with few turns is ranked by FTS5 scoring every turn holding a query
term. In a large store a query scores only the turns that can rank (MaxScore): each term adds
at most a known amount to a bm25 score, so a turn whose terms' amounts add up below the
``limit``-th score cannot rank and is left out. With no write since the last search, the
query terms' posting lists, read once with each row's single-term score and kept while the
index does not change, rank in memory (:mod:`engram.store.sqlite.postings`, from a floor the
``limit``-th turn is known to reach: :meth:`FullTextMixin._reached`). Right after a write,
FTS5 ranks with a looser bound from each term's count alone, pruning the turns holding a
single common term. Either way the ranking is the one of scoring every match, bit for bit.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from engram.model import SearchFilters
from engram.store.base import Candidate, Match, UserScope
from engram.store.sqlite.postings import Postings, TermPostings, best_first, known_floor_rows, rank_postings
from engram.store.sqlite.sql import (
    MATCH_COLUMNS,
    SQLITE_MAX_VARS,
    TURN_COLUMNS,
    any_term,
    bm25_bound,
    filter_sql,
    match_expression,
    match_from_row,
    turn_from_row,
)

#: The text columns searched (the scope token's column is left out).
_TEXT_COLUMNS = "{content name keys}"
_BM25 = "bm25(turns_fts, 1.0, 0.5, 0.6, 0.0)"  # column weights: content, name, keys, scope token
#: Turns of a user from which full-text search ranks from the terms' posting lists in memory
#: when the index has not changed since the last search (below, FTS5 scoring every match
#: costs about what that path's fixed work does: equal at 2,000 turns, 1.3-1.6 against 2.0-2.1
#: ms at 5,000, 1.8 against 3.8 ms at 10,000, CPU per question in benchmarks/perf.py's stores).
MEMORY_FROM_TURNS = 3_000
#: Turns of a user from which full-text search right after a write leaves common terms out
#: of its candidates.
PRUNE_FROM_TURNS = 20_000
#: The share of turns a term must be in to be left out (when its bound allows).
COMMON_TERM_SHARE = 0.02
#: Most term counts remembered between writes.
MAX_COUNTED_TERMS = 10_000


class FullTextMixin:
    """Full-text search over turns for :class:`SQLiteStore`."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    _turn_counts: dict[tuple[str, str], int]
    #: The index's row count of each term seen, and the state of the database they hold for.
    _fts_counts: tuple[tuple[Any, ...], dict[str, int]] | None = None
    #: Each term's posting list with its single-term scores, for the state of ``_fts_counts``.
    _postings: TermPostings
    _stamps = 0  # stamps made inside transactions
    _sync_caches: Callable[[], None]

    def text_search(
        self,
        scope: UserScope,
        terms: Sequence[str],
        *,
        filters: SearchFilters,
        until: datetime,
        limit: int,
    ) -> list[Candidate]:
        """The ``limit`` turns FTS5's bm25 ranks best for any of ``terms`` (see :meth:`_ranked_rows`)."""
        rows = self._ranked_rows(scope, terms, filters, until, limit, TURN_COLUMNS)
        return [Candidate(turn_from_row(row[:-1]), -float(row[-1])) for row in rows]

    def text_matches(
        self,
        scope: UserScope,
        terms: Sequence[str],
        *,
        filters: SearchFilters,
        until: datetime,
        limit: int,
    ) -> list[Match]:
        """:meth:`text_search`'s ranking as light matches: no turn is built."""
        rows = self._ranked_rows(scope, terms, filters, until, limit, MATCH_COLUMNS)
        return [match_from_row(row[:-1], -float(row[-1])) for row in rows]

    def _ranked_rows(
        self,
        scope: UserScope,
        terms: Sequence[str],
        filters: SearchFilters,
        until: datetime,
        limit: int,
        columns: str,
    ) -> list[tuple[Any, ...]]:
        """Rows of ``columns`` (seq first) and bm25 ranks of the ``limit`` best turns, best first.

        In a large store only turns that can rank are scored: from the terms' posting lists
        in memory when the index has not changed since the last search
        (:meth:`_rank_in_memory`), else by FTS5 with the common terms left out. A term in
        many turns (a speaker's name, "like") adds at most a known bound to a score, so turns
        holding only one such common term, and no other, are left out when that bound is
        below the ``limit``-th score found among the rest; when it is not, the search runs
        again with fewer terms left out. The ranking is the one of scoring every match.
        """
        terms = list(dict.fromkeys(terms))
        if not terms or limit <= 0:
            return []
        where, params = filter_sql(scope, filters, until)
        with self._lock:
            self._sync_caches()
            turns = self._user_turns(scope.tenant, scope.user_id)
            in_memory = turns >= MEMORY_FROM_TURNS and self._postings.budget_bytes > 0  # 0: turned off
            if in_memory and self._fts_counts is not None and self._fts_counts[0] == self._fts_stamp():
                # no write since the last search: the terms' posting lists pay for themselves
                return self._rank_in_memory(scope, turns, terms, where, params, limit, columns)
            if turns < PRUNE_FROM_TURNS:
                if in_memory:
                    self._term_state()  # the next search, if no write comes first, ranks in memory
                return self._every_match(scope, terms, where, params, limit, columns)
            total = self._conn.execute("SELECT max(seq) FROM turns").fetchone()[0] or 0  # >= the rows
            bounds = self._common_terms(terms, total, limit)
            rows = self._rank_text(
                scope, terms, self._pruned(scope, terms, bounds), where, params, limit, columns
            )
            floor = -float(rows[-1][-1]) if len(rows) == limit else 0.0
            if bounds and max(bounds.values()) >= floor:  # a pruned turn might have ranked
                kept = {term: bound for term, bound in bounds.items() if bound < floor}
                kept = kept if _prunable(terms, kept) else {}
                rows = self._rank_text(
                    scope, terms, self._pruned(scope, terms, kept), where, params, limit, columns
                )
        return rows

    @staticmethod
    def _pruned(scope: UserScope, terms: list[str], common: Collection[str]) -> str:
        """The FTS5 query for the user's turns holding a term not in ``common``, or two of them."""
        return match_expression(scope, _TEXT_COLUMNS, terms, common)

    def _rank_in_memory(
        self, scope: UserScope, turns: int, terms: list[str], where: str, params: list[Any], limit: int, columns: str
    ) -> list[tuple[Any, ...]]:
        """Rows of ``columns`` and bm25 ranks, best first, from the terms' posting lists kept in
        memory (:mod:`engram.store.sqlite.postings`): MaxScore from a floor the ``limit``-th
        turn is known to reach, every candidate scored as FTS5 scores it.

        A term's list is read once for the state of the index (one FTS5 walk of its rows,
        with each row's single-term score) and kept under the store's ``fulltext_cache_mb``.
        The lists hold every user's rows (the IDF is the whole index's); for a user holding
        less than half of them (``turns`` is theirs), the candidates are first narrowed to the
        user's rows. The caller has checked that the kept state is the index's.
        """
        for term in terms:
            if term not in self._postings:
                pairs = self._conn.execute(
                    f"SELECT rowid, {_BM25} FROM turns_fts WHERE turns_fts MATCH ?",
                    (any_term(_TEXT_COLUMNS, [term]),),
                ).fetchall()
                self._postings.add(term, Postings.from_rows(pairs), keep=terms)
        lists = self._postings.use(terms)
        held = [postings for postings in lists if len(postings.rows)]
        if not held:
            return []
        floor = 0.0  # below PRUNE_FROM_TURNS, scoring every row costs less than finding a floor
        if turns >= PRUNE_FROM_TURNS:
            known_rows, known = known_floor_rows(lists, limit)
            floor = self._reached(dict(zip(known_rows.tolist(), known.tolist(), strict=True)), where, params, limit)
        top_row = max(int(postings.rows[-1]) for postings in held)
        rows, scores = rank_postings(
            lists, floor, self._postings.scratch(top_row), self._user_rows(scope, turns, top_row)
        )
        for best in (4 * limit, -1):  # the filters checked on the best first, on all only when needed
            ranked, ranked_scores = best_first(rows, scores, best)
            found = self._filtered(
                dict(zip(ranked.tolist(), (-ranked_scores).tolist(), strict=True)),
                where,
                params,
                limit,
                columns,
            )
            if len(found) == limit or len(ranked) < best:
                break
        return found

    def _reached(self, known: dict[int, float], where: str, params: list[Any], limit: int) -> float:
        """A score the ``limit``-th best turn passing ``where`` reaches (0.0 when not known).

        A turn's score is the sum of its terms' single-term scores, so each of a term's best
        rows scores at least the sum of the single-term scores it is ``known`` to have. When
        ``limit`` rows known that way pass the filters, the ``limit``-th of their sums is
        reached (a hair below, against rounding): the candidates of that floor hold every turn
        that can rank.
        """
        if len(known) < limit:
            return 0.0
        ranks = {
            rowid: -score for rowid, score in sorted(known.items(), key=lambda item: (-item[1], item[0]))
        }
        passed = self._filtered(ranks, where, params, limit, "t.seq")
        return -float(passed[-1][-1]) * (1 - 1e-9) if len(passed) == limit else 0.0

    def _user_rows(self, scope: UserScope, turns: int, top_row: int) -> np.ndarray | None:
        """Whether each rowid up to ``top_row`` is the user's (None when the user's ``turns``
        are at least half the index's rows: narrowing would cost more than it leaves out)."""
        rows_at_most = self._conn.execute("SELECT max(seq) FROM turns").fetchone()[0] or 0
        if 2 * turns >= rows_at_most:
            return None
        return self._postings.user_mask(
            (scope.tenant, scope.user_id),
            top_row,
            lambda: self._conn.execute(
                "SELECT seq FROM turns WHERE tenant=? AND user_id=?", (scope.tenant, scope.user_id)
            ).fetchall(),
        )

    def _user_turns(self, tenant: str, user_id: str) -> int:
        """How many turns a user has: counted once, then kept by this process's inserts.

        Deletions leave it high until another connection writes; it only picks a plan.
        """
        key = (tenant, user_id)
        if key not in self._turn_counts:
            self._turn_counts[key] = self._conn.execute(
                "SELECT count(*) FROM turns WHERE tenant=? AND user_id=?", key
            ).fetchone()[0]
        return self._turn_counts[key]

    def _every_match(
        self, scope: UserScope, terms: list[str], where: str, params: list[Any], limit: int, columns: str
    ) -> list[tuple[Any, ...]]:
        """Rows of ``columns`` and bm25 ranks, best first, scoring every turn of the user with a term."""
        sql = (
            f"SELECT {', '.join('t.' + c.strip() for c in columns.split(','))}, {_BM25} AS rank "
            f"FROM turns_fts CROSS JOIN turns t ON t.seq = turns_fts.rowid "
            f"WHERE turns_fts MATCH ? AND {where} ORDER BY rank, t.seq LIMIT ?"
        )
        match = match_expression(scope, _TEXT_COLUMNS, terms)
        return self._conn.execute(sql, [match, *params, limit]).fetchall()

    def _common_terms(self, terms: list[str], total: int, limit: int) -> dict[str, float]:
        """The terms to leave out of the candidates, with their score bounds.

        Those in more than ``COMMON_TERM_SHARE`` of the ``total`` turns, counted over the
        whole index as FTS5 counts them for the IDF. None when fewer than two are common and
        the other terms are in fewer than ``limit`` turns: the candidates could not fill the
        ranking, and the pruning would be undone.
        """
        counts = self._term_counts(terms)
        common = {term: bm25_bound(n, total) for term, n in counts.items() if n > COMMON_TERM_SHARE * total}
        if len(common) < 2 and sum(n for term, n in counts.items() if term not in common) < limit:
            return {}  # too few candidates to fill the ranking: pruning would only have to be undone
        return common if _prunable(terms, common) else {}

    def _term_counts(self, terms: list[str]) -> dict[str, int]:
        """How many rows of the index hold each term, remembered until the index changes.

        A count reads the term's whole posting list (tens of thousands of rows for a common
        term in a large store), and the same words come back query after query. The counts
        are dropped whenever the index changes (:meth:`_fts_stamp`), by this connection or
        another, so they are always the index's own.
        """
        known = self._term_state()
        for term in terms:
            if term not in known:
                known[term] = self._conn.execute(
                    "SELECT count(*) FROM turns_fts WHERE turns_fts MATCH ?",
                    (any_term(_TEXT_COLUMNS, [term]),),
                ).fetchone()[0]
        return {term: known[term] for term in terms}

    def _term_state(self) -> dict[str, int]:
        """The term counts kept for the index's current state; every term cache (counts,
        bounds, posting lists) is started again when the index changed since they were made."""
        stamp = self._fts_stamp()
        if (
            self._fts_counts is None
            or self._fts_counts[0] != stamp
            or len(self._fts_counts[1]) > MAX_COUNTED_TERMS
        ):
            self._fts_counts = (stamp, {})
            self._postings.reset()
        return self._fts_counts[1]

    def _fts_stamp(self) -> tuple[Any, ...]:
        """The state of the full-text index: its averages record (rows, tokens per column) and
        its structure record (segments, and a counter every write moves on).

        Writes that leave the index alone (a context's recall counts) keep it; inside a
        transaction, whose writes the index may not hold yet, it is new every time.
        """
        if self._conn.in_transaction:
            self._stamps += 1
            return ("in a transaction", self._stamps)
        return tuple(
            self._conn.execute("SELECT block FROM turns_fts_data WHERE id IN (1, 10) ORDER BY id").fetchall()
        )

    def _rank_text(
        self,
        scope: UserScope,
        terms: list[str],
        candidates: str,
        where: str,
        params: list[Any],
        limit: int,
        columns: str,
    ) -> list[tuple[Any, ...]]:
        """Rows of ``columns`` and bm25 ranks, best first, of the user's turns the FTS5 query
        ``candidates`` finds.

        Scored by every term, without the scope token: its IDF alone would read all the
        user's rows, and the candidates are the user's already. The filters are checked on
        the best ``4 × limit`` first (each check reads a turn's row), and on all the
        candidates only when too few of those pass.
        """
        sql = (
            f"SELECT rowid, {_BM25} AS rank FROM turns_fts WHERE turns_fts MATCH ? "
            "AND +rowid IN (SELECT rowid FROM turns_fts WHERE turns_fts MATCH ?) ORDER BY rank, rowid LIMIT ?"
        )
        scored = any_term(_TEXT_COLUMNS, terms)
        for best in (4 * limit, -1):  # LIMIT -1: all
            ranked = self._conn.execute(sql, [scored, candidates, best]).fetchall()
            rows = self._filtered(dict(ranked), where, params, limit, columns)
            if len(rows) == limit or len(ranked) < best:
                break
        return rows

    def _filtered(
        self, ranks: dict[int, float], where: str, params: list[Any], limit: int, columns: str
    ) -> list[tuple[Any, ...]]:
        """Rows of ``columns`` (seq first) of the turns ranked in ``ranks`` (best first) that
        pass ``where``, best ``limit`` first.

        Rows are read best first, the first ``limit`` of them, then the rest in chunks, until
        ``limit`` have passed: what comes after ranks below all of those (mostly every turn
        passes, and one read of ``limit`` rows is enough).
        """
        rows: list[tuple[Any, ...]] = []
        ranked = list(ranks)
        size = max(SQLITE_MAX_VARS - len(params), 100)
        start = 0
        while start < len(ranked) and len(rows) < limit:
            chunk = ranked[start : start + (limit if start == 0 else size)]
            start += len(chunk)
            marks = ",".join("?" * len(chunk))
            rows += self._conn.execute(
                f"SELECT {columns} FROM turns t NOT INDEXED WHERE {where} AND t.seq IN ({marks})",
                [*params, *chunk],
            ).fetchall()
        rows.sort(key=lambda row: (ranks[row[0]], row[0]))
        return [(*row, ranks[row[0]]) for row in rows[:limit]]


def _prunable(terms: Sequence[str], common: Collection[str]) -> bool:
    """Whether pruning ``common`` leaves a query: another term, or two common ones."""
    return bool(common) and (len(common) < len(terms) or len(common) >= 2)
