"""The vector index: exact search, the HNSW path above its threshold, filters and time."""

from __future__ import annotations

import numpy as np
import pytest

from engram.providers.embedder import normalise
from engram.store.vectors import ScopeVectors


def make(n: int, dim: int = 32, threshold: int = 10_000, seed: int = 7) -> tuple[ScopeVectors, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = normalise(rng.normal(size=(n, dim)))
    index = ScopeVectors(dim, threshold)
    for start in range(0, n, 97):  # appended in uneven batches, as writes arrive
        stop = min(n, start + 97)
        index.append(np.arange(start, stop) + 1000, np.arange(start, stop), vectors[start:stop])
    return index, vectors


def test_exact_search_matches_brute_force():
    index, vectors = make(500)
    query = vectors[42]
    found = index.search(query, 5, until=10**9)
    expected = np.argsort(-(vectors @ query))[:5]
    assert [seq - 1000 for seq, _ in found] == list(expected)
    assert found[0][1] == pytest.approx(1.0, abs=1e-5)


def test_time_and_allowed_filters():
    index, vectors = make(300)
    found = index.search(vectors[250], 10, until=100)
    assert all(seq - 1000 <= 100 for seq, _ in found)
    found = index.search(vectors[250], 10, until=10**9, since=200)
    assert all(seq - 1000 >= 200 for seq, _ in found)
    allowed = np.array([1005, 1010, 1020])
    assert sorted(seq for seq, _ in index.search(vectors[0], 10, until=10**9, allowed=allowed)) == [
        1005,
        1010,
        1020,
    ]
    assert index.search(vectors[0], 10, until=-1) == []


def test_hnsw_agrees_with_exact_search_above_the_threshold():
    pytest.importorskip("usearch")
    approx, vectors = make(3000, threshold=1000)
    exact, _ = make(3000, threshold=10**9)
    recall = []
    for row in range(0, 3000, 150):
        want = {seq for seq, _ in exact.search(vectors[row], 10, until=10**9)}
        got = {seq for seq, _ in approx.search(vectors[row], 10, until=10**9)}
        recall.append(len(want & got) / 10)
    assert approx._hnsw is not None, "the HNSW index was not used"
    assert np.mean(recall) >= 0.9


def test_hnsw_falls_back_to_exact_search_under_a_narrow_filter():
    pytest.importorskip("usearch")
    index, vectors = make(2000, threshold=500)
    found = index.search(vectors[5], 10, until=20)  # only 21 rows visible: exact search answers
    assert {seq - 1000 for seq, _ in found} <= set(range(21)) and len(found) == 10
