"""Questions about several things at once: each part searched on its own as well, and fused in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory
from engram.model import Hit
from engram.read.aspects import MAX_ASPECTS, question_aspects
from engram.read.retrieve import RECIPES, RetrievalConfig
from tests.conftest import BACKENDS, make_store

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WHOLE = RetrievalConfig(retrievers=("bm25", "vector"), rrf_k=10)
WITH_ASPECTS = RetrievalConfig(retrievers=("bm25", "vector", "aspects"), rrf_k=10)


def test_a_question_about_two_things_is_split_into_them():
    question = "How many days between booking the hotel in Lisbon and the flight to Porto?"
    parts = ["How many days between booking the hotel in Lisbon", "the flight to Porto"]
    assert question_aspects(question) == parts


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
def test_each_part_is_a_ranking_of_its_own_fused_in_at_the_aspects_weight(backend, tmp_path: Path):
    memory = Memory(store=make_store(backend, tmp_path), embedder=HashingEmbedder())
    said = [
        "Booking the hotel in Lisbon for the conference took days.",
        "The Lisbon hotel booking for the conference is confirmed.",
        "The flight to Porto leaves on Friday morning.",
        *(f"Note {n}: the garden needs water and the cat wants food." for n in range(20)),
    ]
    turns = [
        memory.add(text, user_id="ana", session_id="s1", timestamp=T0 + timedelta(minutes=i)).turns[0]
        for i, text in enumerate(said)
    ]
    question = "How many days between booking the hotel in Lisbon for the conference and the flight to Porto?"

    def flight(config: RetrievalConfig) -> Hit:
        hits = memory.search(question, user_id="ana", k=5, config=config, explain=True).hits
        (hit,) = [hit for hit in hits if hit.turn.id == turns[2].id]
        return hit

    whole, parts = flight(WHOLE), flight(WITH_ASPECTS)
    assert parts.signals["aspect2_rank"] == 1 and not any(name.startswith("aspect") for name in whole.signals)
    added = sum(
        WITH_ASPECTS.aspects / (WITH_ASPECTS.rrf_k + rank)
        for name, rank in parts.signals.items()
        if name.startswith("aspect") and name.endswith("_rank")
    )
    assert parts.score == pytest.approx(whole.score + added)
    memory.close()


class CountingEmbedder(HashingEmbedder):
    """Counts the calls and the texts of each (one call is one request to a remote embedder)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def embed(self, texts):
        self.batches.append(list(texts))
        return super().embed(texts)


def test_the_question_and_its_parts_are_embedded_in_one_call(tmp_path: Path):
    embedder = CountingEmbedder()
    memory = Memory(store=make_store("sqlite", tmp_path), embedder=embedder)
    memory.add([{"role": "user", "content": "I booked the hotel in Lisbon."}], user_id="u", session_id="s")
    embedder.batches.clear()
    question = "How many days between booking the hotel in Lisbon and the flight to Porto?"
    memory.search(question, user_id="u", k=3, config=WITH_ASPECTS)
    assert len(embedder.batches) == 1 and embedder.batches[0][1:] == question_aspects(question)
    memory.search(question, user_id="u", k=3, config=WITH_ASPECTS)
    assert len(embedder.batches) == 1  # asked again: every vector remembered
