"""The benchmark systems: same interface, message ids out, time cut-off, user-only search, budgets."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from engram import HashingEmbedder
from engram.bench.baselines import conversation_turns
from engram.bench.systems import BUILTIN_SYSTEMS, Shared, make_system, parse_systems
from engram.bench.testing import synthetic_locomo, synthetic_longmemeval
from engram.errors import MissingDependencyError, ValidationError
from engram.formats.locomo import parse_locomo
from engram.formats.longmemeval import parse_longmemeval
from engram.providers import ApproximateCounter, CachedEmbedder

LOCOMO = parse_locomo(synthetic_locomo())
LME = parse_longmemeval(synthetic_longmemeval())
AFTER_ALL = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def shared(tmp_path) -> Shared:
    return Shared(CachedEmbedder(HashingEmbedder()), ApproximateCounter(), None, tmp_path)


@pytest.fixture(params=BUILTIN_SYSTEMS)
def system(request, shared) -> Iterator:
    made = make_system(request.param, shared)
    yield made
    made.close()


def test_ingest_counts_every_turn(system):
    stats = system.ingest(LOCOMO.conversations[0])
    assert stats.turns == 7
    assert stats.seconds >= 0
    assert stats.llm_calls == 0
    assert stats.store_bytes and stats.store_bytes > 0


def test_search_returns_message_ids_best_first(system):
    system.ingest(LOCOMO.conversations[0])
    ranked = system.search(
        "What is the name of Alice's puppy Rex?", k=3, reference_time=AFTER_ALL, user_only=False
    )
    assert 0 < len(ranked) <= 3
    assert "D1:3" in ranked
    assert all(message_id.startswith("D") for message_id in ranked)


def test_turns_said_after_the_reference_time_are_invisible(system):
    system.ingest(LOCOMO.conversations[0])
    before_session_2 = datetime(2023, 6, 1, tzinfo=UTC)
    ranked = system.search("Rex fetch frisbee beach", k=10, reference_time=before_session_2, user_only=False)
    assert ranked
    assert not [m for m in ranked if m.startswith("D2:")]
    shown = system.context("Rex frisbee", budget_tokens=1000, reference_time=before_session_2)
    assert not [m for m in shown.message_ids if m.startswith("D2:")]


def test_user_only_search_never_returns_assistant_turns(system):
    conversation = LME.conversations[1]  # multi-session: user and assistant turns
    system.ingest(conversation)
    roles = {t.id: t.role for t in conversation_turns(conversation)}
    ranked = system.search("guitar lessons dollars", k=10, reference_time=AFTER_ALL, user_only=True)
    assert ranked and {roles[m] for m in ranked} == {"user"}
    everything = system.search("guitar lessons dollars", k=10, reference_time=AFTER_ALL, user_only=False)
    assert "assistant" in {roles[m] for m in everything}


@pytest.mark.parametrize("budget", [60, 200, 4000])
def test_context_fits_the_budget_and_names_what_it_shows(system, budget):
    system.ingest(LOCOMO.conversations[0])
    shown = system.context("Rex the golden retriever", budget_tokens=budget, reference_time=AFTER_ALL)
    assert shown.tokens <= budget
    assert len(set(shown.message_ids)) == len(shown.message_ids)
    for message_id in shown.message_ids:
        assert message_id.startswith("D")
    if budget >= 200:
        assert "D1:3" in shown.message_ids
        assert "Rex" in shown.text


def test_a_search_embeds_nothing_beyond_its_query_texts(system, shared):
    # The runner embeds every system's query texts ahead and times them apart: a search then
    # finds every vector it needs in the cache (Engram's text leaves out the speaker's name).
    system.ingest(LOCOMO.conversations[0])
    question = "What did Alice say about the frisbee and the beach trip with her puppy Rex?"
    texts = system.query_texts(question, reference_time=AFTER_ALL)
    shared.embedder.embed(texts)
    embedded = shared.embedder.inner.texts_embedded
    assert system.search(question, k=5, reference_time=AFTER_ALL, user_only=False)
    assert shared.embedder.inner.texts_embedded == embedded
    if system.name == "engram":
        assert len(texts) == 3 and "Alice" not in texts[0]  # the question without the speaker, and its parts


def test_baselines_reuse_the_vectors_engram_computed(shared):
    engram, dense = make_system("engram", shared), make_system("dense", shared)
    try:
        engram.ingest(LOCOMO.conversations[0])
        embedded = shared.embedder.inner.texts_embedded
        dense.ingest(LOCOMO.conversations[0])
        assert shared.embedder.inner.texts_embedded == embedded
    finally:
        engram.close()
        dense.close()


def test_parse_systems():
    assert parse_systems("engram, BM25,engram") == ["engram", "bm25"]
    with pytest.raises(ValidationError, match="unknown system"):
        parse_systems("engram,zep")
    with pytest.raises(ValidationError):
        parse_systems(" , ")


@pytest.mark.skipif(importlib.util.find_spec("mem0") is not None, reason="mem0 is installed")
def test_mem0_without_the_package_names_the_install(shared):
    with pytest.raises(MissingDependencyError, match="mem0"):
        make_system("mem0", shared)


def test_memo_counter_counts_like_its_inner_counter():
    from engram.bench.systems import MemoCounter

    inner = ApproximateCounter()
    memo = MemoCounter(inner, max_items=2)
    texts = ["one two three", "four", "one two three", "a much longer line of text here"]
    assert memo.count_many(texts) == inner.count_many(texts)
    assert memo.name == inner.name
    assert len(memo._counts) == 2  # bounded


def test_questions_do_not_reinforce_what_they_are_shown():
    from engram.bench.systems import _probe_options

    def with_reinforce(query, *, reinforce=True): ...
    def without(query): ...

    assert _probe_options(with_reinforce) == {"reinforce": False}
    assert _probe_options(without) == {}
