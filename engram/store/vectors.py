"""An in-memory vector index over one user's turns: exact numpy search, HNSW when large.

A row is a vector of a turn: its own, or one of a long turn's chunk vectors (windows of its
text, :class:`~engram.store.base.TurnChunks`), which follow it with the same seq. A search
scores each turn by its best row and returns each turn once.

Vectors live in the database with their rows; this index is derived state, built on first
search and kept current by the store. Exact search over 100k × 384 float32 takes about ten
milliseconds; above ``hnsw_threshold`` vectors an HNSW graph (usearch) answers unfiltered
searches in under one, with exact search as the fallback when filters remove too much. The
graph is built in a background thread (seconds per 100k vectors) while exact search answers,
holds int8 copies of the vectors (a quarter of their size), and the rows it finds are
re-scored exactly, so its scores are the exact ones.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import sys
import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

#: Vectors in one scope above which the HNSW index is built (if usearch is installed).
HNSW_THRESHOLD = 20_000
#: Rows a time slice of the matrix starts and ends on (see ``ScopeVectors._exact``).
_ALIGN = 64
#: Rows the background HNSW build adds at a time; between batches it stops when its index is
#: closed or the process ends (a batch takes about a second at most).
BUILD_BATCH = 4096


class ScopeVectors:
    """Vectors of one scope, with their seq ids and timestamps, in insertion order.

    Rows of one seq (a turn and its chunks) are appended together, after every smaller seq.
    """

    def __init__(self, dim: int, hnsw_threshold: int = HNSW_THRESHOLD) -> None:
        self.dim = dim
        self.hnsw_threshold = hnsw_threshold
        self._matrix = np.empty((0, dim), dtype=np.float32)
        self.seqs = np.empty(0, dtype=np.int64)
        self.timestamps = np.empty(0, dtype=np.int64)
        self.active = np.empty(0, dtype=bool)  # False where forgetting archived the turn
        self._size = 0
        self._hnsw: Any = None  # usearch.index.Index, built in the background on first need
        self._graph_usage: tuple[tuple[int, int], int] = ((0, -1), 0)  # (graph's id, nodes) -> bytes
        self._hnsw_size = 0
        self._builder: threading.Thread | None = None
        self._without_hnsw = False  # usearch is not installed
        self._built: tuple[Any, int] | None = None  # the builder's index and the rows it holds
        self._closed = threading.Event()  # no graph wanted any more (evicted, or the store closed)
        self._starts = np.empty(0, dtype=np.int64)  # the first row of each seq
        self._starts_size = 0  # the rows ``_starts`` was computed for
        # What a match says of each row's turn, so that a search reads nothing back: its id,
        # and its role and speaker as codes into ``_labels`` (a few distinct strings).
        self._ids = np.empty(0, dtype="S1")
        self._roles = np.empty(0, dtype=np.int32)
        self._names = np.empty(0, dtype=np.int32)
        self._labels: list[str | None] = []
        self._codes: dict[str | None, int] = {}
        self._time_sorted = True  # the rows' timestamps never decrease (checked up to _sorted_upto)
        self._sorted_upto = 0

    def __len__(self) -> int:
        return self._size

    @property
    def matrix(self) -> np.ndarray:
        """The stored vectors, one row per turn."""
        return self._matrix[: self._size]

    @property
    def nbytes(self) -> int:
        """The memory this index holds: its vector buffer, its row arrays and its HNSW graph."""
        size = self._matrix.nbytes + self.seqs.nbytes + self.timestamps.nbytes + self.active.nbytes
        size += self._starts.nbytes + self._ids.nbytes + self._roles.nbytes + self._names.nbytes
        graph = self._hnsw if self._hnsw is not None else (self._built[0] if self._built is not None else None)
        return size + (self._graph_bytes(graph) if graph is not None else 0)

    def _graph_bytes(self, graph: Any) -> int:
        """The HNSW graph's memory, asked of usearch again only when the graph changed (the ask
        walks the graph: 14 ms at a million nodes, and every search accounts the index)."""
        key = (id(graph), len(graph))
        if self._graph_usage[0] != key:
            self._graph_usage = (key, int(graph.memory_usage))
        return self._graph_usage[1]

    def reserve(self, rows: int) -> None:
        """Make room for ``rows`` rows in all, so that appending up to them copies nothing."""
        if rows > len(self._matrix):
            grown = np.empty((rows, self.dim), dtype=np.float32)
            grown[: self._size] = self._matrix[: self._size]
            self._matrix = grown

    def append(
        self,
        seqs: np.ndarray,
        timestamps: np.ndarray,
        vectors: np.ndarray,
        active: np.ndarray | None = None,
        turns: Sequence[tuple[str, str, str | None]] | None = None,
    ) -> None:
        """Add rows (amortised O(1) by doubling the buffer).

        Args:
            turns: each row's turn as ``(id, role, name)``, for :meth:`describe`.
        """
        count = len(seqs)
        if count == 0:
            return
        if turns is None:
            turns = [("", "", None)] * count
        self._ids = np.concatenate([self._ids, np.array([turn[0].encode() for turn in turns], dtype="S")])
        self._roles = np.concatenate([self._roles, self._encoded(turn[1] for turn in turns)])
        self._names = np.concatenate([self._names, self._encoded(turn[2] for turn in turns)])
        needed = self._size + count
        if needed > len(self._matrix):
            self.reserve(max(needed, 2 * len(self._matrix), 256))
        self._matrix[self._size : needed] = vectors
        self.seqs = np.concatenate([self.seqs, np.asarray(seqs, dtype=np.int64)])
        self.timestamps = np.concatenate([self.timestamps, np.asarray(timestamps, dtype=np.int64)])
        flags = np.ones(count, dtype=bool) if active is None else np.asarray(active, dtype=bool)
        self.active = np.concatenate([self.active, flags])
        self._size = needed

    def _encoded(self, labels: Iterable[str | None]) -> np.ndarray:
        codes = self._codes
        out = []
        for label in labels:
            code = codes.get(label)
            if code is None:
                code = codes[label] = len(self._labels)
                self._labels.append(label)
            out.append(code)
        return np.array(out, dtype=np.int32)

    def describe(self, seqs: Sequence[int]) -> list[tuple[str, str, str | None, int]]:
        """``(id, role, name, timestamp)`` of the turns of ``seqs`` (all here), as appended."""
        rows = np.searchsorted(self.seqs, np.asarray(seqs, dtype=np.int64))
        labels = self._labels
        return [
            (turn_id.decode(), str(labels[role]), labels[name], ts)
            for turn_id, role, name, ts in zip(
                self._ids[rows].tolist(),
                self._roles[rows].tolist(),
                self._names[rows].tolist(),
                self.timestamps[rows].tolist(),
                strict=True,
            )
        ]

    @property
    def turns(self) -> int:
        """How many turns have rows here."""
        return len(self._row_starts()) if self._size else 0

    def visible(
        self, seqs: np.ndarray, *, until: int, since: int | None = None, include_archived: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``seqs``: whether its turn is here (it has a vector), and whether it passes
        the filters :meth:`search` applies (timestamp <= until, >= since, not archived); the
        second is False where the first is."""
        held = np.zeros(len(seqs), dtype=bool)
        if self._size == 0 or len(seqs) == 0:
            return held, held.copy()
        rows = np.minimum(np.searchsorted(self.seqs, seqs), self._size - 1)
        held = self.seqs[rows] == seqs
        times = self.timestamps[rows]
        passed = held & (times <= until)
        if since is not None:
            passed &= times >= since
        if not include_archived:
            passed &= self.active[rows]
        return held, passed

    def set_active(self, seqs: np.ndarray, active: bool) -> None:
        """Mark rows archived (``False``) or restored (``True``)."""
        self.active[np.isin(self.seqs, seqs)] = active

    def search(
        self,
        query: np.ndarray,
        limit: int,
        *,
        until: int,
        since: int | None = None,
        allowed: np.ndarray | None = None,
        include_archived: bool = False,
    ) -> list[tuple[int, float]]:
        """The ``limit`` nearest rows as ``(seq, cosine)``, best first.

        Args:
            query: a unit vector.
            until: only rows with timestamp <= until.
            since: only rows with timestamp >= since.
            allowed: sorted seq ids a row must be among (from other filters).
        """
        if self._size == 0 or limit <= 0:
            return []
        mask = self.timestamps <= until
        if not include_archived:
            mask &= self.active
        if since is not None:
            mask &= self.timestamps >= since
        if allowed is not None:
            mask &= np.isin(self.seqs, allowed, assume_unique=True)
        if self._size >= self.hnsw_threshold and allowed is None:
            found = self._search_hnsw(query, limit, mask)
            if found is not None:
                return found
        if self._size >= self.hnsw_threshold:
            lo, hi = self._time_range(since, until)
            found = self._exact(query, limit, mask, lo, hi)
            if found is not None:
                return found
        return self._exact(query, limit, mask, 0, self._size) or []

    def _exact(self, query: np.ndarray, limit: int, mask: np.ndarray, lo: int, hi: int) -> list[tuple[int, float]] | None:
        """The exact search of rows ``[lo, hi)`` (all of ``mask``'s rows are there). A slice
        returns None where its answer could differ from the whole index's: equal scores in
        or at the edge of the top, whose order the selection below does not fix."""
        sliced = (lo, hi) != (0, self._size)
        if sliced:  # aligned: the matrix product then gives each row the same bits as the whole's
            lo, hi = lo // _ALIGN * _ALIGN, min(self._size, -(-hi // _ALIGN) * _ALIGN)
        mask = mask[lo:hi]
        visible = int(mask.sum())
        if visible == 0:
            return []
        scores = one_thread_product(self._matrix[lo:hi], query.astype(np.float32))  # cheaper than copying rows out
        if visible < hi - lo:
            scores[~mask] = -np.inf
        seqs = self.seqs[lo:hi]
        starts = self._row_starts()
        if len(starts) < self._size:  # chunk rows: each turn scores its best row
            starts = starts[(starts >= lo) & (starts < hi)] - lo  # a turn's rows share its time
            scores = np.maximum.reduceat(scores, starts)
            seqs = seqs[starts]
            visible = int(mask[starts].sum())
        take = min(limit, visible)
        top = np.argpartition(-scores, take - 1)[:take]
        top = top[np.argsort(-scores[top], kind="stable")]
        if sliced and (len(np.unique(scores[top])) < take or np.count_nonzero(scores == scores[top[-1]]) > 1):
            return None
        return [(int(seqs[i]), float(scores[i])) for i in top]

    def best_scores(self, seqs: np.ndarray, query: np.ndarray) -> dict[int, float]:
        """The cosine of ``query`` to each of ``seqs`` that is here and active: its best row's."""
        seqs = np.asarray(seqs, dtype=np.int64)
        if self._size == 0 or len(seqs) == 0:
            return {}
        first = np.searchsorted(self.seqs, seqs, side="left")
        end = np.searchsorted(self.seqs, seqs, side="right")
        found = end > first
        found[found] &= self.active[first[found]]
        first, end, seqs = first[found], end[found], seqs[found]
        if len(seqs) == 0:
            return {}
        counts = end - first
        rows = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
        scores = self.matrix[rows] @ query.astype(np.float32)
        best = np.maximum.reduceat(scores, np.cumsum(counts) - counts)
        return {int(seq): float(score) for seq, score in zip(seqs, best, strict=True)}

    def _time_range(self, since: int | None, until: int) -> tuple[int, int]:
        """The rows ``[lo, hi)`` that can fall between ``since`` and ``until``: a slice by
        time when the rows are in time order (as a conversation's turns mostly are), so that
        a question about last May scores last May's rows only; else every row."""
        stamps = self.timestamps
        if self._sorted_upto != self._size:
            start = max(self._sorted_upto - 1, 0)
            self._time_sorted = self._time_sorted and bool(np.all(stamps[start + 1 :] >= stamps[start:-1]))
            self._sorted_upto = self._size
        if not self._time_sorted:
            return 0, self._size
        lo = int(np.searchsorted(stamps, since, side="left")) if since is not None else 0
        return lo, int(np.searchsorted(stamps, until, side="right"))

    def _row_starts(self) -> np.ndarray:
        """The first row of each seq (every row when no turn has chunk rows)."""
        if self._starts_size != self._size:
            seqs = self.seqs
            self._starts = np.flatnonzero(np.concatenate(([True], seqs[1:] != seqs[:-1])))
            self._starts_size = self._size
        return self._starts

    def build_index(self, *, wait: bool = True) -> bool:
        """Start building the HNSW graph if this index is above its threshold.

        Returns whether the graph is ready (with ``wait``, once it is built); searches use
        exact search until it is. Never ready without usearch.
        """
        if self._size < self.hnsw_threshold:
            return False
        self._start_build()
        if wait and self._builder is not None:
            self._builder.join()
        return self._ready_hnsw() is not None

    def _search_hnsw(self, query: np.ndarray, limit: int, mask: np.ndarray) -> list[tuple[int, float]] | None:
        index = self._ready_hnsw()
        if index is None:
            self._start_build()
            return None
        visible = int(mask.sum())
        if visible < limit or visible < 0.5 * self._size:
            return None  # the filter removes too much for an oversampled graph search
        rows_per_turn = -(-self._size // max(len(self._row_starts()), 1))  # chunk rows: dig deeper
        want = min(self._size, max(4 * limit, 64) * rows_per_turn)
        rows = np.asarray(index.search(query.astype(np.float32), want).keys, dtype=np.int64)
        rows = rows[mask[rows]]
        scores = self.matrix[rows] @ query.astype(np.float32)
        order = np.argsort(-scores, kind="stable")
        seqs = self.seqs[rows[order]]
        _, first = np.unique(seqs, return_index=True)  # each turn's best row
        best = order[np.sort(first)]
        if len(best) < limit:
            return None  # not enough survived the filter: let exact search answer
        return [(int(self.seqs[rows[i]]), float(scores[i])) for i in best[:limit]]

    def _ready_hnsw(self) -> Any:
        """The HNSW graph once built, brought up to date with rows appended since."""
        if self._hnsw is None:
            if self._built is None:
                return None
            self._hnsw, self._hnsw_size = self._built
        if self._hnsw_size < self._size:
            keys = np.arange(self._hnsw_size, self._size, dtype=np.uint64)
            self._hnsw.add(keys, self.matrix[self._hnsw_size : self._size], threads=1)
            self._hnsw_size = self._size
        return self._hnsw

    def _start_build(self) -> None:
        if self._builder is not None or self._without_hnsw:
            return
        index_class = _usearch_index()
        if index_class is None:
            self._without_hnsw = True
            return
        # The rows so far: appends write past them (or into a new buffer), never over them.
        vectors, rows, dim = self.matrix, self._size, self.dim

        def build() -> None:
            index = index_class(ndim=dim, metric="cos", dtype="i8", connectivity=16)
            for start in range(0, rows, BUILD_BATCH):  # one thread: a core left for searches
                if self._closed.is_set() or _EXITING.is_set():
                    return
                stop = min(rows, start + BUILD_BATCH)
                index.add(np.arange(start, stop, dtype=np.uint64), vectors[start:stop], threads=1)
            self._built = (index, rows)

        self._builder = threading.Thread(target=build, name="engram-hnsw-build", daemon=True)
        _BUILDERS.add(self._builder)
        self._builder.start()

    def close(self) -> None:
        """Stop a background build (after its current batch): the index is no longer used."""
        self._closed.set()


#: Set when the interpreter exits: builds stop, and :func:`_stop_builds` waits for them (a
#: usearch thread still adding when the process ends aborts it).
_EXITING = threading.Event()
_BUILDERS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


@atexit.register
def _stop_builds() -> None:
    _EXITING.set()
    for thread in list(_BUILDERS):
        thread.join()


_BLAS_LOCK = threading.Lock()


@functools.cache
def _blas() -> Any:
    """threadpoolctl's controller of the BLAS numpy uses (None when none is found); imported
    on the first exact search, not at start-up (about 20 ms)."""
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController().select(user_api="blas")
    return controller if controller.lib_controllers else None


def one_thread_product(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` on one BLAS thread: the same bits (each row's product is one
    thread's either way), without OpenBLAS waking a second thread that spins for the few
    milliseconds of a search. On a busy 2-core machine the product of 10k × 384 took 2.7-5.5
    ms of CPU on two threads and 0.4-0.8 ms on one. The limit is set for the product only,
    under a lock (BLAS's thread count is the process's)."""
    blas = _blas()
    if blas is None:
        product: np.ndarray = matrix @ vector
        return product
    with _BLAS_LOCK, blas.limit(limits=1):
        product = matrix @ vector
    return product


def _usearch_index() -> Any:
    """usearch's ``Index`` class, or None when usearch is not installed."""
    if importlib.util.find_spec("usearch") is None:
        return None
    if "onnxruntime" not in sys.modules and importlib.util.find_spec("onnxruntime") is not None:
        # onnxruntime 1.31 crashes (SIGSEGV) when imported after usearch 2.26 in one process.
        import onnxruntime  # noqa: F401
    from usearch.index import Index

    return Index
