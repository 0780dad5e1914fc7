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
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The default memory budget of the kept posting lists of one store, in MiB (16 bytes a
#: row holding a term: a question's terms at a million turns hold a few hundred thousand).
FULLTEXT_CACHE_MB = 256
#: A hair above each bound and below each floor, against rounding in sums taken in another order.
_HAIR = 1e-9
#: Most users whose row masks are kept (a byte per row of the index each).
MAX_USER_MASKS = 8


@dataclass
class Postings:
    """The rows holding one term, in row order, and the term's single-term bm25 score in each
    (positive, higher is better).

    Attributes:
        rows: rowids of the index, ascending.
        scores: the term's single-term score in each row.
        best: the highest score (0.0 when no row holds the term).
    """

    rows: np.ndarray
    scores: np.ndarray
    best: float
    _top: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[int, float]]) -> Postings:
        """From FTS5's ``(rowid, bm25 rank)`` pairs (ranks are negative scores), any order."""
        pairs = np.array(rows, dtype=np.float64).reshape(-1, 2)
        ids = pairs[:, 0].astype(np.int64)
        order = np.argsort(ids, kind="stable")
        ids, scores = ids[order], -pairs[order, 1]
        return cls(ids, scores, float(scores.max()) if len(scores) else 0.0)

    @property
    def nbytes(self) -> int:
        """The list's memory (its few best rows, kept for floors, are left out)."""
        return int(self.rows.nbytes + self.scores.nbytes)

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
    """Posting lists of the terms searched, for one state of the index, under a memory budget.

    Derived state: :meth:`reset` drops everything when the index changes (the caller checks
    its stamp), and a term evicted is read again when next searched. The lists of the terms
    in use are never evicted, so one query's terms are held even above the budget.
    """

    def __init__(self, budget_bytes: int = FULLTEXT_CACHE_MB * 2**20) -> None:
        if budget_bytes < 0:
            raise ValueError("the full-text cache's budget cannot be negative")
        self.budget_bytes = budget_bytes
        self._lists: OrderedDict[str, Postings] = OrderedDict()
        self._total = 0
        self._scratch = np.zeros(0)  # one score a rowid, all 0.0 between uses
        self._masks: OrderedDict[Hashable, np.ndarray] = OrderedDict()  # whose rows each rowid is

    def __contains__(self, term: object) -> bool:
        return term in self._lists

    def __len__(self) -> int:
        return len(self._lists)

    @property
    def nbytes(self) -> int:
        """The memory the kept lists, the users' masks and the scratch array hold."""
        return (
            self._total + int(self._scratch.nbytes) + sum(int(mask.nbytes) for mask in self._masks.values())
        )

    def reset(self) -> None:
        """Forget every list and mask (the index changed)."""
        self._lists.clear()
        self._masks.clear()
        self._total = 0

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
    if len(heavy) > 1:
        rows = np.unique(rows)  # a row holding several heavy terms is there once for each
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
