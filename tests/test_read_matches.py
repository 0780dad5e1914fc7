"""Search fuses light matches and reads whole turns only for what it returns.

The store's ``text_matches``/``vector_matches`` give exactly the rankings of ``text_search``/
``vector_search`` (turns, order, scores) without building turns; the read path fuses and
re-ranks them as before, and reads the top ``k`` turns (all the candidates with ``explain``).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory, Scope, SearchFilters, SQLiteStore
from engram.model import Hit
from engram.model.messages import parse_messages
from engram.providers.embedder import text_key
from engram.read.analyze import analyze
from engram.read.fuse import reciprocal_rank_fusion
from engram.read.retrieve import RECIPES, Ranked, apply_priors, fuse_matches, query_weights, with_turns
from engram.store.base import Match, UserScope
from engram.store.sqlite import fulltext
from tests.conftest import BACKENDS, make_store

T0 = datetime(2024, 1, 1, tzinfo=UTC)
EMB = HashingEmbedder(32)
WORDS = [f"w{i}" for i in range(30)]
UNTIL = T0 + timedelta(days=30)


def _fill(store: SQLiteStore) -> None:
    """Two users, two agents, two sessions; names, roles and Zipf-like words."""
    rng = random.Random(3)
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]
    store.bind_embedder(EMB.model_id, EMB.dim)
    for user in ("ann", "bob"):
        for number, agent in enumerate(("a1", "a2")):
            messages = [
                {
                    "role": "user" if i % 2 == 0 else "assistant",
                    "name": user if i % 2 == 0 else None,
                    "content": " ".join(rng.choices(WORDS, weights, k=rng.randint(2, 12))),
                    "timestamp": T0 + timedelta(days=number * 5, minutes=i),
                    "metadata": {"n": i % 3},
                }
                for i in range(40)
            ]
            turns = parse_messages(messages, Scope("t", user, agent, f"s{number}"), now=T0)
            texts = [t.embedding_text() for t in turns]
            store.insert_turns(turns, EMB.embed(texts), [text_key(t) for t in texts], T0)


FILTERS = [
    SearchFilters(),
    SearchFilters(roles=("user",)),
    SearchFilters(session_ids=("s1",)),
    SearchFilters(since=T0 + timedelta(days=1)),
    SearchFilters(metadata={"n": 1}),
]


def _same(matches: list[Match], candidates) -> None:
    assert [(m.id, m.score, m.role, m.name, m.timestamp) for m in matches] == [
        (c.turn.id, c.score, c.turn.role, c.turn.name, c.turn.timestamp) for c in candidates
    ]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("prune", [False, True], ids=["every-match", "pruned"])
def test_matches_rank_exactly_like_the_whole_turn_searches(backend, prune, tmp_path, monkeypatch):
    if prune:  # the large-store plan (common terms left out of the candidates), in a small store
        monkeypatch.setattr(fulltext, "PRUNE_FROM_TURNS", 0)
    store = make_store(backend, tmp_path)
    _fill(store)
    rng = random.Random(5)
    for scope in (UserScope("t", "ann"), UserScope("t", "ann", "a2"), UserScope("t", "bob")):
        for filters in FILTERS:
            terms = rng.sample(WORDS[:10], 2) + rng.sample(WORDS[10:], 1)
            for limit in (5, 50):
                found = store.text_search(scope, terms, filters=filters, until=UNTIL, limit=limit)
                _same(store.text_matches(scope, terms, filters=filters, until=UNTIL, limit=limit), found)
                assert found and all(c.turn.scope.user_id == scope.user_id for c in found)
                vector = EMB.embed([" ".join(terms)])[0]
                near = store.vector_search(scope, vector, filters=filters, until=UNTIL, limit=limit)
                _same(store.vector_matches(scope, vector, filters=filters, until=UNTIL, limit=limit), near)
    store.close()


def _turns(n: int) -> list:
    messages = [
        {"role": "user" if i % 2 else "assistant", "name": ["Ann", "Bob Ray", None][i % 3], "content": f"line {i}",
         "timestamp": T0 + timedelta(days=i)}
        for i in range(n)
    ]
    return parse_messages(messages, Scope("t", "u", None, "s"), now=T0)


def test_fusing_matches_equals_fusing_whole_turns_with_the_priors():
    turns = _turns(8)
    rng = random.Random(1)
    config = RECIPES["engram"]
    for question in ("What did Ann say two days ago?", "Where is my car?", "What did Bob paint?", "hello"):
        analysis = analyze(question, T0 + timedelta(days=8))
        rankings = {
            name: [(t, rng.random()) for t in rng.sample(turns, rng.randint(0, 6))]
            for name in ("bm25", "vector", "time", "fact")
        }
        matches = {name: [Match.of(t, s) for t, s in r] for name, r in rankings.items()}
        fused = reciprocal_rank_fusion(
            {name: [(t.id, s) for t, s in ranking] for name, ranking in rankings.items() if ranking},
            k=config.rrf_k,
            weights=query_weights(matches, config),
        )
        by_id = {t.id: t for t in turns}
        whole = apply_priors([Hit(by_id[str(f.key)], f.score, f.signals()) for f in fused], analysis, config)
        light = apply_priors(fuse_matches(matches, config), analysis, config)
        assert [(h.turn.id, h.score, h.signals) for h in light] == [(h.turn.id, h.score, h.signals) for h in whole]


class _Turns:
    """A store that knows some turns, and records which ids were read whole."""

    def __init__(self, turns) -> None:
        self.turns = {t.id: t for t in turns}
        self.read: list[list[str]] = []

    def get_turns(self, scope, ids, *, filters=None, until=None):
        self.read.append(list(ids))
        return [self.turns[i] for i in ids if i in self.turns]


def test_hits_are_read_whole_in_one_call_and_a_turn_forgotten_meanwhile_is_left_out():
    turns = _turns(4)
    ranked = [Ranked(Match.of(t, 0.0), 1.0 - i / 10, priors={"speaker": 0.6}) for i, t in enumerate(turns)]
    store = _Turns(turns[:2] + turns[3:])  # turns[2] was forgotten after the search found it
    hits = with_turns(store, UserScope("t", "u"), ranked)
    assert [(h.turn, h.score, h.signals) for h in hits] == [(t, 1.0 - i / 10, {"speaker": 0.6}) for i, t in
                                                             enumerate(turns) if i != 2]
    assert store.read == [[t.id for t in turns]] and with_turns(store, UserScope("t", "u"), []) == []


@pytest.mark.parametrize("explain", [False, True])
def test_search_reads_whole_turns_only_for_what_it_returns(tmp_path: Path, explain: bool, monkeypatch):
    mem = Memory(tmp_path / "m.db", embedder=HashingEmbedder())
    rng = random.Random(2)
    for day in range(6):
        lines = [{"role": "user", "content": " ".join(rng.choices(WORDS, k=6))} for _ in range(30)]
        mem.add(lines, user_id="ann", session_id=f"s{day}", timestamp=T0 + timedelta(days=day))
    store = mem.store
    reads: list[list[str]] = []
    whole_searches: list[str] = []
    get_turns = store.get_turns
    monkeypatch.setattr(store, "get_turns", lambda scope, ids, **kw: reads.append(list(ids)) or get_turns(scope, ids, **kw))
    monkeypatch.setattr(store, "text_search", lambda *a, **kw: whole_searches.append("text"))
    monkeypatch.setattr(store, "vector_search", lambda *a, **kw: whole_searches.append("vector"))
    found = mem.search("w1 w2 w7 yesterday", user_id="ann", k=5, explain=explain, reference_time=T0 + timedelta(days=7))
    assert len(found.hits) == 5 and whole_searches == []
    returned = [h.turn.id for h in [*found.hits, *found.left_out]]
    read = [turn_id for ids in reads for turn_id in ids]
    if explain:
        assert len(found.left_out) > 20 and sorted(read) == sorted(returned)
    else:
        assert found.left_out == [] and read == returned  # the fact route read none here
    mem.close()


def _ranking(scores: list[float]) -> list[Match]:
    return [Match(f"t{i}", s, "user", None, T0) for i, s in enumerate(scores)]


@pytest.mark.parametrize(
    ("top_cosine", "factor"),
    [(0.5, 1.0), (0.75, 1.5), (0.35, 0.7), (0.1, 0.5), (0.95, 1.9), (1.2, 2.0)],
)
def test_the_vector_weight_follows_the_questions_best_cosine(top_cosine: float, factor: float) -> None:
    config = replace(RECIPES["engram"], weights=(("bm25", 1.5), ("vector", 1.5), ("fact", 0.3)), vector_confidence=0.5)
    weights = query_weights({"bm25": _ranking([9.0]), "vector": _ranking([top_cosine, 0.1])}, config)
    assert weights == {"bm25": 1.5, "vector": pytest.approx(1.5 * factor), "fact": 0.3}


def test_fixed_weights_without_confidence_or_without_a_vector_ranking() -> None:
    fixed = replace(RECIPES["engram"], vector_confidence=0.0)
    assert query_weights({"vector": _ranking([0.9])}, fixed) == dict(fixed.weights)
    assert query_weights({"bm25": _ranking([3.0]), "vector": []}, RECIPES["engram"]) == dict(RECIPES["engram"].weights)


def test_a_confident_vector_ranking_outranks_a_weak_word_match() -> None:
    # bm25 ranks a then b; vectors rank b then a. With equal weights the order is a tie broken
    # by first appearance; a close paraphrase (cosine 0.8) tips it to b, a vague one (0.2) to a.
    config = replace(RECIPES["engram"], weights=(("bm25", 1.5), ("vector", 1.5)), vector_confidence=0.5)
    text = [Match("a", 5.0, "user", None, T0), Match("b", 4.0, "user", None, T0)]
    close = [Match("b", 0.8, "user", None, T0), Match("a", 0.3, "user", None, T0)]
    vague = [Match("b", 0.2, "user", None, T0), Match("a", 0.1, "user", None, T0)]
    assert [r.turn.id for r in fuse_matches({"bm25": text, "vector": close}, config)] == ["b", "a"]
    assert [r.turn.id for r in fuse_matches({"bm25": text, "vector": vague}, config)] == ["a", "b"]
