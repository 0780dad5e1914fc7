"""Vector matches come from the in-memory index alone: id, role, speaker and time are kept
beside the vectors, so a search reads no turn row back, and they equal the rows'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engram import HashingEmbedder, Memory, SearchFilters
from engram.store.base import Match, UserScope

T0 = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = T0 + timedelta(days=30)


def test_vector_matches_read_no_rows_and_equal_the_turns_rows(tmp_path) -> None:
    memory = Memory(tmp_path / "m.db", embedder=HashingEmbedder(32))
    store, scope = memory.store, UserScope(memory.tenant, "u")
    long_text = " ".join(f"word{i}" for i in range(900))  # chunk rows follow its own
    first = [{"role": "user", "name": "Ann", "content": "my bike is red", "timestamp": T0}]
    memory.add([*first, {"role": "assistant", "content": long_text, "timestamp": T0}], user_id="u", session_id="s")
    query = memory.embedder.embed(["bike word7"])[0]
    store.vector_matches(scope, query, filters=SearchFilters(), until=UNTIL, limit=5)  # loads the index
    later = [  # appended to the loaded index by the store's own writes
        {"role": "user", "name": "Bob Ray", "content": f"bike note {i}", "timestamp": T0 + timedelta(days=i)}
        for i in range(1, 6)
    ]
    memory.add(later, user_id="u", session_id="s2")
    for filters in (SearchFilters(), SearchFilters(since=T0 + timedelta(days=2))):
        statements: list[str] = []
        store._conn.set_trace_callback(statements.append)
        found = store.vector_matches(scope, query, filters=filters, until=UNTIL, limit=10)
        store._conn.set_trace_callback(None)
        assert not [sql for sql in statements if "FROM turns" in sql]  # no row read back
        near = store.vector_search(scope, query, filters=filters, until=UNTIL, limit=10)
        assert found == [Match.of(c.turn, c.score) for c in near] and len(found) >= 3
        assert {m.name for m in found} >= {"Bob Ray"}
    memory.close()
