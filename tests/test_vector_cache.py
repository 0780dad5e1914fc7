"""The store's loaded vector indexes stay under a memory budget: least recently used evicted,
reloaded on the next search with the same results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engram import HashingEmbedder, Scope, SearchFilters, SQLiteStore
from engram.errors import ValidationError
from engram.model.messages import parse_messages
from engram.providers.embedder import text_key
from engram.store.base import UserScope
from engram.store.vector_cache import VectorCache
from engram.store.vectors import ScopeVectors

T0 = datetime(2024, 1, 1, tzinfo=UTC)
EMBEDDER = HashingEmbedder(32)


def index_of(rows: int, dim: int = 8) -> ScopeVectors:
    index = ScopeVectors(dim)
    index.append(np.arange(rows), np.arange(rows), np.ones((rows, dim), dtype=np.float32))
    return index


def test_the_least_recently_used_index_is_evicted_beyond_the_budget() -> None:
    one = index_of(100).nbytes
    cache: VectorCache[str] = VectorCache(budget_bytes=2 * one + one // 2)
    cache["a"], cache["b"] = index_of(100), index_of(100)
    assert cache.use("a") is not None  # a is now more recent than b
    cache["c"] = index_of(100)
    assert list(cache) == ["a", "c"] and cache.nbytes <= cache.budget_bytes


def test_an_index_larger_than_the_budget_stays_loaded_alone() -> None:
    cache: VectorCache[str] = VectorCache(budget_bytes=10)
    cache["a"] = index_of(50)
    cache["b"] = index_of(50)
    assert list(cache) == ["b"] and cache.use("a") is None
    cache.trim()
    assert list(cache) == ["b"]


def test_growth_of_a_loaded_index_is_counted() -> None:
    first = index_of(100)
    cache: VectorCache[str] = VectorCache(budget_bytes=3 * first.nbytes)
    cache["a"], cache["b"] = first, index_of(100)
    cache["b"].append(np.arange(100, 1000), np.arange(100, 1000), np.ones((900, 8), dtype=np.float32))
    assert cache.use("b") is not None  # its new size is counted when it is next used
    assert list(cache) == ["b"] and cache.nbytes == cache["b"].nbytes


def test_removing_indexes_keeps_the_count() -> None:
    cache: VectorCache[str] = VectorCache(budget_bytes=10**9)
    cache["a"], cache["b"], cache["c"] = index_of(10), index_of(20), index_of(30)
    assert cache.pop("a") is not None and cache.pop("missing", None) is None
    del cache["b"]
    assert cache.nbytes == cache["c"].nbytes
    cache.clear()
    assert cache.nbytes == 0 and not cache


def fill(store: SQLiteStore, users: list[str], per_user: int = 60) -> None:
    store.bind_embedder(EMBEDDER.model_id, EMBEDDER.dim)
    for user in users:
        messages = [
            {"role": "user", "content": f"{user} note {i} about topic {i % 7}", "timestamp": T0 + timedelta(minutes=i)}
            for i in range(per_user)
        ]
        turns = parse_messages(messages, Scope("t", user, None, "s"), now=T0)
        texts = [t.embedding_text() for t in turns]
        store.insert_turns(turns, EMBEDDER.embed(texts), [text_key(t) for t in texts], T0)


def ranking(store: SQLiteStore, user: str) -> list[tuple[str, float]]:
    query = EMBEDDER.embed(["topic 3"])[0]
    found = store.vector_matches(
        UserScope("t", user), query, filters=SearchFilters(), until=T0 + timedelta(days=1), limit=10
    )
    return [(m.id, m.score) for m in found]


def test_a_store_evicts_users_under_a_tiny_budget_and_reloads_them(tmp_path) -> None:
    users = ["u1", "u2", "u3"]
    roomy = SQLiteStore(tmp_path / "a.db")
    tiny = SQLiteStore(tmp_path / "b.db", vector_cache_mb=0.015)  # one user's 60 vectors and labels, not two
    for store in (roomy, tiny):
        fill(store, users)
    expected = {user: ranking(roomy, user) for user in users}
    assert list(roomy._vectors) == [("t", user) for user in users]
    for user in [*users, "u1", "u3", "u2"]:
        assert ranking(tiny, user) == expected[user]  # reloaded from the file when evicted
        assert list(tiny._vectors)[-1] == ("t", user)
        assert tiny._vectors.nbytes <= tiny._vectors.budget_bytes
    assert len(tiny._vectors) < len(users)
    fill(tiny, ["u4"])  # writes reach the loaded index, and an evicted one reloads them
    fill(roomy, ["u4"])
    assert ranking(tiny, "u4") == ranking(roomy, "u4")
    roomy.close()
    tiny.close()


def test_a_negative_budget_is_refused(tmp_path) -> None:
    with pytest.raises(ValidationError, match="vector_cache_mb"):
        SQLiteStore(tmp_path / "c.db", vector_cache_mb=-1)
    with pytest.raises(ValidationError, match="fulltext_cache_mb"):
        SQLiteStore(tmp_path / "c.db", fulltext_cache_mb=-1)
    assert not (tmp_path / "c.db").exists()


def test_the_budget_is_a_setting(tmp_path, monkeypatch) -> None:
    from engram.build import build_memory, close_memory
    from engram.settings import load_settings

    monkeypatch.setenv("ENGRAM_VECTOR_CACHE_MB", "2")
    monkeypatch.setenv("ENGRAM_FULLTEXT_CACHE_MB", "3")
    memory = build_memory(load_settings(db=tmp_path / "s.db", embedder="hashing"))
    try:
        assert memory.store._vectors.budget_bytes == 2 * 2**20
        assert memory.store._postings.budget_bytes == 3 * 2**20
    finally:
        close_memory(memory)


def test_the_graphs_memory_is_asked_of_usearch_once_per_change(monkeypatch) -> None:
    from engram.store.vectors import _usearch_index

    Index = _usearch_index()  # onnxruntime imported first: the other order crashes
    if Index is None:
        pytest.skip("usearch is not installed")
    asked: list[int] = []
    usage = Index.memory_usage
    monkeypatch.setattr(Index, "memory_usage", property(lambda graph: asked.append(1) or usage.fget(graph)))
    rng = np.random.default_rng(0)
    index = ScopeVectors(8, hnsw_threshold=100)
    index.append(np.arange(300), np.arange(300), rng.normal(size=(300, 8)).astype(np.float32))
    assert index.build_index(wait=True)
    before = index.nbytes
    assert index.nbytes == before and len(asked) == 1  # the same graph: not walked again
    index.append(np.arange(300, 400), np.arange(300, 400), rng.normal(size=(100, 8)).astype(np.float32))
    assert index.build_index(wait=True)  # the graph takes the new rows
    assert index.nbytes > before and len(asked) == 2


def test_an_evicted_index_stops_its_background_build() -> None:
    cache: VectorCache[str] = VectorCache(budget_bytes=index_of(100).nbytes + 10)
    cache["a"] = first = index_of(100)
    cache["b"] = second = index_of(100)  # a is evicted
    assert first._closed.is_set() and not second._closed.is_set()
    cache["b"] = replacement = index_of(100)
    assert second._closed.is_set() and not replacement._closed.is_set()
    cache.clear()
    assert replacement._closed.is_set()
