"""The large-store full-text plan reads the rows of its best candidates only as far as it must."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from engram import HashingEmbedder, Scope, SearchFilters, SQLiteStore
from engram.model.messages import parse_messages
from engram.providers.embedder import text_key
from engram.store.base import UserScope
from engram.store.sqlite import fulltext

T0 = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = T0 + timedelta(days=30)
EMB = HashingEmbedder(16)


def put(store: SQLiteStore, user: str, session: str, rows: list[tuple[str, str, str]]) -> None:
    messages = [
        {"role": role, "name": name, "content": text, "timestamp": T0 + timedelta(minutes=i)}
        for i, (role, name, text) in enumerate(rows)
    ]
    turns = parse_messages(messages, Scope("t", user, None, session), now=T0)
    texts = [t.embedding_text() for t in turns]
    store.insert_turns(turns, EMB.embed(texts), [text_key(t) for t in texts], T0)


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
    put(store, "ann", "s1", rows)
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
