"""Full-text matches checked and described by the user's vector index are the ones the turns' rows give."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest

from engram import SearchFilters, SQLiteStore
from engram.model.timeutil import from_micros
from engram.store.base import UserScope
from engram.store.sqlite import fulltext as sqlite_fulltext
from engram.store.vectors import ScopeVectors
from tests.test_store_fulltext import EMB, T0, UNTIL, WORDS, put

SCOPE = UserScope("t", "ann")
FILTERS = [
    SearchFilters(),
    SearchFilters(include_archived=True),
    SearchFilters(since=T0 + timedelta(days=2)),
    SearchFilters(until=T0 + timedelta(days=4)),
    SearchFilters(roles=("user",)),  # not the index's to check: the rows decide
]


def reference(store: SQLiteStore, terms: list[str], filters: SearchFilters, limit: int) -> list[tuple]:
    """Every matching turn of ann scored by FTS5, filtered on its row, as (id, score, role, name, time)."""
    bound = min(UNTIL, filters.until) if filters.until else UNTIL
    rows = store._conn.execute(
        "SELECT t.seq, t.id, t.role, t.name, t.ts, t.archived_at, bm25(turns_fts, 1.0, 0.5, 0.6, 0.0) "
        "FROM turns_fts CROSS JOIN turns t ON t.seq = turns_fts.rowid "
        "WHERE turns_fts MATCH ? AND t.tenant = ? AND t.user_id = ?",
        (sqlite_fulltext.match_expression(SCOPE, "{content name keys}", terms), SCOPE.tenant, SCOPE.user_id),
    ).fetchall()
    kept = [
        (rank, seq, tid, role, name, ts)
        for seq, tid, role, name, ts, archived, rank in rows
        if (filters.include_archived or archived is None)
        and from_micros(ts) <= bound
        and (filters.since is None or from_micros(ts) >= filters.since)
        and (not filters.roles or role in filters.roles)
    ]
    return [(tid, -rank, role, name, from_micros(ts)) for rank, seq, tid, role, name, ts in sorted(kept)[:limit]]


@pytest.fixture
def store(tmp_path, monkeypatch):
    """ann's 240 turns over 8 days, ranked in memory; some archived, one stored without a vector."""
    monkeypatch.setattr(sqlite_fulltext, "MEMORY_FROM_TURNS", 0)
    monkeypatch.setattr(sqlite_fulltext, "PRUNE_FROM_TURNS", 0)
    rng = random.Random(11)
    s = SQLiteStore(tmp_path / "s.db")
    s.bind_embedder(EMB.model_id, EMB.dim)
    for day in range(8):
        rows = [
            ("user", "ann", " ".join(rng.choices(WORDS[:25], k=rng.randint(2, 9))))
            if i % 2 == 0
            else ("assistant", None, " ".join(rng.choices(WORDS[:25], k=rng.randint(2, 9))))
            for i in range(30)
        ]
        put(s, "ann", f"s{day}", rows, T0 + timedelta(days=day))
    ids = [row[0] for row in s._conn.execute("SELECT id FROM turns ORDER BY seq")]
    s.set_memory_flags("turn", SCOPE, ids[5:60:4], archived_at=T0 + timedelta(days=9))
    s._conn.execute("UPDATE turns SET embedding = NULL WHERE id = ?", (ids[7],))  # an older store's turn, say
    s._vectors.clear()
    yield s
    s.close()


@pytest.mark.parametrize("filters", FILTERS, ids=["none", "archived too", "since", "until", "roles"])
def test_matches_checked_by_the_vector_index_equal_the_rows(store, filters, monkeypatch):
    checked = []
    by_index = sqlite_fulltext.FullTextMixin._filtered_by_index

    def counting(self, *args):
        checked.append(True)
        return by_index(self, *args)

    monkeypatch.setattr(sqlite_fulltext.FullTextMixin, "_filtered_by_index", counting)
    rng = random.Random(5)
    store.vector_matches(SCOPE, EMB.embed(["w1"])[0], filters=SearchFilters(), until=UNTIL, limit=5)  # loads the index
    for _ in range(40):
        terms = rng.sample(WORDS[:25], rng.randint(1, 3))
        limit = rng.choice([3, 10, 80])
        found = store.text_matches(SCOPE, terms, filters=filters, until=UNTIL, limit=limit)
        assert [(m.id, m.score, m.role, m.name, m.timestamp) for m in found] == reference(store, terms, filters, limit)
    # every search but the process's first (FTS5's) ranks in memory; a role filter is the rows' to check
    assert len(checked) == 0 if filters.roles else len(checked) >= 39


def test_a_turn_without_a_vector_is_read_from_its_row(store):
    store.vector_matches(SCOPE, EMB.embed(["w1"])[0], filters=SearchFilters(), until=UNTIL, limit=5)
    missing = store._conn.execute("SELECT id, content FROM turns WHERE embedding IS NULL").fetchone()
    terms = missing[1].split()[:2]
    found = store.text_matches(SCOPE, terms, filters=SearchFilters(), until=UNTIL, limit=300)
    assert missing[0] in [m.id for m in found]
    assert [(m.id, m.score) for m in found] == [r[:2] for r in reference(store, terms, SearchFilters(), 300)]


def test_the_index_tells_which_seqs_it_holds_and_which_pass():
    index = ScopeVectors(2)
    index.append(
        np.array([2, 2, 5, 9]),  # seq 2 has a chunk row
        np.array([10, 10, 20, 30]),
        np.eye(2, dtype=np.float32)[[0, 1, 0, 1]],
        active=np.array([True, True, False, True]),
    )
    held, passed = index.visible(np.array([9, 1, 2, 5, 12]), until=25)
    assert held.tolist() == [True, False, True, True, False]
    assert passed.tolist() == [False, False, True, False, False]  # 9 too late, 5 archived
    held, passed = index.visible(np.array([5, 9]), until=30, since=15, include_archived=True)
    assert held.tolist() == passed.tolist() == [True, True]
    assert [a.tolist() for a in ScopeVectors(2).visible(np.array([1]), until=5)] == [[False], [False]]


def test_a_rolled_back_insert_leaves_nothing_in_the_derived_indexes(store):
    vector = EMB.embed(["w1 w2"])[0]
    store.vector_matches(SCOPE, vector, filters=SearchFilters(), until=UNTIL, limit=5)
    turns = store._vectors[(SCOPE.tenant, SCOPE.user_id)].turns
    with pytest.raises(RuntimeError), store.atomic():
        put(store, "ann", "s9", [("user", "ann", "w1 w2 phantom")], T0 + timedelta(days=8))
        raise RuntimeError("the caller fails after the insert")
    found = store.vector_matches(SCOPE, vector, filters=SearchFilters(), until=UNTIL, limit=300)
    assert store._vectors[(SCOPE.tenant, SCOPE.user_id)].turns == turns
    assert "w1 w2 phantom" not in [t.content for t in store.get_turns(SCOPE, [m.id for m in found])]
    assert len(found) == len({m.id for m in found}) == len(store.get_turns(SCOPE, [m.id for m in found]))


def test_another_users_candidates_are_left_out_unread(tmp_path, monkeypatch):
    # ann holds most rows, so her candidates are not narrowed to her rows first: bob's rows
    # among them are known not to be hers, since her index holds all her turns.
    monkeypatch.setattr(sqlite_fulltext, "MEMORY_FROM_TURNS", 0)
    rng = random.Random(2)
    s = SQLiteStore(tmp_path / "two.db")
    s.bind_embedder(EMB.model_id, EMB.dim)
    put(s, "ann", "a", [("user", "ann", " ".join(rng.choices(WORDS[:10], k=5))) for _ in range(200)], T0)
    put(s, "bob", "b", [("user", "bob", " ".join(rng.choices(WORDS[:10], k=5))) for _ in range(40)], T0)
    s.vector_matches(SCOPE, EMB.embed(["w1"])[0], filters=SearchFilters(), until=UNTIL, limit=5)
    s.text_matches(SCOPE, ["w1"], filters=SearchFilters(), until=UNTIL, limit=10)  # the process's first: FTS5's
    statements: list[str] = []
    s._conn.set_trace_callback(statements.append)
    found = s.text_matches(SCOPE, ["w1", "w3"], filters=SearchFilters(), until=UNTIL, limit=10)
    s._conn.set_trace_callback(None)
    assert [(m.id, m.score) for m in found] == [r[:2] for r in reference(s, ["w1", "w3"], SearchFilters(), 10)]
    assert not [sql for sql in statements if "FROM turns t" in sql]
    s.forget(SCOPE, ids=[found[0].id])  # the user's count follows the deletion, so the index still holds all
    s.vector_matches(SCOPE, EMB.embed(["w1"])[0], filters=SearchFilters(), until=UNTIL, limit=5)
    s.text_matches(SCOPE, ["w1"], filters=SearchFilters(), until=UNTIL, limit=10)  # the lists, read again
    statements.clear()
    s._conn.set_trace_callback(statements.append)
    again = s.text_matches(SCOPE, ["w1", "w3"], filters=SearchFilters(), until=UNTIL, limit=10)
    s._conn.set_trace_callback(None)
    assert [(m.id, m.score) for m in again] == [r[:2] for r in reference(s, ["w1", "w3"], SearchFilters(), 10)]
    assert found[0].id not in [m.id for m in again]
    assert not [sql for sql in statements if "FROM turns t" in sql]
    s.close()
