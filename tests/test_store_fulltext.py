"""SQLite full-text search: leaving common terms out of the candidates ranks like scoring every match."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engram import HashingEmbedder, Scope, SearchFilters, SQLiteStore
from engram.model.messages import parse_messages
from engram.providers.embedder import text_key
from engram.store.base import UserScope
from engram.store.records import TurnNotes
from engram.store.sqlite import fulltext as sqlite_store
from engram.store.sqlite import fulltext_lists
from engram.store.sqlite.postings import Postings, known_floor_rows
from engram.store.sqlite.sql import any_term, bm25_bound, match_expression

T0 = datetime(2024, 1, 1, tzinfo=UTC)
EMB = HashingEmbedder(16)
WORDS = [f"w{i}" for i in range(60)]
UNTIL = T0 + timedelta(days=30)


def put(
    store: SQLiteStore, user: str, session: str, rows: list[tuple[str, str, str]], start: datetime
) -> None:
    messages = [
        {"role": role, "name": name, "content": text, "timestamp": start + timedelta(minutes=i)}
        for i, (role, name, text) in enumerate(rows)
    ]
    turns = parse_messages(messages, Scope("t", user, None, session), now=T0)
    texts = [t.embedding_text() for t in turns]
    store.insert_turns(turns, EMB.embed(texts), [text_key(t) for t in texts], T0)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> SQLiteStore:
    """Two users; in every turn a speaker's name, and words from a Zipf-like vocabulary."""
    rng = random.Random(7)
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]
    s = SQLiteStore(tmp_path_factory.mktemp("fts") / "store.db")
    s.bind_embedder(EMB.model_id, EMB.dim)
    for user, sessions in (("ann", 8), ("bob", 3)):
        for number in range(sessions):
            rows = []
            for i in range(60):
                words = rng.choices(WORDS, weights, k=rng.randint(3, 18))
                role, name = ("user", user) if i % 2 == 0 else ("assistant", "sam")
                rows.append((role, name, " ".join(words)))
            put(s, user, f"s{number}", rows, T0 + timedelta(days=3 * number))
    yield s
    s.close()


def every_match(
    store: SQLiteStore, scope: UserScope, terms: list[str], keep, limit: int
) -> list[tuple[int, float]]:
    """The reference: score every turn of the user that holds a term, filter, sort."""
    rows = store._conn.execute(
        "SELECT t.seq, t.session_id, t.role, t.ts, bm25(turns_fts, 1.0, 0.5, 0.6, 0.0) FROM turns_fts "
        "CROSS JOIN turns t ON t.seq = turns_fts.rowid WHERE turns_fts MATCH ? AND t.tenant = ? AND t.user_id = ?",
        (match_expression(scope, "{content name keys}", terms), scope.tenant, scope.user_id),
    ).fetchall()
    ranked = sorted((rank, seq) for seq, session, role, ts, rank in rows if keep(session, role, ts))
    return [(seq, -rank) for rank, seq in ranked[:limit]]


@pytest.fixture(params=["by FTS5", "in memory"])
def pruning(request, monkeypatch) -> dict[str, int]:
    """Prune in this small store, and count the searches that pruned and that searched again.

    Both plans: FTS5's, as in a process's first search (term counts alone: every search
    forgets the state), and from the posting lists in memory.
    """
    monkeypatch.setattr(sqlite_store, "PRUNE_FROM_TURNS", 0)
    monkeypatch.setattr(sqlite_store, "MEMORY_FROM_TURNS", 0)
    monkeypatch.setattr(sqlite_store, "COMMON_TERM_SHARE", 0.05)
    seen = {"pruned": 0, "again": 0, "in memory": 0}
    calls: list[bool] = []
    rank, search, in_memory = SQLiteStore._rank_text, SQLiteStore.text_search, SQLiteStore._rank_in_memory

    def counting_in_memory(self, *args):
        seen["in memory"] += 1
        return in_memory(self, *args)

    def counting_rank(self, scope, terms, candidates, *args):
        calls.append(candidates != match_expression(scope, "{content name keys}", terms))
        return rank(self, scope, terms, candidates, *args)

    def counting_search(self, *args, **kwargs):
        calls.clear()
        if request.param == "by FTS5":
            self._fts_counts, self._wants_lists = None, False
        found = search(self, *args, **kwargs)
        seen["pruned"] += calls[:1] == [True]
        seen["again"] += len(calls) > 1
        return found

    monkeypatch.setattr(SQLiteStore, "_rank_text", counting_rank)
    monkeypatch.setattr(SQLiteStore, "text_search", counting_search)
    monkeypatch.setattr(SQLiteStore, "_rank_in_memory", counting_in_memory)
    return seen


FILTERS = [
    ("none", SearchFilters(), lambda session, role, ts: True),
    ("one session", SearchFilters(session_ids=("s1",)), lambda session, role, ts: session == "s1"),
    ("user turns", SearchFilters(roles=("user",)), lambda session, role, ts: role == "user"),
    (
        "early",
        SearchFilters(until=T0 + timedelta(days=4)),
        lambda session, role, ts: ts <= int((T0 + timedelta(days=4)).timestamp() * 1_000_000),
    ),
]


@pytest.mark.parametrize("user", ["ann", "bob"])
@pytest.mark.parametrize(("label", "filters", "keep"), FILTERS, ids=[f[0] for f in FILTERS])
def test_pruned_ranking_equals_scoring_every_match(store, pruning, label, filters, keep, user, request):
    # From the second search on, turns are ranked from the posting lists in memory (bob's
    # narrowed to his rows: ann holds most of the store); the first search, by FTS5.
    rng = random.Random(label)
    for _ in range(60):
        terms = rng.sample(WORDS[:8], rng.randint(1, 3)) + rng.sample(WORDS[8:], rng.randint(0, 2))
        terms += [user] if rng.random() < 0.5 else []
        limit = rng.choice([5, 10, 50])
        scope = UserScope("t", user)
        found = store.text_search(scope, terms, filters=filters, until=UNTIL, limit=limit)
        assert [(c.turn.seq, c.score) for c in found] == every_match(store, scope, terms, keep, limit), terms
        assert all(c.turn.scope.user_id == user for c in found)
    if "by FTS5" in request.node.callspec.id:
        assert pruning["pruned"] >= 4 and pruning["again"] >= 1  # both ways ran (the draws are seeded)
        assert pruning["in memory"] == 0
    else:
        assert pruning["in memory"] >= 59  # all but the first search (it starts the term state)


def test_a_lone_common_term_is_not_pruned(store, pruning):
    scope = UserScope("t", "bob")
    found = store.text_search(scope, ["w0"], filters=SearchFilters(), until=UNTIL, limit=10)
    assert len(found) == 10 and pruning["pruned"] == 0
    assert [(c.turn.seq, c.score) for c in found] == every_match(store, scope, ["w0"], lambda *_: True, 10)


def test_candidates_are_the_rows_with_a_rare_term_or_two_common_ones():
    assert any_term("{a b}", ["x", "y"]) == '{a b} : ("x" OR "y")'
    assert any_term("c", ["r", "c1", "c2", "c3"], common={"c1", "c2", "c3"}) == (
        'c : ("r" OR ("c1" AND ("c2" OR "c3")) OR ("c2" AND ("c3")))'
    )
    assert any_term("c", ['say "hi"'], common=()) == 'c : ("say ""hi""")'


@pytest.mark.parametrize(("matching", "rows"), [(1, 10), (5, 10), (9, 10), (10, 10), (3, 100_000)])
def test_the_bound_is_above_any_single_term_score(matching, rows):
    # bm25 of one term: IDF × f(k1 + 1) / (f + k1 × length norm) < IDF × (k1 + 1) for any f.
    assert bm25_bound(matching, rows) > 0
    assert bm25_bound(matching, rows + 100) >= bm25_bound(matching, rows)  # more rows: higher bound
    assert bm25_bound(matching + 1, rows + 1) <= bm25_bound(matching, rows + 1)


def test_each_terms_list_holds_every_row_with_its_single_term_score(store, monkeypatch):
    monkeypatch.setattr(sqlite_store, "PRUNE_FROM_TURNS", 0)
    monkeypatch.setattr(sqlite_store, "MEMORY_FROM_TURNS", 0)
    terms = ["w0", "w3", "ann", "nothing"]
    store._fts_counts = None
    store.text_search(UserScope("t", "ann"), terms, filters=SearchFilters(), until=UNTIL, limit=10)
    store.text_search(
        UserScope("t", "ann"), terms, filters=SearchFilters(), until=UNTIL, limit=10
    )  # reads the lists
    for term, postings in zip(terms, store._postings.use(terms), strict=True):
        expected = every_match(store, UserScope("t", "ann"), [term], lambda *_: True, 10**6)
        expected += every_match(store, UserScope("t", "bob"), [term], lambda *_: True, 10**6)
        assert sorted(expected) == list(zip(postings.rows.tolist(), postings.scores.tolist(), strict=True))
        assert postings.best == max((score for _, score in expected), default=0.0)


def test_exact_bounds_follow_the_index_and_not_other_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_store, "PRUNE_FROM_TURNS", 0)
    monkeypatch.setattr(sqlite_store, "MEMORY_FROM_TURNS", 0)
    s = SQLiteStore(tmp_path / "b.db")
    s.bind_embedder(EMB.model_id, EMB.dim)
    rng = random.Random(5)
    rows = [("user", "ann", " ".join(rng.choices(WORDS[:20], k=rng.randint(4, 12)))) for _ in range(200)]
    put(s, "ann", "s0", rows, T0)
    scope, terms = UserScope("t", "ann"), ["w1", "w2", "w30"]

    def check() -> None:
        found = s.text_search(scope, terms, filters=SearchFilters(), until=UNTIL, limit=5)
        assert [(c.turn.seq, c.score) for c in found] == every_match(s, scope, terms, lambda *_: True, 5)

    check()
    check()  # no write since: the terms' posting lists are read and kept
    kept = {term: s._postings.use([term])[0] for term in terms}
    s._conn.execute("UPDATE turns SET recalls = recalls + 1")  # what a context's reinforcement writes
    s._conn.commit()
    check()
    assert all(s._postings.use([term])[0] is kept[term] for term in terms)
    put(
        s,
        "ann",
        "s1",
        [("user", "ann", "w30 w30 w30 w30"), ("user", "ann", "w1 w30")],
        T0 + timedelta(days=1),
    )
    check()  # only appended to: each list is brought up to date from the new rows alone
    assert set(terms) <= {term for term in terms if term in s._postings}
    w30, w1 = s._postings.use(["w30", "w1"])
    assert len(kept["w30"].rows) == 0 and len(w30.rows) == 2 and w30.best > 0  # the new turns
    assert len(w1.rows) == len(kept["w1"].rows) + 1 and np.array_equal(w1.rows[:-1], kept["w1"].rows)
    assert not np.array_equal(w1.scores[:-1], kept["w1"].scores)  # a new IDF and average length
    s.close()


@pytest.mark.parametrize(("label", "filters", "keep"), FILTERS, ids=[f[0] for f in FILTERS])
def test_the_floor_known_reached_is_at_most_the_limit_th_score(store, monkeypatch, label, filters, keep):
    # Each term's best rows score at least the single-term scores they hold: the limit-th of
    # their sums among the rows that pass the filters is reached, so ranking from that floor
    # is exact.
    monkeypatch.setattr(sqlite_store, "PRUNE_FROM_TURNS", 0)
    monkeypatch.setattr(sqlite_store, "MEMORY_FROM_TURNS", 0)
    rng, known = random.Random(label + "floor"), 0
    scope = UserScope("t", "ann")
    where, params = sqlite_store.filter_sql(scope, filters, UNTIL)
    for _ in range(40):
        terms = list(
            dict.fromkeys(rng.sample(WORDS[:12], rng.randint(1, 4)) + (["ann"] if rng.random() < 0.5 else []))
        )
        limit = rng.choice([5, 10, 50])
        expected = every_match(store, scope, terms, keep, limit)
        store.text_search(scope, terms, filters=filters, until=UNTIL, limit=limit)  # starts the state
        found = store.text_search(scope, terms, filters=filters, until=UNTIL, limit=limit)
        assert [(c.turn.seq, c.score) for c in found] == expected, terms
        rows, sums = known_floor_rows(store._postings.use(terms), limit)
        reached = store._reached(dict(zip(rows.tolist(), sums.tolist(), strict=True)), where, params, limit)
        assert reached <= (expected[-1][1] if len(expected) == limit else 0.0), terms
        known += reached > 0
    assert known >= (20 if label == "none" else 1), known


def test_a_mid_sized_user_is_ranked_in_memory_across_writes(tmp_path, monkeypatch):
    # From MEMORY_FROM_TURNS turns, every search but the process's first ranks from the posting
    # lists (below PRUNE_FROM_TURNS the first scores every match); a write that appends keeps them.
    monkeypatch.setattr(sqlite_store, "MEMORY_FROM_TURNS", 100)
    s = SQLiteStore(tmp_path / "m.db")
    s.bind_embedder(EMB.model_id, EMB.dim)
    rng = random.Random(3)
    put(s, "ann", "s0", [("user", "ann", " ".join(rng.choices(WORDS[:20], k=8))) for _ in range(150)], T0)
    scope, terms = UserScope("t", "ann"), ["w1", "w4", "w12"]
    expected = every_match(s, scope, terms, lambda *_: True, 10)
    for searches_in_memory in (0, 1, 2):
        found = s.text_search(scope, terms, filters=SearchFilters(), until=UNTIL, limit=10)
        assert [(c.turn.seq, c.score) for c in found] == expected
        assert len(s._postings) == (3 if searches_in_memory else 0)
    put(s, "ann", "s1", [("user", "ann", "w1 w4")], T0 + timedelta(days=1))
    found = s.text_search(scope, terms, filters=SearchFilters(), until=UNTIL, limit=10)
    assert [(c.turn.seq, c.score) for c in found] == every_match(s, scope, terms, lambda *_: True, 10)
    assert len(s._postings) == 3 and "w1 w4" in [c.turn.content for c in found]  # kept; the new turn ranks
    s.close()


def test_a_full_text_cache_of_zero_turns_the_in_memory_ranking_off(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_store, "MEMORY_FROM_TURNS", 10)
    s = SQLiteStore(tmp_path / "z.db", fulltext_cache_mb=0)
    s.bind_embedder(EMB.model_id, EMB.dim)
    put(s, "ann", "s0", [("user", "ann", f"w1 w2 note {i}") for i in range(40)], T0)
    scope = UserScope("t", "ann")
    for _ in range(3):
        found = s.text_search(scope, ["w1", "note"], filters=SearchFilters(), until=UNTIL, limit=5)
        assert [(c.turn.seq, c.score) for c in found] == every_match(s, scope, ["w1", "note"], lambda *_: True, 5)
    assert len(s._postings) == 0
    s.close()


def put_noted(store: SQLiteStore, user: str, session: str, texts: list[tuple[str, str]], start: datetime) -> None:
    """Turns with index keys (the write path's notes), ``(content, keys)`` each."""
    messages = [
        {"role": "user", "name": user, "content": text, "timestamp": start + timedelta(minutes=i)}
        for i, (text, _) in enumerate(texts)
    ]
    turns = parse_messages(messages, Scope("t", user, None, session), now=T0)
    embedded = [t.embedding_text() for t in turns]
    notes = [TurnNotes(keys, 0.5) for _, keys in texts]
    store.insert_turns(turns, EMB.embed(embedded), [text_key(t) for t in embedded], T0, notes=notes)


def random_text(rng: random.Random, words: int) -> str:
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]
    return " ".join(rng.choices(WORDS, weights, k=words))


@pytest.fixture
def counted_reads(monkeypatch) -> dict[str, int]:
    """Rank in memory from the first search on, and count the lists read whole and brought up to date."""
    monkeypatch.setattr(sqlite_store, "PRUNE_FROM_TURNS", 0)
    monkeypatch.setattr(sqlite_store, "MEMORY_FROM_TURNS", 0)
    seen = {"read": 0, "extended": 0}
    read, extended = Postings.read.__func__, Postings.extended

    def counting_read(cls, *args):
        seen["read"] += 1
        return read(cls, *args)

    def counting_extended(self, *args):
        found = extended(self, *args)
        seen["extended"] += found is not None
        return found

    monkeypatch.setattr(Postings, "read", classmethod(counting_read))
    monkeypatch.setattr(Postings, "extended", counting_extended)
    return seen


@pytest.mark.parametrize("keep", [fulltext_lists.FRESH_KEEP_ROWS, 4])
def test_rankings_stay_exact_while_turns_are_appended_here_and_by_another_process(
    tmp_path, counted_reads, monkeypatch, keep
):
    # A chat: each search follows writes (this connection's or another's), long messages and
    # index keys included. Every ranking must be FTS5's scoring every match, to the bit, while
    # the lists are brought up to date from the new rows instead of being read again. With a
    # small fresh table, the rows every kept list holds are left out of it as the chat goes.
    monkeypatch.setattr(fulltext_lists, "FRESH_KEEP_ROWS", keep)
    rng = random.Random(11)
    path = tmp_path / "chat.db"
    s = SQLiteStore(path)
    s.bind_embedder(EMB.model_id, EMB.dim)
    other = SQLiteStore(path)
    for user in ("ann", "bob"):
        texts = [(random_text(rng, rng.randint(3, 30)), random_text(rng, rng.randint(0, 8))) for _ in range(120)]
        put_noted(s, user, "s0", texts, T0)
    s._wants_lists = True
    for step in range(40):
        writer = other if step % 3 == 0 else s
        length = rng.choice([4, 12, 200, 400])  # past 127 tokens a column, docsize's varints take two bytes
        texts = [(random_text(rng, length), random_text(rng, rng.randint(0, 6))) for _ in range(rng.randint(1, 3))]
        put_noted(writer, rng.choice(["ann", "bob", "cy"]), f"live{step}", texts, T0 + timedelta(days=1, minutes=step))
        for user in ("ann", "bob"):
            scope = UserScope("t", user)
            terms = rng.sample(WORDS[:10], rng.randint(1, 3)) + rng.sample(WORDS[10:], rng.randint(0, 2))
            limit = rng.choice([5, 20])
            found = s.text_search(scope, terms, filters=SearchFilters(), until=UNTIL, limit=limit)
            assert [(c.turn.seq, c.score) for c in found] == every_match(s, scope, terms, lambda *_: True, limit)
    assert counted_reads["extended"] >= 40 and counted_reads["read"] <= len(WORDS)
    assert all(postings.freqs is not None for postings in s._postings._lists.values())
    other.close()
    s.close()


@pytest.mark.parametrize("change", ["deleted", "the last turn deleted and its rowid taken"])
def test_a_deletion_drops_the_lists(tmp_path, counted_reads, change):
    # Only appends keep the lists: a deletion changes rows the lists hold. When the last turn
    # is deleted, the next insert takes its rowid, and the row count and token totals can come
    # out as an append's would: the turn at the last rowid known tells them apart.
    s = SQLiteStore(tmp_path / "d.db")
    s.bind_embedder(EMB.model_id, EMB.dim)
    put(s, "ann", "s0", [("user", "ann", f"w1 w2 w{i % 7 + 3}") for i in range(50)], T0)
    s._wants_lists = True
    scope, terms = UserScope("t", "ann"), ["w1", "w3"]

    def check() -> None:
        found = s.text_search(scope, terms, filters=SearchFilters(), until=UNTIL, limit=10)
        assert [(c.turn.seq, c.score) for c in found] == every_match(s, scope, terms, lambda *_: True, 10)

    check()
    version, reads = s._postings.version, counted_reads["read"]
    last = s._conn.execute("SELECT max(seq) FROM turns").fetchone()[0]
    if change == "deleted":
        s._conn.execute("DELETE FROM turns WHERE seq = 7")
    else:
        s._conn.execute("DELETE FROM turns WHERE seq = ?", (last,))
        put(s, "ann", "s1", [("user", "ann", "w1 w2 w4")], T0 + timedelta(days=1))  # the same sizes
        assert s._conn.execute("SELECT max(seq) FROM turns").fetchone()[0] == last
    check()
    assert s._postings.version > version and counted_reads["read"] == reads + 2  # read again, whole
    s.close()


def test_weighted_counts_come_back_from_scores_to_the_bit(tmp_path):
    # FTS5 adds each column's weight once per time the term is in it, column by column: the
    # keys' 0.6 rounds (three times: 1.7999999999999998), so the keys' count is read apart.
    s = SQLiteStore(tmp_path / "k.db")
    s.bind_embedder(EMB.model_id, EMB.dim)
    texts = [("w1 w1 w1 w9", ""), ("w9 w9", "w1 w1 w1"), ("w1", "w1 w1"), ("w9 " * 300 + "w1", "w1")]
    put_noted(s, "ann", "s0", texts, T0)
    s._sync_postings()
    rows = s._conn.execute(
        f"SELECT rowid, {sqlite_store._BM25}, {sqlite_store._KEYS_BM25} FROM turns_fts WHERE turns_fts MATCH ?",
        (any_term("{content name keys}", ["w1"]),),
    ).fetchall()
    postings = Postings.read(rows, s._postings.stats, s._postings.lengths, s._postings.version)
    assert postings.freqs is not None
    assert postings.freqs.tolist() == [3.0, 0.6 + 0.6 + 0.6, 1.0 + 0.6 + 0.6, 1.0 + 0.6]
    # every column's tokens: content, the name "ann", keys and the scope token
    assert s._postings.lengths[postings.rows].tolist() == [4 + 1 + 0 + 1, 2 + 1 + 3 + 1, 1 + 1 + 2 + 1, 301 + 1 + 1 + 1]
    s.close()


def test_forgetting_drops_the_copies_of_new_turns_kept_for_full_text(tmp_path, counted_reads):
    # The fresh table holds the text of turns appended since the lists were read: a forget
    # must not leave a copy of forgotten text in the connection's temp schema.
    s = SQLiteStore(tmp_path / "f.db")
    s.bind_embedder(EMB.model_id, EMB.dim)
    put(s, "ann", "s0", [("user", "ann", f"w1 w2 w{i % 7 + 3}") for i in range(50)], T0)
    s._wants_lists = True
    scope = UserScope("t", "ann")
    s.text_search(scope, ["w1"], filters=SearchFilters(), until=UNTIL, limit=5)
    put(s, "ann", "secret", [("user", "ann", "w1 my passport number is zq12")], T0 + timedelta(days=1))
    found = s.text_search(scope, ["w1", "zq12"], filters=SearchFilters(), until=UNTIL, limit=5)
    assert found[0].turn.content == "w1 my passport number is zq12"
    assert s._conn.execute("SELECT count(*) FROM temp.engram_fresh_fts WHERE content LIKE '%zq12%'").fetchone()[0] == 1
    s.forget(scope, session_id="secret")
    assert not s._conn.execute("SELECT name FROM temp.sqlite_master WHERE name = 'engram_fresh_fts'").fetchall()
    found = s.text_search(scope, ["w1", "zq12"], filters=SearchFilters(), until=UNTIL, limit=5)
    assert all("zq12" not in c.turn.content for c in found)
    assert [(c.turn.seq, c.score) for c in found] == every_match(s, scope, ["w1", "zq12"], lambda *_: True, 5)
    s.close()


def test_the_fresh_table_leaves_out_rows_every_list_holds(tmp_path, counted_reads, monkeypatch):
    # Rows appended since the oldest kept list stay in the fresh table; past FRESH_KEEP_ROWS,
    # those every kept list has taken in are left out, and the rankings stay exact.
    monkeypatch.setattr(fulltext_lists, "FRESH_KEEP_ROWS", 2)
    s = SQLiteStore(tmp_path / "p.db")
    s.bind_embedder(EMB.model_id, EMB.dim)
    put(s, "ann", "s0", [("user", "ann", f"w1 w2 w{i % 7 + 3}") for i in range(50)], T0)
    s._wants_lists = True
    scope, terms = UserScope("t", "ann"), ["w1", "w4"]
    starts = []
    for step in range(8):
        put(s, "ann", f"live{step}", [("user", "ann", f"w1 w4 w{step + 3}")], T0 + timedelta(days=1, minutes=step))
        found = s.text_search(scope, terms, filters=SearchFilters(), until=UNTIL, limit=10)
        assert [(c.turn.seq, c.score) for c in found] == every_match(s, scope, terms, lambda *_: True, 10)
        starts.append(s._fresh_from)
    assert starts[0] is None and starts[-1] > starts[1] and s._fresh_rows <= 3  # the first search read the lists
    assert counted_reads["read"] == 2  # each list read once, then brought up to date
    s.close()
