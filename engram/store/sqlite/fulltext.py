"""The SQLite store's full-text search over turns (FTS5, bm25).

A mixin of :class:`~engram.store.sqlite.store.SQLiteStore`: it shares the store's connection,
lock and caches. A user with few turns is ranked by FTS5 scoring every turn holding a query
term. In a large store a query scores only the turns that can rank (MaxScore): each term adds
at most a known amount to a bm25 score, so a turn whose terms' amounts add up below the
``limit``-th score cannot rank and is left out. With no write since the last search, the
query terms' posting lists, read once with each row's single-term score and kept while the
index does not change, rank in memory (:mod:`engram.store.sqlite.postings`, from a floor the
``limit``-th turn is known to reach: :meth:`FullTextMixin._reached`). A write that only
appends turns keeps the lists: each is brought up to date when next used, from the new rows
alone (:mod:`engram.store.sqlite.fulltext_lists`). The candidates' filters (time, archived) are checked, and the matches described, on the
user's vector index, which keeps those columns beside the vectors: no turn row is read for
them. The first search of a process, and any inside a transaction, is FTS5's, with a looser
bound from each term's count alone, pruning the turns holding a single common term. Either
way the ranking is the one of scoring every match, bit for bit.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from engram.model import SearchFilters
from engram.model.timeutil import to_micros
from engram.store.base import Candidate, Match, UserScope
from engram.store.sqlite.fulltext_lists import PostingListsMixin
from engram.store.sqlite.postings import (
    KEYS_WEIGHT,
    Postings,
    best_first,
    known_floor_rows,
    rank_postings,
)
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
from engram.store.vector_cache import VectorCache
from engram.store.vectors import ScopeVectors

#: The text columns searched (the scope token's column is left out).
_TEXT_COLUMNS = "{content name keys}"
_BM25 = f"bm25(turns_fts, 1.0, 0.5, {KEYS_WEIGHT}, 0.0)"  # column weights: content, name, keys, scope token
#: The same with the keys alone weighed (1.0): what a row's count in its keys is read from.
_KEYS_BM25 = "bm25(turns_fts, 0.0, 0.0, 1.0, 0.0)"
#: A term's posting list: every row holding it, with both scores.
_READ_LIST = f"SELECT rowid, {_BM25}, {_KEYS_BM25} FROM turns_fts WHERE turns_fts MATCH ?"
#: Turns of a user from which full-text search ranks from the terms' posting lists in memory,
#: from the second search of the process on (below, FTS5 scoring every match
#: costs about what that path's fixed work does: equal at 2,000 turns, 1.3-1.6 against 2.0-2.1
#: ms at 5,000, 1.8 against 3.8 ms at 10,000, CPU per question in benchmarks/perf.py's stores).
MEMORY_FROM_TURNS = 3_000
#: Turns of a user from which full-text search by FTS5 (the first of a process, or inside a
#: transaction) leaves common terms out of its candidates.
PRUNE_FROM_TURNS = 20_000
#: The share of turns a term must be in to be left out (when its bound allows).
COMMON_TERM_SHARE = 0.02
#: Most term counts remembered between writes.
MAX_COUNTED_TERMS = 10_000


class FullTextMixin(PostingListsMixin):
    """Full-text search over turns for :class:`SQLiteStore`."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    _turn_counts: dict[tuple[str, str], int]
    _vectors: VectorCache[tuple[str, str]]
    #: The index's row count of each term seen, and the state of the database they hold for.
    _fts_counts: tuple[tuple[Any, ...], dict[str, int]] | None = None
    #: Whether a search has been eligible to rank in memory (the next ones do).
    _wants_lists = False
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

    def text_count(self, scope: UserScope, terms: Sequence[str]) -> int:
        """How many of the user's turns hold any of ``terms`` (the scope token narrows the match)."""
        terms = list(dict.fromkeys(terms))
        if not terms:
            return 0
        with self._lock:
            row = self._conn.execute(
                "SELECT count(*) FROM turns_fts WHERE turns_fts MATCH ?", (match_expression(scope, _TEXT_COLUMNS, terms),)
            ).fetchone()
        return int(row[0])

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
        in memory (:meth:`_rank_in_memory`), or, in the process's first search and inside a
        transaction, by FTS5 with the common terms left out. A term in
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
            in_memory = (
                turns >= MEMORY_FROM_TURNS
                and self._postings.budget_bytes > 0  # 0: turned off
                and not self._conn.in_transaction  # the index may not hold the transaction's writes yet
            )
            if in_memory and self._wants_lists:
                with self._snapshot():
                    self._sync_postings()
                    self._sync_caches()  # as of the snapshot: the vector index holds what the full text does
                    check = self._index_check(scope, filters, until)
                    return self._rank_in_memory(scope, turns, terms, where, params, limit, columns, check)
            # a process's first search: FTS5 ranks; the lists, which outlive appends, from the next on
            self._wants_lists = self._wants_lists or in_memory
            if turns < PRUNE_FROM_TURNS:
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
        self,
        scope: UserScope,
        turns: int,
        terms: list[str],
        where: str,
        params: list[Any],
        limit: int,
        columns: str,
        check: IndexCheck | None = None,
    ) -> list[tuple[Any, ...]]:
        """Rows of ``columns`` and bm25 ranks, best first, from the terms' posting lists kept in
        memory (:mod:`engram.store.sqlite.postings`): MaxScore from a floor the ``limit``-th
        turn is known to reach, every candidate scored as FTS5 scores it.

        A term's list is read once (one FTS5 walk of its rows, with each row's single-term
        score and its count in the keys) and kept under the store's ``fulltext_cache_mb``;
        after rows were appended, only the new rows holding the term are read
        (:meth:`Postings.extended`). The lists hold every user's rows (the IDF is the whole
        index's); for a user holding less than half of them (``turns`` is theirs), the
        candidates are first narrowed to the user's rows. The caller has brought the kept
        state to the index's (:meth:`_sync_postings`). With ``check``, the filters are checked
        on the user's vector index instead of the turns' rows (:meth:`_index_check`).
        """
        kept = self._postings
        for term in terms:
            postings = kept.get(term)
            if postings is not None and postings.version == kept.version:
                continue
            match = any_term(_TEXT_COLUMNS, [term])
            if postings is not None:  # behind the index by appended rows (else it was dropped)
                assert kept.stats is not None  # lists outlive only changes that keep the state known
                postings = self._brought_up_to_date(postings, match, kept)
            if postings is None:
                every = self._conn.execute(_READ_LIST, (match,)).fetchall()
                postings = Postings.read(every, kept.stats, kept.lengths, kept.version)
            kept.add(term, postings, keep=terms)
        lists = self._postings.use(terms)
        held = [postings for postings in lists if len(postings.rows)]
        if not held:
            return []
        floor = 0.0  # below PRUNE_FROM_TURNS, scoring every row costs less than finding a floor
        if turns >= PRUNE_FROM_TURNS:
            known_rows, known = known_floor_rows(lists, limit)
            floor = self._reached(
                dict(zip(known_rows.tolist(), known.tolist(), strict=True)), where, params, limit, check
            )
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
                check,
            )
            if len(found) == limit or len(ranked) < best:
                break
        return found

    def _reached(
        self, known: dict[int, float], where: str, params: list[Any], limit: int, check: IndexCheck | None = None
    ) -> float:
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
        passed = self._filtered(ranks, where, params, limit, "t.seq", check)
        return -float(passed[-1][-1]) * (1 - 1e-9) if len(passed) == limit else 0.0

    def _user_rows(self, scope: UserScope, turns: int, top_row: int) -> np.ndarray | None:
        """Whether each rowid up to ``top_row`` is the user's (None when the user's ``turns``
        are at least half the index's rows: narrowing would cost more than it leaves out)."""
        stats = self._postings.stats  # the index's rows as of this search; else a bound above them
        rows = stats.rows if stats is not None else self._conn.execute("SELECT max(seq) FROM turns").fetchone()[0] or 0
        if 2 * turns >= rows:
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
        """The term counts kept for the index's current state, started again when it changed."""
        stamp = self._fts_stamp()
        if (
            self._fts_counts is None
            or self._fts_counts[0] != stamp
            or len(self._fts_counts[1]) > MAX_COUNTED_TERMS
        ):
            self._fts_counts = (stamp, {})
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
        return tuple(self._index_records())

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
        self,
        ranks: dict[int, float],
        where: str,
        params: list[Any],
        limit: int,
        columns: str,
        check: IndexCheck | None = None,
    ) -> list[tuple[Any, ...]]:
        """Rows of ``columns`` (seq first) of the turns ranked in ``ranks`` (best first) that
        pass ``where``, best ``limit`` first.

        With ``check`` (and ``columns`` a match's or the seq alone), the turns the user's
        vector index holds are checked and described by it, without reading their rows; the
        others (another user's turns, or the user's stored without a vector) are read, unless
        the index holds every turn of the user (:class:`IndexCheck`). Otherwise rows are read best first,
        the first ``limit`` of them, then the rest in chunks, until ``limit`` have passed:
        what comes after ranks below all of those (mostly every turn passes, and one read of
        ``limit`` rows is enough).
        """
        if check is not None and columns in (MATCH_COLUMNS, "t.seq"):
            return self._filtered_by_index(ranks, where, params, limit, columns, check)
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

    def _filtered_by_index(
        self, ranks: dict[int, float], where: str, params: list[Any], limit: int, columns: str, check: IndexCheck
    ) -> list[tuple[Any, ...]]:
        """:meth:`_filtered` with the filters checked, and the matches described, by the user's
        vector index: the same rows, without reading a turn's row (0.3-0.8 ms a search at 10k
        turns)."""
        ranked = np.fromiter(ranks, dtype=np.int64, count=len(ranks))
        held, passed = check.index.visible(
            ranked, until=check.until, since=check.since, include_archived=check.include_archived
        )
        read: list[tuple[Any, ...]] = []
        if not check.every_turn and not held.all():  # another user's turns, or the user's without a vector
            unheld = {seq: ranks[seq] for seq in ranked[~held].tolist()}
            read = self._filtered(unheld, where, params, len(unheld), columns)
        best = sorted(
            [(ranks[seq], seq) for seq in ranked[passed].tolist()] + [(row[-1], row[0]) for row in read]
        )[:limit]
        if columns != MATCH_COLUMNS:
            return [(seq, rank) for rank, seq in best]
        from_rows = {row[0]: row for row in read}
        described = iter(check.index.describe([seq for _, seq in best if seq not in from_rows]))
        return [from_rows[seq] if seq in from_rows else (seq, *next(described), rank) for rank, seq in best]

    def _index_check(self, scope: UserScope, filters: SearchFilters, until: datetime) -> IndexCheck | None:
        """The user's vector index as the judge of which ranked turns pass ``filters``, when it is
        loaded and they are of time and archiving alone (it keeps each turn's id, role, speaker,
        time and archived flag beside its vectors, current with the store's writes); else None."""
        if scope.agent_id is not None or filters.session_ids or filters.roles or filters.metadata:
            return None
        index = self._vectors.get((scope.tenant, scope.user_id))
        if index is None:
            return None
        return IndexCheck(
            index,
            to_micros(until if filters.until is None else min(until, filters.until)),
            to_micros(filters.since) if filters.since is not None else None,
            filters.include_archived,
            every_turn=index.turns == self._user_turns(scope.tenant, scope.user_id),
        )


@dataclass(frozen=True, slots=True)
class IndexCheck:
    """The filters of a search as the user's vector index checks them (times in microseconds).

    ``every_turn``: the index holds every turn of the user (as many as the user's count, which
    is never below theirs), so a candidate it does not hold is another user's and is left out
    unread; else such candidates are read (a turn stored without a vector)."""

    index: ScopeVectors
    until: int
    since: int | None
    include_archived: bool
    every_turn: bool


def _prunable(terms: Sequence[str], common: Collection[str]) -> bool:
    """Whether pruning ``common`` leaves a query: another term, or two common ones."""
    return bool(common) and (len(common) < len(terms) or len(common) >= 2)
