"""The vector index: exact search, the HNSW path above its threshold, filters and time."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engram import HashingEmbedder, Scope, SearchFilters, SQLiteStore
from engram.model.messages import parse_messages
from engram.providers.embedder import normalise, text_key
from engram.store.base import UserScope
from engram.store.vectors import ScopeVectors

# Not pytest.importorskip: importing usearch before onnxruntime crashes the process (see below).
needs_usearch = pytest.mark.skipif(
    importlib.util.find_spec("usearch") is None, reason="usearch not installed"
)


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


def test_reserving_room_keeps_the_rows():
    index, vectors = make(300)
    index.reserve(1000)
    np.testing.assert_array_equal(index.matrix, vectors)
    index.append(np.array([5000]), np.array([5000]), vectors[:1])
    assert len(index) == 301 and index.search(vectors[0], 2, until=10**9)[1][0] in (1000, 5000)


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


@needs_usearch
def test_hnsw_agrees_with_exact_search_above_the_threshold():
    approx, vectors = make(3000, threshold=1000)
    exact, _ = make(3000, threshold=10**9)
    assert approx.build_index(wait=True), "the HNSW index was not built"
    recall = []
    for row in range(0, 3000, 150):
        want = exact.search(vectors[row], 10, until=10**9)
        got = approx.search(vectors[row], 10, until=10**9)
        recall.append(len({seq for seq, _ in want} & {seq for seq, _ in got}) / 10)
        for seq, score in got:  # the rows the graph finds are scored exactly
            assert score == pytest.approx(float(vectors[seq - 1000] @ vectors[row]), abs=1e-5)
    assert np.mean(recall) >= 0.9


@needs_usearch
def test_exact_search_answers_while_the_hnsw_index_is_built_in_the_background():
    index, vectors = make(2000, threshold=500)
    exact, _ = make(2000, threshold=10**9)
    # The first search starts the build and is answered by exact search, whatever the timing.
    assert index.search(vectors[3], 10, until=10**9) == exact.search(vectors[3], 10, until=10**9)
    assert index.build_index(wait=True)
    more = normalise(np.random.default_rng(1).normal(size=(50, vectors.shape[1])))
    index.append(np.arange(5000, 5050), np.arange(5000, 5050), more)  # after the build
    assert index.search(more[7], 1, until=10**9)[0][0] == 5007


def test_without_usearch_exact_search_answers(monkeypatch):
    monkeypatch.setattr("engram.store.vectors._usearch_index", lambda: None)
    index, vectors = make(600, threshold=100)
    assert not index.build_index(wait=True)
    found = index.search(vectors[9], 3, until=10**9)
    assert found[0][0] == 1009 and len(found) == 3


@needs_usearch
def test_hnsw_falls_back_to_exact_search_under_a_narrow_filter():
    index, vectors = make(2000, threshold=500)
    found = index.search(vectors[5], 10, until=20)  # only 21 rows visible: exact search answers
    assert {seq - 1000 for seq, _ in found} <= set(range(21)) and len(found) == 10


@needs_usearch
@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime not installed")
def test_loading_usearch_does_not_break_loading_onnxruntime_later():
    # onnxruntime 1.31 segfaults when imported after usearch 2.26: the index loads it first.
    code = "from engram.store.vectors import _usearch_index; _usearch_index(); import onnxruntime"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


@needs_usearch
def test_a_store_builds_a_users_hnsw_index_ahead_of_search(tmp_path):
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    embedder = HashingEmbedder(32)
    stores = [SQLiteStore(tmp_path / "a.db", hnsw_threshold=100), SQLiteStore(tmp_path / "b.db")]
    messages = [
        {"role": "user", "content": f"note {i} about topic {i % 37}", "timestamp": t0 + timedelta(minutes=i)}
        for i in range(400)
    ]
    turns = parse_messages(messages, Scope("t", "u", None, "s"), now=t0)
    texts = [t.embedding_text() for t in turns]
    for store in stores:
        store.bind_embedder(embedder.model_id, embedder.dim)
        store.insert_turns(turns, embedder.embed(texts), [text_key(t) for t in texts], t0)
    assert stores[0].build_vector_index("t", "u") and not stores[1].build_vector_index("t", "u")
    query = embedder.embed(["topic 5"])[0]
    scope, until = UserScope("t", "u"), t0 + timedelta(days=1)
    found = [s.vector_search(scope, query, filters=SearchFilters(), until=until, limit=5) for s in stores]
    assert [c.score for c in found[0]] == pytest.approx([c.score for c in found[1]], abs=1e-5)


def test_the_one_thread_product_has_the_same_bits_and_leaves_the_blas_threads_alone():
    from engram.store.vectors import _blas, one_thread_product

    rng = np.random.default_rng(3)
    matrix, vector = rng.normal(size=(5000, 64)).astype(np.float32), rng.normal(size=64).astype(np.float32)
    assert np.array_equal(one_thread_product(matrix, vector), matrix @ vector)
    if _blas() is not None:
        before = [info["num_threads"] for info in _blas().info()]
        one_thread_product(matrix, vector)
        assert [info["num_threads"] for info in _blas().info()] == before  # restored after the product


@needs_usearch
def test_a_process_that_ends_while_its_graph_is_built_exits_cleanly():
    # A one-shot search (the CLI's) starts the HNSW build in the background and the process
    # ends seconds before it is done: usearch's thread must not be running then (it aborted
    # the process: "terminate called without an active exception", exit code 134).
    code = (
        "import numpy as np\n"
        "from engram.store.vectors import ScopeVectors\n"
        "rng = np.random.default_rng(0)\n"
        "v = rng.normal(size=(60000, 96)).astype(np.float32)\n"
        "v /= np.linalg.norm(v, axis=1, keepdims=True)\n"
        "index = ScopeVectors(96, hnsw_threshold=1000)\n"
        "index.append(np.arange(60000), np.arange(60000), v)\n"
        "index.search(v[0], 5, until=10**9)\n"  # starts the build; exact search answers
        "print('searched', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=300, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    assert "searched" in done.stdout and "terminate" not in done.stderr
