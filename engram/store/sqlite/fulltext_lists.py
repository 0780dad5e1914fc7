"""Full text's posting lists kept in step with the FTS5 index across appends.

A mixin of :class:`~engram.store.sqlite.store.SQLiteStore` under
:class:`~engram.store.sqlite.fulltext.FullTextMixin`, which ranks from the lists
(:mod:`engram.store.sqlite.postings`). Here is how the kept lists follow the index: a read
snapshot for one search, the index's state told apart as "only appended since" or "changed
otherwise" (:meth:`PostingListsMixin._sync_postings`), every row's length read from FTS5's
``docsize`` table, and the rows appended since the lists were read copied into a small
full-text table of the connection's own, from which each list takes in its new rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np

from engram.store.sqlite.postings import (
    KEYS_WEIGHT,
    IndexStats,
    Postings,
    TermPostings,
    fts5_varints,
    ranked_columns,
    weighted_counts,
)

#: A connection's own small full-text table (SQLite's temp schema) of the rows appended since
#: the kept lists were read, tokenized as the index is: a term's weighted count in a new row
#: is read from it. bm25 on the index itself would first count the term's rows for its IDF,
#: walking its whole posting list (about 40 ms for a common term at a million rows).
_FRESH = "engram_fresh_fts"
_FRESH_RANKS = f"bm25({_FRESH}, 1.0, 0.5, {KEYS_WEIGHT}, 0.0), bm25({_FRESH}, 0.0, 0.0, 1.0, 0.0)"
#: Most rows appended between two searches that the lists take in; past it (a bulk import),
#: they are dropped and read again.
MAX_FRESH_ROWS = 5_000
#: Rows the fresh table holds before those every kept list has taken in are left out.
FRESH_KEEP_ROWS = 1_000


class PostingListsMixin:
    """The kept posting lists' state and the connection's fresh table, following the index."""

    _conn: sqlite3.Connection
    #: Each term's posting list with its single-term scores, and the index's state they are for.
    _postings: TermPostings
    #: The index's records (averages, structure) :attr:`_postings` was last brought to.
    _postings_stamp: list[tuple[Any, ...]] | None = None
    #: The fresh table (:data:`_FRESH`): whether it was made, the lowest rowid it holds every
    #: row from (None: it serves no list yet), its rows and its state.
    _fresh_made = False
    _fresh_from: int | None = None
    _fresh_rows = 0
    _fresh_stats: IndexStats | None = None

    def _brought_up_to_date(self, postings: Postings, match: str, kept: TermPostings) -> Postings | None:
        """``postings`` of the term ``match`` finds, for the index's state after rows were
        appended: the new rows holding it, and its weighted count in each, from the fresh
        table (None when they cannot be had: the caller reads the list whole).

        The fresh table's bm25 scores, with its own IDF and average length, give the counts
        back (:func:`weighted_counts`, checked to the bit against them)."""
        assert kept.stats is not None
        table = self._fresh_stats
        if table is None or self._fresh_from is None or self._fresh_from > postings.upto + 1:
            return None
        found = self._conn.execute(f"SELECT rowid, {_FRESH_RANKS} FROM temp.{_FRESH} WHERE {_FRESH} MATCH ?", (match,))
        ids, (scores, keys) = ranked_columns(found.fetchall(), 2)
        freqs = weighted_counts(scores, keys, kept.lengths[ids], table.idf(len(ids)), table.avgdl)
        if freqs is None:
            return None
        new = ids > postings.upto
        return postings.extended(ids[new], freqs[new], kept.stats, kept.lengths, kept.version)

    def _refresh_fresh(self, appended_after: int, upto: int) -> None:
        """Copy into the fresh table the rows appended above ``appended_after`` (the index now
        ends at ``upto``), as the index holds them. Past :data:`FRESH_KEEP_ROWS` rows, those
        every kept list holds already are left out."""
        if not self._fresh_made:
            tokenizer = self._conn.execute("SELECT sql FROM sqlite_master WHERE name = 'turns_fts'").fetchone()[0]
            tokenizer = tokenizer.split("tokenize=", 1)[1].rsplit(")", 1)[0]
            self._conn.execute("PRAGMA temp.secure_delete=ON")  # what is deleted here is zeroed too
            self._conn.execute(f"DROP TABLE IF EXISTS temp.{_FRESH}")
            self._conn.execute(
                f"CREATE VIRTUAL TABLE temp.{_FRESH} USING fts5(content, name, keys, scope_key, tokenize={tokenizer})"
            )
            self._fresh_made, self._fresh_rows = True, 0
        if self._fresh_from is None:  # empty: it serves the lists read up to here
            self._fresh_from = appended_after + 1
        self._fresh_rows += self._conn.execute(
            f"INSERT INTO temp.{_FRESH}(rowid, content, name, keys, scope_key) "
            "SELECT seq, content, name, keys, scope_key FROM turns WHERE seq > ?",
            (appended_after,),
        ).rowcount
        if self._fresh_rows > FRESH_KEEP_ROWS:
            oldest = self._postings.upto_of_all()
            below = upto if oldest is None else oldest
            if below >= self._fresh_from:
                self._conn.execute(f"DELETE FROM temp.{_FRESH} WHERE rowid <= ?", (below,))
                self._fresh_from = below + 1
                self._fresh_rows = self._conn.execute(f"SELECT count(*) FROM temp.{_FRESH}").fetchone()[0]
        record = self._conn.execute(f"SELECT block FROM temp.{_FRESH}_data WHERE id = 1").fetchone()
        self._fresh_stats = IndexStats.from_averages(record[0]) if record else IndexStats(0, (), 0)

    def _empty_fresh(self) -> None:
        """Empty the fresh table (the lists were dropped)."""
        if self._fresh_made and self._fresh_rows:
            self._conn.execute(f"DELETE FROM temp.{_FRESH}")
        self._fresh_from, self._fresh_stats, self._fresh_rows = None, None, 0

    def _drop_fresh(self) -> None:
        """Drop the fresh table (turns were forgotten: no copy of their text stays in the
        connection's temp schema); the kept lists are dropped at the next search."""
        self._conn.execute(f"DROP TABLE IF EXISTS temp.{_FRESH}")
        self._fresh_made = False
        self._empty_fresh()

    def _index_records(self) -> list[tuple[Any, ...]]:
        """The full-text index's averages record (id 1) and structure record (id 10)."""
        return self._conn.execute("SELECT id, block FROM turns_fts_data WHERE id IN (1, 10) ORDER BY id").fetchall()

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One read transaction: the index's records, row lengths and posting lists read inside
        it are of one state of the index, whatever another process writes meanwhile."""
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            self._conn.execute("COMMIT")

    def _sync_postings(self) -> None:
        """Bring the kept posting lists' state to the index's: moved on when turns were only
        appended since (each list is brought up to date when next used), else started again.

        Appended only: the row count is the old one plus the rows above the last row known,
        the tokens of each column likewise, and the last row known is still the same turn.
        Turns are immutable (a trigger refuses changes to the text), so a deletion is the one
        other change a write makes to the index, and it fails the count. (The index's ``keys``
        column is only written with the turn: nothing updates it in place.)
        """
        records = self._index_records()
        if records == self._postings_stamp:
            return
        averages = dict(records).get(1)  # none in an empty index
        state = IndexStats.from_averages(averages) if averages is not None else None
        old = self._postings.stats
        appended = self._appended(old, state) if old is not None and state is not None else None
        if appended is None or len(appended[1]) > MAX_FRESH_ROWS:
            self._postings.reset(*self._whole_index(state))
            self._empty_fresh()
        elif appended[0] != old:
            assert old is not None
            self._postings.advance(*appended)
            self._refresh_fresh(old.upto, appended[0].upto)
        self._postings_stamp = records

    def _appended(
        self, old: IndexStats, state: IndexStats
    ) -> tuple[IndexStats, np.ndarray, np.ndarray, list[tuple[int, Any]]] | None:
        """The index's new state (``state`` as its averages record gives it), the rows appended
        since ``old`` with their lengths and owners, when it changed only by appended rows
        (else None)."""
        if len(state.tokens) != len(old.tokens):
            return None
        sizes = self._row_sizes(old.upto, len(state.tokens))
        if sizes is None:
            return None
        new, counts = sizes
        added = tuple(int(n) for n in counts.sum(axis=0)) if len(new) else (0,) * len(state.tokens)
        if state.rows != old.rows + len(new) or state.tokens != tuple(map(sum, zip(old.tokens, added, strict=True))):
            return None
        if self._turn_at(old.upto) != old.marker:
            return None
        if not len(new):
            return old, new, counts.sum(axis=1), []
        owned = self._conn.execute(
            "SELECT seq, tenant, user_id, id FROM turns WHERE seq > ? ORDER BY seq", (old.upto,)
        ).fetchall()
        upto = int(new[-1])
        if not owned or owned[-1][0] != upto:
            return None
        return (
            replace(state, upto=upto, marker=owned[-1][3]),
            new,
            counts.sum(axis=1),
            [(seq, (tenant, user)) for seq, tenant, user, _ in owned],
        )

    def _whole_index(
        self, state: IndexStats | None
    ) -> tuple[IndexStats | None, np.ndarray | None, np.ndarray | None]:
        """The index's state (``state`` as its averages record gives it; None: empty) and every
        row's length, read whole (None when they do not agree)."""
        sizes = self._row_sizes(0, len(state.tokens)) if state is not None else None
        if state is None or sizes is None:
            return None, None, None
        ids, counts = sizes
        if len(ids) != state.rows or tuple(int(n) for n in counts.sum(axis=0)) != state.tokens:
            return None, None, None
        upto = int(ids[-1]) if len(ids) else 0
        return replace(state, upto=upto, marker=self._turn_at(upto)), ids, counts.sum(axis=1)

    def _row_sizes(self, after: int, columns: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The rowids above ``after`` in the index, ascending, and each one's tokens per column
        (FTS5's ``docsize`` table: one varint a column a row, read as one blob; a million rows
        in about half a second). None when the records do not decode."""
        low, high, sizes = self._conn.execute(
            "SELECT (SELECT min(id) FROM turns_fts_docsize WHERE id > ?1), "
            "(SELECT max(id) FROM turns_fts_docsize), "
            "(SELECT CAST(group_concat(sz, '') AS BLOB) "
            " FROM (SELECT sz FROM turns_fts_docsize WHERE id > ?1 ORDER BY id))",
            (after,),
        ).fetchone()
        if low is None:
            return np.zeros(0, dtype=np.int64), np.zeros((0, columns), dtype=np.int64)
        counts = fts5_varints(sizes)
        if len(counts) % columns:
            return None
        rows = len(counts) // columns
        if high - low + 1 == rows:  # no gap: every rowid from low to high
            rowids = np.arange(low, high + 1, dtype=np.int64)
        else:
            ids = self._conn.execute(
                "SELECT group_concat(id) FROM (SELECT id FROM turns_fts_docsize WHERE id > ? ORDER BY id)", (after,)
            ).fetchone()[0]
            rowids = np.fromstring(ids, dtype=np.int64, sep=",")
            if len(rowids) != rows:
                return None
        return rowids, counts.reshape(-1, columns)

    def _turn_at(self, seq: int) -> str | None:
        """The id of the turn stored at rowid ``seq`` (None when there is none)."""
        row = self._conn.execute("SELECT id FROM turns WHERE seq=?", (seq,)).fetchone()
        return row[0] if row else None
