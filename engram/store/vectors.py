"""An in-memory vector index over one user's turns: exact numpy search, HNSW when large.

Vectors live in the database with their rows; this index is derived state, built on first
search and kept current by the store. Exact search over 100k × 384 float32 takes a few
milliseconds; above ``hnsw_threshold`` vectors an HNSW graph (usearch) answers unfiltered
searches in well under one, with exact search as the fallback when filters remove too much.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Vectors in one scope above which the HNSW index is built (if usearch is installed).
HNSW_THRESHOLD = 20_000


class ScopeVectors:
    """Vectors of one scope, with their seq ids and timestamps, in insertion order."""

    def __init__(self, dim: int, hnsw_threshold: int = HNSW_THRESHOLD) -> None:
        self.dim = dim
        self.hnsw_threshold = hnsw_threshold
        self._matrix = np.empty((0, dim), dtype=np.float32)
        self.seqs = np.empty(0, dtype=np.int64)
        self.timestamps = np.empty(0, dtype=np.int64)
        self.active = np.empty(0, dtype=bool)  # False where forgetting archived the turn
        self._size = 0
        self._hnsw: Any = None  # usearch.index.Index, built lazily
        self._hnsw_size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def matrix(self) -> np.ndarray:
        """The stored vectors, one row per turn."""
        return self._matrix[: self._size]

    def append(
        self, seqs: np.ndarray, timestamps: np.ndarray, vectors: np.ndarray, active: np.ndarray | None = None
    ) -> None:
        """Add rows (amortised O(1) by doubling the buffer)."""
        count = len(seqs)
        if count == 0:
            return
        needed = self._size + count
        if needed > len(self._matrix):
            capacity = max(needed, 2 * len(self._matrix), 256)
            grown = np.empty((capacity, self.dim), dtype=np.float32)
            grown[: self._size] = self._matrix[: self._size]
            self._matrix = grown
        self._matrix[self._size : needed] = vectors
        self.seqs = np.concatenate([self.seqs, np.asarray(seqs, dtype=np.int64)])
        self.timestamps = np.concatenate([self.timestamps, np.asarray(timestamps, dtype=np.int64)])
        flags = np.ones(count, dtype=bool) if active is None else np.asarray(active, dtype=bool)
        self.active = np.concatenate([self.active, flags])
        self._size = needed

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
        visible = int(mask.sum())
        if visible == 0:
            return []
        scores = self.matrix @ query.astype(np.float32)  # one pass; cheaper than copying rows out
        if visible < self._size:
            scores[~mask] = -np.inf
        take = min(limit, visible)
        top = np.argpartition(-scores, take - 1)[:take]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.seqs[i]), float(scores[i])) for i in top]

    def _search_hnsw(self, query: np.ndarray, limit: int, mask: np.ndarray) -> list[tuple[int, float]] | None:
        index = self._ensure_hnsw()
        if index is None:
            return None
        visible = int(mask.sum())
        if visible < limit or visible < 0.5 * self._size:
            return None  # the filter removes too much for an oversampled graph search
        want = min(self._size, max(4 * limit, 64))
        matches = index.search(query.astype(np.float32), want)
        out: list[tuple[int, float]] = []
        for row, distance in zip(matches.keys, matches.distances, strict=True):
            if mask[int(row)]:
                out.append((int(self.seqs[int(row)]), 1.0 - float(distance)))
                if len(out) == limit:
                    return out
        return None  # not enough survived the filter: let exact search answer

    def _ensure_hnsw(self) -> Any:
        try:
            from usearch.index import Index
        except ImportError:
            return None
        if self._hnsw is None:
            self._hnsw = Index(ndim=self.dim, metric="cos", dtype="f32", connectivity=16)
            self._hnsw_size = 0
        if self._hnsw_size < self._size:
            keys = np.arange(self._hnsw_size, self._size, dtype=np.uint64)
            self._hnsw.add(keys, self.matrix[self._hnsw_size : self._size])
            self._hnsw_size = self._size
        return self._hnsw
