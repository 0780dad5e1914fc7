"""Full-text ranking from posting lists in memory (engram.store.sqlite.postings): the exact
FTS5 scores, MaxScore's pruning never changing the ranking, and the memory budget."""

from __future__ import annotations

import random
import sqlite3

import numpy as np
import pytest

from engram.store.sqlite.postings import (
    MAX_USER_MASKS,
    IndexStats,
    Postings,
    TermPostings,
    best_first,
    bm25_scores,
    fts5_varints,
    known_floor_rows,
    rank_postings,
)


def random_lists(rng: random.Random, terms: int, rows: int) -> list[Postings]:
    lists = []
    for _ in range(terms):
        held = rng.sample(range(1, rows), rng.randint(0, rows // 2))
        lists.append(Postings.from_rows([(row, -rng.uniform(0.1, 5.0)) for row in held]))
    return lists


def reference(lists: list[Postings]) -> dict[int, float]:
    """Every row's score: its terms' scores added in the query's order, from 0.0."""
    every = {int(row) for postings in lists for row in postings.rows}
    scores = dict.fromkeys(every, 0.0)
    for postings in lists:
        held = dict(zip(postings.rows.tolist(), postings.scores.tolist(), strict=True))
        for row in every:
            scores[row] += held.get(row, 0.0)
    return scores


def test_postings_are_sorted_by_row_with_positive_scores():
    postings = Postings.from_rows([(9, -1.5), (2, -0.5), (5, -3.0)])
    assert postings.rows.tolist() == [2, 5, 9] and postings.scores.tolist() == [0.5, 3.0, 1.5]
    assert postings.best == 3.0
    assert postings.scores_of(np.array([1, 5, 9, 12])).tolist() == [0.0, 3.0, 1.5, 0.0]
    assert sorted(postings.top_rows(2).tolist()) == [5, 9] and sorted(postings.top_rows(10).tolist()) == [
        2,
        5,
        9,
    ]
    assert Postings.from_rows([]).best == 0.0


@pytest.mark.parametrize("seed", range(8))
def test_ranking_from_any_reached_floor_keeps_every_row_at_or_above_it(seed):
    rng = random.Random(seed)
    lists = random_lists(rng, rng.randint(1, 6), 400)
    expected = reference(lists)
    scratch = np.zeros(400)
    everything = rank_postings(lists, 0.0, scratch)
    assert dict(zip(everything[0].tolist(), everything[1].tolist(), strict=True)) == expected  # bit for bit
    assert not scratch.any()  # left zeroed for the next query
    ranked = sorted(expected.values(), reverse=True)
    for limit in (1, 5, 40):
        if len(ranked) < limit:
            continue
        rows, scores = rank_postings(lists, ranked[limit - 1], scratch)
        kept = dict(zip(rows.tolist(), scores.tolist(), strict=True))
        assert {row for row, score in expected.items() if score >= ranked[limit - 1]} <= set(kept)
        assert all(expected[row] == score for row, score in kept.items())


def test_a_high_floor_scores_fewer_rows():
    common = Postings.from_rows([(row, -0.1) for row in range(1, 1000)])  # in every row, adds little
    rare = Postings.from_rows([(row, -4.0) for row in range(1, 1000, 100)])
    rows, scores = rank_postings([common, rare], 4.0, np.zeros(1000))
    assert rows.tolist() == list(range(1, 1000, 100)) and set(scores.tolist()) == {0.1 + 4.0}
    rows, _ = rank_postings([common, rare], 0.0, np.zeros(1000))
    assert len(rows) == 999


def test_known_floor_rows_sum_what_each_best_row_holds():
    a = Postings.from_rows([(1, -3.0), (2, -1.0), (3, -2.0)])
    b = Postings.from_rows([(3, -4.0), (4, -0.5)])
    rows, known = known_floor_rows([a, b], 1)
    assert dict(zip(rows.tolist(), known.tolist(), strict=True)) == {1: 3.0, 3: 2.0 + 4.0}


def test_best_first_orders_ties_by_row_and_keeps_them_at_the_cut():
    rows = np.array([7, 3, 9, 1, 5])
    scores = np.array([2.0, 1.0, 2.0, 3.0, 2.0])
    assert best_first(rows, scores, -1)[0].tolist() == [1, 5, 7, 9, 3]
    assert best_first(rows, scores, 2)[0].tolist() == [1, 5]  # of the three tied at 2.0, the lowest row
    assert best_first(rows, scores, 0)[0].tolist() == []


def test_the_budget_drops_least_recently_used_terms_but_not_those_in_use():
    one = Postings.from_rows([(row, -1.0) for row in range(100)])
    cache = TermPostings(budget_bytes=2 * one.nbytes + 10)
    for term in ("a", "b"):
        cache.add(term, Postings.from_rows([(row, -1.0) for row in range(100)]))
    cache.use(["a"])  # b is now the least recently used
    cache.add("c", one)
    assert "b" not in cache and "a" in cache and "c" in cache
    cache.add("d", Postings.from_rows([(row, -1.0) for row in range(100)]), keep=["a", "c"])
    assert {"a", "c", "d"} <= {term for term in "abcd" if term in cache}  # above the budget for one query
    cache.reset()
    assert len(cache) == 0
    with pytest.raises(ValueError, match="negative"):
        TermPostings(-1)


def test_a_users_mask_is_read_once_per_state_and_narrows_the_ranking():
    cache, reads = TermPostings(), []

    def read():
        reads.append(1)
        return [(2,), (5,)]

    mask = cache.user_mask("bob", 7, read)
    assert mask.tolist() == [False, False, True, False, False, True, False, False]
    assert cache.user_mask("bob", 7, read) is mask and len(reads) == 1
    postings = Postings.from_rows([(row, -1.0) for row in range(1, 8)])
    rows, _ = rank_postings([postings], 0.0, np.zeros(8), mask)
    assert sorted(rows.tolist()) == [2, 5]
    for user in range(MAX_USER_MASKS):
        cache.user_mask(user, 7, read)
    assert "bob" not in cache._masks  # the least recently used beyond the most kept
    cache.reset()
    cache.user_mask("bob", 7, read)
    assert len(reads) == 2 + MAX_USER_MASKS


def test_a_floor_above_every_terms_bound_ranks_nothing():
    lists = [Postings.from_rows([(1, -1.0), (2, -2.0)]), Postings.from_rows([(2, -0.5)])]
    rows, scores = rank_postings(lists, 10.0, np.zeros(4))
    assert len(rows) == 0 and len(scores) == 0


def test_fts5_varints_decode_sqlite_varints():
    def varint(value: int) -> bytes:  # SQLite's: seven bits a byte, most significant first
        groups = [value & 0x7F]
        while value > 0x7F:
            value >>= 7
            groups.append(0x80 | (value & 0x7F))
        return bytes(reversed(groups))

    values = [0, 1, 127, 128, 300, 16_383, 16_384, 2_000_000, 5, 0]
    assert fts5_varints(b"".join(varint(v) for v in values)).tolist() == values
    assert fts5_varints(bytes([3, 0, 127])).tolist() == [3, 0, 127]  # all one byte
    assert fts5_varints(b"").tolist() == []


def test_bm25_scores_are_fts5s_to_the_bit():
    # FTS5's own scores of one term in a small table, against the formula on its counts and lengths.
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(a, b)")
    texts = [("x y z", "x"), ("x x x x y", ""), ("y " * 40 + "x", "x x"), ("z", "y")]
    conn.executemany("INSERT INTO t(rowid, a, b) VALUES (?, ?, ?)", [(i + 1, a, b) for i, (a, b) in enumerate(texts)])
    conn.commit()
    found = conn.execute("SELECT rowid, bm25(t, 1.0, 0.5) FROM t WHERE t MATCH 'x' ORDER BY rowid").fetchall()
    lengths = np.array([4, 5, 43], dtype=np.int32)
    stats = IndexStats(rows=4, tokens=(3 + 5 + 41 + 1, 1 + 0 + 2 + 1), upto=4)
    freqs = np.array([1.0 + 0.5, 4.0, 1.0 + 0.5 + 0.5])
    expected = [-rank for _, rank in found]
    assert bm25_scores(freqs, lengths, stats.idf(3), stats.avgdl).tolist() == expected
