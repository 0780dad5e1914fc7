"""Full-text ranking in memory for large stores: each query term's rows and single-term scores,
kept while the index does not change, and MaxScore over them with numpy.

FTS5's bm25 of a query is the sum, in the query's term order, of what each term adds to the
row: ``idf × f × (k1 + 1) / (f + k1 × (1 − b + b × D / avgdl))``. A term's IDF, its weighted
count in the row and the row's length ``D`` do not depend on the other terms, so a row's
single-term score for a term is exactly what that term adds inside any longer query, and
adding the single-term scores in the query's order, from 0.0, repeats FTS5's own arithmetic
bit for bit. :class:`TermPostings` keeps, per term, every row holding it (its posting list)
with that score, read once from FTS5 (one walk of the term's rows) and kept until the index
changes, under a memory budget (least recently used terms dropped first).

:func:`rank_postings` ranks with them the way MaxScore does: given a score ``floor`` the
``limit``-th result is known to reach, the terms whose best scores add up to less than it
(the common ones) cannot make a row rank alone, so only rows holding one of the other terms
are candidates; a candidate whose known part plus those terms' bounds is below the floor is
dropped, and the rest are scored exactly. At a million turns that is a few milliseconds where
FTS5 walks every term's rows two or three times (about 90 ms for a seven-term question).

A write that only appends rows does not drop the lists. With each row's weighted count ``f``
(worked out from its score when the list is read, and checked: the row's score computed again
from it must be FTS5's to the bit) and each row's length ``D`` (the index's ``docsize``
table, read once and then only for new rows), a list is brought up to date when next used:
the new rows holding the term are read from FTS5 (``rowid > ?``, a seek), and every row's
score is computed again with the new IDF and average length exactly as FTS5 computes it
(:func:`bm25_scores`, the arithmetic of ``fts5Bm25Function`` in the same order). A deletion or
an update in the index (the row count and the per-column token totals do not add up to the
old ones plus the new rows') drops every list, as any change did before.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engram.store.sqlite.sql import BM25_B, BM25_K1

#: The default memory budget of the kept posting lists of one store, in MiB (24 bytes a
#: row holding a term: a question's terms at a million turns hold a few hundred thousand).
FULLTEXT_CACHE_MB = 256
#: A hair above each bound and below each floor, against rounding in sums taken in another order.
_HAIR = 1e-9
#: Most users whose row masks are kept (a byte per row of the index each).
MAX_USER_MASKS = 8
#: The weight of the column whose count is read apart (the turn's keys): the other columns'
#: weights (content 1.0, name 0.5, scope 0.0) add up exactly, 0.6 does not.
KEYS_WEIGHT = 0.6


@dataclass(frozen=True)
class IndexStats:
    """What FTS5's bm25 takes from the whole index, for one state of it.

    Attributes:
        rows: the rows in the index (FTS5's ``xRowCount``).
        tokens: the tokens in each column over all rows (``xColumnTotalSize``).
        upto: the highest rowid whose length is known (rows appended later have higher ones).
        marker: what identifies the row ``upto`` (a turn's id): if it is gone or another
            row took its rowid, the index was not only appended to.
    """

    rows: int
    tokens: tuple[int, ...]
    upto: int
    marker: Any = None

    @classmethod
    def from_averages(cls, record: bytes, upto: int = 0, marker: Any = None) -> IndexStats:
        """From an FTS5 table's averages record (its ``_data`` row 1: the row count, then each
        column's tokens, as varints)."""
        counts = fts5_varints(record)
        return cls(int(counts[0]), tuple(int(n) for n in counts[1:]), upto, marker)

    @property
    def avgdl(self) -> float:
        """The average row length, as FTS5 divides it."""
        return float(sum(self.tokens)) / float(self.rows) if self.rows else 0.0

    def idf(self, hits: int) -> float:
        """FTS5's IDF of a term held by ``hits`` rows (clamped to 1e-6 when not positive)."""
        idf = math.log((self.rows - hits + 0.5) / (hits + 0.5))
        return idf if idf > 0.0 else 1e-6


def bm25_scores(freqs: np.ndarray, lengths: np.ndarray, idf: float, avgdl: float) -> np.ndarray:
    """One term's bm25 score in rows of weighted counts ``freqs`` and lengths ``lengths``: the
    arithmetic of SQLite's ``fts5Bm25Function`` in its order (``0.0 + idf × (f × (k1 + 1)) /
    (f + k1 × (1 − b + b × D / avgdl))``), so the bits are FTS5's."""
    scores: np.ndarray = 0.0 + idf * ((freqs * (BM25_K1 + 1.0)) / (freqs + _length_norm(lengths, avgdl)))
    return scores


def _length_norm(lengths: np.ndarray, avgdl: float) -> np.ndarray:
    """``k1 × (1 − b + b × D / avgdl)`` of rows of lengths ``lengths``, in FTS5's order."""
    return BM25_K1 * ((1 - BM25_B) + BM25_B * lengths.astype(np.float64) / avgdl)


def weighted_counts(
    scores: np.ndarray, keys_scores: np.ndarray, lengths: np.ndarray, idf: float, avgdl: float
) -> np.ndarray | None:
    """Each row's weighted count of a term, from its score (column weights 1.0, 0.5,
    :data:`KEYS_WEIGHT`, 0.0) and its score with the keys column alone weighed (1.0): None
    unless every row's score computed again from it is ``scores`` to the bit.

    FTS5 adds a column's weight once for each time the term is in it, column by column: the
    content's and the name's weights add up exactly (whole and half numbers), the keys' 0.6
    rounds, so the keys' count is read from the second score (a whole number) and added last.
    """
    if not len(scores):
        return np.zeros(0)
    norm = _length_norm(lengths, avgdl)
    top = idf * (BM25_K1 + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        in_keys = np.where(keys_scores > 0, np.rint(keys_scores * norm / (top - keys_scores)), 0.0)
        whole = np.rint((scores * norm / (top - scores) - KEYS_WEIGHT * in_keys) * 2) / 2
    if not (np.isfinite(whole).all() and np.isfinite(in_keys).all()):
        return None
    freqs = whole.copy()
    for n in range(int(in_keys.max(initial=0))):
        freqs[in_keys > n] += KEYS_WEIGHT
    return freqs if np.array_equal(bm25_scores(freqs, lengths, idf, avgdl), scores) else None


def fts5_varints(data: bytes) -> np.ndarray:
    """The varints packed in ``data`` (FTS5's ``docsize`` and averages records: SQLite's
    varints, seven bits a byte, most significant first, the high bit set on all but the last;
    values below 2^56)."""
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    last = raw < 0x80  # each varint's last byte
    if last.all():  # every value below 128: one byte each (most column sizes)
        return raw
    ends = np.flatnonzero(last)
    which: np.ndarray = np.cumsum(last) - last  # each byte's varint: the varints ended before it
    at = np.arange(len(raw))
    parts = (raw & 0x7F) << (7 * (ends[which] - at))  # shifted by the bytes still to come
    return np.add.reduceat(parts, np.concatenate(([0], ends[:-1] + 1)))


@dataclass
class Postings:
    """The rows holding one term, in row order, and the term's single-term bm25 score in each
    (positive, higher is better).

    Attributes:
        rows: rowids of the index, ascending.
        scores: the term's single-term score in each row.
        best: the highest score (0.0 when no row holds the term).
        freqs: the term's weighted count in each row, which brings the list up to date after
            rows are appended (:meth:`extended`); None when it could not be worked out.
        upto: the highest rowid of the index the list was read for.
        version: the :attr:`TermPostings.version` (state of the index) its scores are for.
    """

    rows: np.ndarray
    scores: np.ndarray
    best: float
    freqs: np.ndarray | None = None
    upto: int = 0
    version: int = 0
    _top: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[int, float]]) -> Postings:
        """From FTS5's ``(rowid, bm25 rank)`` pairs (ranks are negative scores), any order."""
        ids, (scores,) = ranked_columns(rows, 1)
        return cls(ids, scores, float(scores.max()) if len(scores) else 0.0)

    @classmethod
    def read(
        cls, rows: Sequence[tuple[int, float, float]], stats: IndexStats | None, lengths: np.ndarray, version: int
    ) -> Postings:
        """From FTS5's ``(rowid, bm25 rank, rank with the keys alone weighed)`` rows of every row
        holding the term, read for the index's state ``stats`` (None: not known), with the
        weighted counts when they can be worked out (every row's length in ``lengths``)."""
        ids, (scores, keys) = ranked_columns(rows, 2)
        freqs = None
        if stats is not None and (not len(ids) or ids[-1] <= stats.upto):
            freqs = weighted_counts(scores, keys, lengths[ids], stats.idf(len(ids)), stats.avgdl)
        best = float(scores.max()) if len(scores) else 0.0
        return cls(ids, scores, best, freqs, stats.upto if stats is not None else 0, version)

    def extended(
        self, rows: np.ndarray, freqs: np.ndarray, stats: IndexStats, lengths: np.ndarray, version: int
    ) -> Postings | None:
        """The list for the index's state ``stats`` after rows were only appended: ``rows``
        (ascending, all above :attr:`upto`) are the new rows holding the term, ``freqs`` the
        term's weighted count in each; every row's score is computed again with the term's
        new IDF and the new average length. None when the list keeps no counts (the caller
        reads it whole)."""
        if self.freqs is None or (len(rows) and (rows[0] <= self.upto or rows[-1] > stats.upto)):
            return None
        every = np.concatenate([self.rows, rows])
        counts = np.concatenate([self.freqs, freqs])
        idf = stats.idf(len(every))
        scores = bm25_scores(counts, lengths[every], idf, stats.avgdl)
        best = float(scores.max()) if len(scores) else 0.0
        # the old best rows stay the ones floors start from: any rows give a floor that is reached
        return Postings(every, scores, best, counts, stats.upto, version, self._top)

    @property
    def nbytes(self) -> int:
        """The list's memory (its few best rows, kept for floors, are left out)."""
        return int(self.rows.nbytes + self.scores.nbytes + (self.freqs.nbytes if self.freqs is not None else 0))

    def top_rows(self, n: int) -> np.ndarray:
        """The rowids of the ``n`` best rows (all when fewer), in no order; kept for the next ask."""
        if len(self._top) < min(n, len(self.rows)):
            picked = (
                np.argpartition(-self.scores, n - 1)[:n] if n < len(self.rows) else np.arange(len(self.rows))
            )
            self._top = self.rows[picked]
        return self._top[:n]

    def scores_of(self, rows: np.ndarray) -> np.ndarray:
        """The term's score in each of ``rows`` (sorted), 0.0 where it is absent."""
        out = np.zeros(len(rows))
        if len(self.rows) and len(rows):
            at = np.minimum(np.searchsorted(self.rows, rows), len(self.rows) - 1)
            held = self.rows[at] == rows
            out[held] = self.scores[at[held]]
        return out


class TermPostings:
    """Posting lists of the terms searched, under a memory budget, and what bm25 takes from
    the whole index for its current state (:attr:`stats`, each row's length).

    Derived state. When rows were only appended to the index, :meth:`advance` moves to the new
    state: each kept list is brought up to date when next used (:meth:`Postings.extended`),
    its :attr:`Postings.version` telling it is behind. Any other change drops everything
    (:meth:`reset`; the caller tells them apart). A term evicted is read again when next
    searched. The lists of the terms in use are never evicted, so one query's terms are held
    even above the budget.
    """

    def __init__(self, budget_bytes: int = FULLTEXT_CACHE_MB * 2**20) -> None:
        if budget_bytes < 0:
            raise ValueError("the full-text cache's budget cannot be negative")
        self.budget_bytes = budget_bytes
        self._lists: OrderedDict[str, Postings] = OrderedDict()
        self._total = 0
        self._scratch = np.zeros(0)  # one score a rowid, all 0.0 between uses
        self._masks: OrderedDict[Hashable, np.ndarray] = OrderedDict()  # whose rows each rowid is
        #: The index's state the lists are (or are brought up) to, and its rows' lengths.
        self.stats: IndexStats | None = None
        self.lengths = np.zeros(0, dtype=np.int32)  # each rowid's tokens, all columns
        self.version = 0  # moves on with every change of the index

    def __contains__(self, term: object) -> bool:
        return term in self._lists

    def __len__(self) -> int:
        return len(self._lists)

    @property
    def nbytes(self) -> int:
        """The memory the kept lists, the users' masks and the scratch array hold."""
        return (
            self._total
            + int(self._scratch.nbytes)
            + int(self.lengths.nbytes)
            + sum(int(mask.nbytes) for mask in self._masks.values())
        )

    def reset(self, stats: IndexStats | None = None, rows: np.ndarray | None = None, lengths: np.ndarray | None = None) -> None:
        """Forget every list and mask (the index changed, not only by appends) and start from
        the index's ``stats``, with the length of each of its ``rows`` (None: not known, the
        lists read are then dropped at the next change)."""
        self._lists.clear()
        self._masks.clear()
        self._total = 0
        self.version += 1
        self.stats = stats
        self.lengths = np.zeros(0, dtype=np.int32)
        if stats is not None and rows is not None and lengths is not None:
            self._set_lengths(stats.upto, rows, lengths)

    def advance(
        self, stats: IndexStats, rows: np.ndarray, lengths: np.ndarray, owners: Sequence[tuple[int, Hashable]]
    ) -> None:
        """Move to the index's state ``stats`` after ``rows`` (with their ``lengths``) were
        appended, owned as ``owners`` says (``(rowid, user)``: the kept users' masks grow).
        Lists that cannot be brought up to date are dropped."""
        self.version += 1
        self.stats = stats
        self._set_lengths(stats.upto, rows, lengths)
        for term in [term for term, postings in self._lists.items() if postings.freqs is None]:
            self._total -= self._lists.pop(term).nbytes
        for user, mask in list(self._masks.items()):
            mask = self._masks[user] = _grown(mask, stats.upto + 1)
            mask[[row for row, owner in owners if owner == user]] = True

    def _set_lengths(self, upto: int, rows: np.ndarray, lengths: np.ndarray) -> None:
        self.lengths = _grown(self.lengths, upto + 1)
        self.lengths[rows] = lengths

    def upto_of_all(self) -> int | None:
        """The highest rowid every kept list was read or brought up to (None: no list kept)."""
        return min((postings.upto for postings in self._lists.values()), default=None)

    def get(self, term: str) -> Postings | None:
        """The list kept for ``term``, perhaps behind the index (see :attr:`Postings.version`)."""
        return self._lists.get(term)

    def user_mask(self, user: Hashable, top_row: int, read: Callable[[], Sequence[Any]]) -> np.ndarray:
        """Whether each rowid up to ``top_row`` (at least) is ``user``'s, from the ``(rowid,)``
        rows ``read`` returns when the mask is not kept; the least recently used of more
        than :data:`MAX_USER_MASKS` are dropped."""
        mask = self._masks.get(user)
        if mask is None or len(mask) <= top_row:
            rows = np.array([row[0] for row in read()], dtype=np.int64)
            mask = np.zeros(max(top_row, int(rows.max()) if len(rows) else 0) + 1, dtype=bool)
            mask[rows] = True
            self._masks[user] = mask
            while len(self._masks) > MAX_USER_MASKS:
                self._masks.popitem(last=False)
        self._masks.move_to_end(user)
        return mask

    def add(self, term: str, postings: Postings, *, keep: Sequence[str] = ()) -> None:
        """Keep ``postings`` of ``term``, evicting the least recently used other than ``keep``."""
        if term in self._lists:
            self._total -= self._lists.pop(term).nbytes
        self._lists[term] = postings
        self._total += postings.nbytes
        for old in list(self._lists):
            if self._total <= self.budget_bytes:
                break
            if old != term and old not in keep:
                self._total -= self._lists.pop(old).nbytes

    def use(self, terms: Sequence[str]) -> list[Postings]:
        """The lists of ``terms`` (all must be kept), now the most recently used."""
        for term in terms:
            self._lists.move_to_end(term)
        return [self._lists[term] for term in terms]

    def scratch(self, top_row: int) -> np.ndarray:
        """A zeroed array with a slot for every rowid up to ``top_row`` (callers zero what they set)."""
        if len(self._scratch) <= top_row:
            self._scratch = np.zeros(max(top_row + 1, 2 * len(self._scratch)))
        return self._scratch


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    """``array`` with room for ``size`` items, the new ones zero: doubled when it grows, so
    that a write's few new rows do not copy it every time."""
    if len(array) >= size:
        return array
    grown = np.zeros(max(size, 2 * len(array)), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def ranked_columns(rows: Sequence[tuple[Any, ...]], ranks: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """From ``(rowid, rank, ...)`` rows of FTS5: the rowids ascending and, in the same order,
    each of the ``ranks`` rank columns as scores (FTS5's ranks are negative scores)."""
    table = np.array(rows, dtype=np.float64).reshape(-1, 1 + ranks)
    ids = table[:, 0].astype(np.int64)
    order = np.argsort(ids, kind="stable")
    return ids[order], [-table[order, 1 + i] for i in range(ranks)]


def known_floor_rows(lists: Sequence[Postings], limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``limit`` best rows of each term, and the score each of them is known to reach: the
    sum of the single-term scores it holds (its full score, as FTS5 adds them)."""
    tops = [postings.top_rows(limit) for postings in lists if len(postings.rows)]
    if not tops:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    rows = np.unique(np.concatenate(tops))
    known = np.zeros(len(rows))
    for postings in lists:
        known += postings.scores_of(rows)
    return rows, known


def rank_postings(
    lists: Sequence[Postings], floor: float, scratch: np.ndarray, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every row that may score at least ``floor`` for the query whose terms hold ``lists`` (in
    the query's order), with its exact bm25 score, in no order (see :func:`best_first`).

    Rows scoring below ``floor`` may be left out, so ``floor`` must be a score the caller
    knows enough rows reach (0.0 ranks every row holding a term). ``scratch`` is
    :meth:`TermPostings.scratch` for the highest rowid; it is left zeroed. ``allowed``, when
    given, says which rowids may be returned (a user's rows).
    """
    order = sorted(range(len(lists)), key=lambda i: lists[i].best)
    floor *= 1 - _HAIR
    light, light_bound = [], 0.0
    for i in order:  # the smallest bounds first, while together they stay below the floor
        if light_bound + lists[i].best * (1 + _HAIR) >= floor:
            break
        light.append(i)
        light_bound += lists[i].best * (1 + _HAIR)
    heavy = [lists[i] for i in range(len(lists)) if i not in light]
    for postings in heavy:  # what the heavy terms add, in any order: only to prune
        scratch[postings.rows] += postings.scores
    if not heavy:  # the terms' bounds together stay below the floor: no row reaches it
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    held = heavy[0].rows if len(heavy) == 1 else np.concatenate([postings.rows for postings in heavy])
    keep = scratch[held] * (1 + _HAIR) + light_bound >= floor
    scratch[held] = 0.0
    rows = held[keep]
    if len(heavy) > 1:  # a row holding several heavy terms is there once for each: keep one
        at = np.arange(len(rows), dtype=np.float64)
        scratch[rows] = at  # one of each row's places wins
        rows = rows[scratch[rows] == at]
        scratch[rows] = 0.0
    if allowed is not None:
        rows = rows[allowed[rows]]
    scores = np.zeros(len(rows))
    for postings in lists:  # the exact score: FTS5's sum, in the query's order, from 0.0
        scores += postings.scores_of(rows)
    return rows, scores


def best_first(rows: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best of ``rows`` by ``scores`` (all when ``n`` < 0), best first, ties by rowid
    (FTS5's ``ORDER BY rank, rowid``)."""
    if n == 0:
        return rows[:0], scores[:0]
    if 0 < n < len(rows):
        cut = np.partition(scores, len(scores) - n)[len(scores) - n]  # the n-th best score
        keep = scores >= cut  # ties at the cut kept, so that the rowid order decides among them
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))[: n if n >= 0 else None]
    return rows[order], scores[order]
