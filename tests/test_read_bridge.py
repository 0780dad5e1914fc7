"""Entity bridges: turns that share a rare name with the best hits, found by full text."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory
from engram.read.bridge import bridge_names, bridge_ranking
from engram.read.retrieve import RECIPES, RetrievalConfig
from engram.store.base import Match
from tests.conftest import BACKENDS, make_store, said_daily

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BM25 = RetrievalConfig(retrievers=("bm25",))
WITH_BRIDGE = RetrievalConfig(
    retrievers=("bm25", "bridge"), weights=(("bm25", 1.0), ("bridge", 0.5)), bridge_turns=1, bridge_rarity=3
)


def match(turn_id: str) -> Match:
    return Match(turn_id, 0.0, "user", None, T0)


def test_a_turn_shares_its_score_among_the_names_it_mentions():
    best = [("We flew to Paris and then to Rome.", 0.6), ("Rome was hot.", 0.2)]
    assert bridge_names(best, exclude=set(), limit=5) == [(("rome",), 0.5), (("paris",), 0.3)]


def test_the_question_and_the_speakers_words_leave_a_name_and_a_name_left_empty_is_dropped():
    best = [("Jon Smith met Gina at the New York office.", 1.0)]
    names = bridge_names(best, exclude={"jon", "gina", "york"}, limit=5)
    assert names == [(("smith",), 0.5), (("new",), 0.5)]


def test_ties_keep_the_order_names_were_seen_and_only_the_heaviest_are_kept():
    best = [("Oslo, Bergen and Tromso.", 0.9)]
    assert [name for name, _ in bridge_names(best, exclude=set(), limit=2)] == [("oslo",), ("bergen",)]
    assert bridge_names(best, exclude=set(), limit=0) == []
    assert bridge_names([("nothing named here", 1.0)], exclude=set(), limit=5) == []


def test_a_rare_name_counts_more_and_one_said_too_often_bridges_nothing():
    rare = [match("a")]
    common = [match("b"), match("c")]
    everywhere = [match(turn_id) for turn_id in "defg"]
    ranked = bridge_ranking([(1.0, common), (1.0, rare), (5.0, everywhere)], rarity=3, skip=set())
    assert [m.id for m in ranked] == ["a", "b", "c"]
    assert ranked[0].score == pytest.approx(math.log(4))
    assert ranked[1].score == pytest.approx(math.log(2))


def test_a_turn_found_by_several_names_sums_them_and_the_names_own_turns_are_left_out():
    ranked = bridge_ranking(
        [(0.5, [match("a"), match("b")]), (0.5, [match("b"), match("src")])], rarity=3, skip={"src"}
    )
    assert [m.id for m in ranked] == ["b", "a"]
    assert ranked[0].score == pytest.approx(2 * 0.5 * math.log(2))
    assert bridge_ranking([(1.0, [])], rarity=3, skip=set()) == []


def test_the_bridges_are_a_recipe_away():
    # Off by default (a few questions gained for a quarter to a half more search time); a recipe
    # that names the retriever gets it at the default's weight.
    assert "bridge" not in RECIPES["engram"].retrievers
    assert dict(RECIPES["engram"].weights)["bridge"] == 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_turn_that_shares_only_a_rare_name_with_the_best_hit_is_found_through_a_bridge(
    backend, tmp_path: Path
):
    memory = Memory(store=make_store(backend, tmp_path), embedder=HashingEmbedder())
    said = [
        "Which cities have I visited? Paris last spring, and I was in Rome once.",
        "Took a short trip last week to Rome to clear my mind.",
        "The weather has been grey all week.",
        "We painted the fence on Saturday.",
        *(f"Lunch with Maria, day {n}." for n in range(5)),
    ]
    turns = said_daily(memory, "ana", said, T0)
    question = "Which cities has Ana visited?"

    def found(question: str, config: RetrievalConfig) -> list[str]:
        return [hit.turn.id for hit in memory.search(question, user_id="ana", config=config).hits]

    assert turns[1].id not in found(question, BM25)
    assert found(question, WITH_BRIDGE)[:2] == [turns[0].id, turns[1].id]
    explained = memory.search(question, user_id="ana", config=WITH_BRIDGE, explain=True).hits[1]
    assert "bridge_rank" in explained.signals and "bm25_rank" not in explained.signals
    # Maria is said in five turns, more than bridge_rarity: she links none of them to the best hit.
    lunch = "When did Ana have lunch?"
    assert found(lunch, WITH_BRIDGE) == found(lunch, BM25)
    hits = memory.search(lunch, user_id="ana", config=WITH_BRIDGE, explain=True).hits
    assert hits and not any("bridge_rank" in hit.signals for hit in hits)
    memory.close()
