"""Pseudo-relevance feedback on full text: the words of the best first-pass turns, searched again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory
from engram.read.feedback import content_words, expansion_terms
from engram.read.retrieve import RetrievalConfig
from tests.conftest import BACKENDS, make_store, said_daily

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BM25 = RetrievalConfig(retrievers=("bm25",))
WITH_FEEDBACK = RetrievalConfig(retrievers=("bm25", "feedback"), weights=(("bm25", 1.0), ("feedback", 0.75)))


def test_content_words_are_what_full_text_is_asked_for():
    words = content_words("Caroline's 2 dogs, and I'm in Oslo - a city!")
    assert words == ["caroline", "dogs", "oslo", "city"]


def test_the_words_of_the_surest_turn_come_first_and_the_question_and_names_are_left_out():
    feedback = [("home country home country Sweden Melanie", 0.6), ("moved friends country", 0.2)]
    terms = expansion_terms(feedback, exclude={"moved", "melanie"}, limit=3)
    assert terms == ["country", "home", "sweden"]
    assert "moved" not in expansion_terms(feedback, exclude={"moved"}, limit=10)


def test_a_word_in_a_long_turn_weighs_less_than_the_same_word_in_a_short_one():
    long_turn = "pottery " + " ".join(f"word{i}x" for i in range(20))
    assert expansion_terms([("camping trip", 0.5), (long_turn, 0.5)], exclude=set(), limit=3)[:2] == [
        "camping",
        "trip",
    ]


def test_ties_keep_the_order_words_were_seen_and_nothing_comes_of_no_feedback():
    assert expansion_terms([("zebra apple", 1.0)], exclude=set(), limit=2) == ["zebra", "apple"]
    assert expansion_terms([], exclude=set(), limit=5) == []
    assert expansion_terms([("zebra", 0.0)], exclude=set(), limit=5) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_evidence_that_shares_words_only_with_the_best_hit_is_found_through_feedback(backend, tmp_path: Path):
    memory = Memory(store=make_store(backend, tmp_path), embedder=HashingEmbedder())
    said = [
        "I moved here four years ago, from my home country.",
        "This necklace was a gift from my grandma back in my home country, Sweden.",
        "The weather has been grey all week.",
        "We painted the fence on Saturday.",
    ]
    turns = said_daily(memory, "ana", said, T0)
    question = "Where did Ana move from?"

    def found(config: RetrievalConfig) -> list[str]:
        return [hit.turn.id for hit in memory.search(question, user_id="ana", config=config).hits]

    assert turns[1].id not in found(BM25)
    assert found(WITH_FEEDBACK)[:2] == [turns[0].id, turns[1].id]
    explained = memory.search(question, user_id="ana", config=WITH_FEEDBACK, explain=True).hits[1]
    assert "feedback_rank" in explained.signals and "bm25_rank" not in explained.signals
    memory.close()
