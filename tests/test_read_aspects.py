"""Questions about several things at once: each part searched on its own as well, and fused in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory
from engram.read.aspects import MAX_ASPECTS, question_aspects
from engram.read.retrieve import RECIPES, RetrievalConfig
from tests.conftest import BACKENDS, make_store

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WHOLE = RetrievalConfig(retrievers=("bm25", "vector"), rrf_k=10)
WITH_ASPECTS = RetrievalConfig(retrievers=("bm25", "vector", "aspects"), rrf_k=10)


def test_a_question_about_two_things_is_split_into_them():
    question = "How many days between booking the hotel in Lisbon and the flight to Porto?"
    assert question_aspects(question) == ["How many days between booking the hotel in Lisbon", "the flight to Porto"]


def test_a_list_gives_its_items_at_most_max_aspects():
    question = (
        "Given my token expiry issues, the interception concerns, my clock skew handling, "
        "the refresh endpoint design, and the logout flow, what should I change?"
    )
    parts = question_aspects(question)
    assert len(parts) == MAX_ASPECTS and parts[0] == "Given my token expiry issues"


@pytest.mark.parametrize(
    "question",
    [
        "Where does Ana live?",  # nothing joined
        "Do I use Jest and Cypress?",  # one thing named twice: a side of one word is no part
        "Ana and Tom",  # no side has two content words
    ],
)
def test_a_question_about_one_thing_has_no_parts(question):
    assert question_aspects(question) == []


def test_the_default_recipe_searches_the_parts():
    assert "aspects" in RECIPES["engram"].retrievers


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_turn_answering_one_part_is_not_crowded_out_by_the_other(backend, tmp_path: Path):
    memory = Memory(store=make_store(backend, tmp_path), embedder=HashingEmbedder())
    said = [
        "Booking the hotel in Lisbon for the conference took days.",
        "The Lisbon hotel booking for the conference is confirmed.",
        "Booking a conference hotel in Lisbon is cheaper for more days.",
        "The flight to Porto leaves on Friday morning.",
        "Porto wine tasting was lovely.",
        "We climbed a long flight of stairs.",
        "Porto has nice bridges.",
        "The flight attendant was kind.",
        *(f"Note {n}: the garden needs water and the cat wants food." for n in range(20)),
    ]
    turns = [
        memory.add(text, user_id="ana", session_id="s1", timestamp=T0 + timedelta(minutes=i)).turns[0]
        for i, text in enumerate(said)
    ]
    question = "How many days between booking the hotel in Lisbon for the conference and the flight to Porto?"

    def top(config: RetrievalConfig) -> list[str]:
        return [hit.turn.id for hit in memory.search(question, user_id="ana", k=3, config=config).hits]

    flight = turns[3].id
    assert flight not in top(WHOLE)
    assert flight in top(WITH_ASPECTS)
    hits = memory.search(question, user_id="ana", k=3, config=WITH_ASPECTS, explain=True).hits
    (hit,) = [hit for hit in hits if hit.turn.id == flight]
    assert {"aspect2_bm25_rank", "aspect2_vector_rank"} <= hit.signals.keys()
    memory.close()
