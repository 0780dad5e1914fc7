"""Exact vector search in a large index scores only the rows inside the time window when the
rows are in time order, and finds what scoring every row finds."""

from __future__ import annotations

import numpy as np

from engram.providers.embedder import normalise
from engram.store.vectors import ScopeVectors


def brute(vectors: np.ndarray, seqs: np.ndarray, stamps: np.ndarray, query, limit, since, until, allowed):
    keep = (stamps <= until) & (stamps >= since) & np.isin(seqs, allowed)
    scores = np.where(keep, vectors @ query, -np.inf)
    best: dict[int, float] = {}
    for seq, score in zip(seqs.tolist(), scores.tolist(), strict=True):
        if score > -np.inf:
            best[seq] = max(best.get(seq, -np.inf), score)
    return sorted(best.items(), key=lambda item: -item[1])[:limit]


def counted(method, calls: list[int]):
    def wrapper(*args):
        calls.append(1)
        return method(*args)

    return wrapper


def test_a_time_window_scores_its_slice_and_finds_the_same(monkeypatch) -> None:
    rng = np.random.default_rng(3)
    for ordered in (True, False):
        seqs = np.repeat(np.arange(400), rng.integers(1, 3, size=400))  # some turns with a chunk row
        turn_stamps = np.sort(rng.integers(0, 10_000, size=400)) if ordered else rng.integers(0, 10_000, size=400)
        stamps = turn_stamps[seqs]
        vectors = normalise(rng.normal(size=(len(seqs), 16))).astype(np.float32)
        index = ScopeVectors(16, hnsw_threshold=100)  # large: the slice applies (exact: ``allowed`` given)
        for start in range(0, len(seqs), 150):
            index.append(seqs[start : start + 150], stamps[start : start + 150], vectors[start : start + 150])
        allowed = np.arange(0, 400, 2)
        sliced: list[int] = []
        original = index._time_range
        monkeypatch.setattr(index, "_time_range", counted(original, sliced))
        for since, until in ((2_000, 3_000), (0, 10_000), (9_990, 9_999), (5_000, 4_000)):
            query = vectors[rng.integers(len(seqs))]
            found = index.search(query, 10, until=until, since=since, allowed=allowed)
            expected = brute(vectors, seqs, stamps, query, 10, since, until, allowed)
            assert [seq for seq, _ in found] == [seq for seq, _ in expected]
            assert np.allclose([s for _, s in found], [s for _, s in expected], atol=1e-6)
        assert sliced and index._time_sorted is ordered


def test_equal_scores_in_a_slice_are_ordered_as_in_the_whole_index(monkeypatch) -> None:
    rng = np.random.default_rng(4)
    base = normalise(rng.normal(size=(20, 16))).astype(np.float32)
    vectors = base[rng.integers(0, 20, size=600)]  # many equal vectors: equal scores
    index = ScopeVectors(16, hnsw_threshold=100)
    index.append(np.arange(600), np.arange(600) * 10, vectors)
    allowed = np.arange(600)
    windows = [(1_000, 3_000), (2_500, 5_990), (0, 100)]
    sliced = [index.search(base[0], 12, since=a, until=b, allowed=allowed) for a, b in windows]
    monkeypatch.setattr(index, "_time_range", lambda since, until: (0, index._size))
    assert sliced == [index.search(base[0], 12, since=a, until=b, allowed=allowed) for a, b in windows]
