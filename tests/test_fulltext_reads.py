"""The large-store full-text plan reads the rows of its best candidates only as far as it must."""

from __future__ import annotations

import re
from datetime import timedelta

from engram import SearchFilters, SQLiteStore
from engram.store.base import UserScope
from engram.store.sqlite import fulltext
from tests.test_store_fulltext import EMB, T0, put

UNTIL = T0 + timedelta(days=30)


def _checked_ids(store: SQLiteStore, search) -> list[int]:
    """How many candidate ids each filter check of ``search()`` asked for."""
    sizes: list[int] = []

    def trace(sql: str) -> None:
        if "NOT INDEXED" in sql:
            inside = re.search(r"seq IN \(([^)]*)\)", sql)
            sizes.append(len(inside.group(1).split(",")) if inside else 0)

    store._conn.set_trace_callback(trace)
    try:
        search()
    finally:
        store._conn.set_trace_callback(None)
    return sizes


def test_the_filter_check_reads_only_the_best_rows_when_they_pass(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(fulltext, "PRUNE_FROM_TURNS", 0)  # the large-store plan, in a small store
    store = SQLiteStore(tmp_path / "store.db")
    store.bind_embedder(EMB.model_id, EMB.dim)
    rows = [("user" if i % 2 else "assistant", "ann", f"apple pear {i}") for i in range(100)]
    put(store, "ann", "s1", rows, T0)
    scope = UserScope("t", "ann")

    def search(filters: SearchFilters) -> list:
        return store.text_matches(scope, ["apple"], filters=filters, until=UNTIL, limit=5)

    everything = SearchFilters()
    assert _checked_ids(store, lambda: search(everything)) == [5]  # was the best 20 (4 × limit)
    best = search(everything)
    assert len(best) == 5
    # when the best rows do not all pass, the check goes on down the ranking: the same answer
    # as checking every candidate
    users = SearchFilters(roles=("user",))
    sizes = _checked_ids(store, lambda: search(users))
    assert sizes[0] == 5 and len(sizes) >= 2
    found = search(users)
    monkeypatch.setattr(fulltext, "PRUNE_FROM_TURNS", 10**9)  # every match scored and filtered in SQL
    assert [(m.id, m.score) for m in found] == [
        (m.id, m.score) for m in store.text_matches(scope, ["apple"], filters=users, until=UNTIL, limit=5)
    ]
    assert all(m.role == "user" for m in found) and len(found) == 5
    store.close()


def _count_queries(store: SQLiteStore, search) -> int:
    """How many term counts ``search()`` read from the index."""
    seen: list[str] = []
    store._conn.set_trace_callback(lambda sql: seen.append(sql) if "SELECT count(*) FROM turns_fts" in sql else None)
    try:
        search()
    finally:
        store._conn.set_trace_callback(None)
    return len(seen)


def test_term_counts_are_read_once_until_the_database_changes(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(fulltext, "PRUNE_FROM_TURNS", 0)
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    store.bind_embedder(EMB.model_id, EMB.dim)
    put(store, "ann", "s1", [("user", "ann", f"apple pear plum {i}") for i in range(60)], T0)
    scope = UserScope("t", "ann")

    def search() -> list:
        return store.text_matches(scope, ["apple", "plum", "fig"], filters=SearchFilters(), until=UNTIL, limit=5)

    assert _count_queries(store, search) == 3
    assert _count_queries(store, search) == 0  # was three again: the index had not changed
    put(store, "ann", "s2", [("user", "ann", "fig fig fig")], T0 + timedelta(hours=2))  # this connection writes
    assert _count_queries(store, search) == 3
    other = SQLiteStore(path)  # another connection commits
    put(other, "ann", "s3", [("user", "ann", "fig and plum")], T0 + timedelta(hours=3))
    other.close()
    assert _count_queries(store, search) == 3
    found = search()
    monkeypatch.setattr(fulltext, "PRUNE_FROM_TURNS", 10**9)
    assert [(m.id, m.score) for m in found] == [(m.id, m.score) for m in search()]
    store.close()
