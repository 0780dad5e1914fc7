"""The read path applies one filter implementation on every route: the store's.

Routed turns (facts → their source turns, episodes → their turns, neighbours of strong hits)
are loaded through ``Store.get_turns(..., filters=, until=)``, the same SQL search uses, so an
archived turn or a filtered-out one cannot come back through a side door.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram import HashingEmbedder, Memory, Scope, SearchFilters
from engram.model.messages import parse_messages
from engram.providers.embedder import text_key
from engram.read.retrieve import RetrievalConfig
from engram.store.base import UserScope
from tests.conftest import BACKENDS, FixedClock, make_store

T0 = datetime(2024, 1, 1, tzinfo=UTC)
EMB = HashingEmbedder(64)
FACT_ONLY = RetrievalConfig(retrievers=("fact",))
BM25_ONLY = RetrievalConfig(retrievers=("bm25",))


@pytest.fixture
def mem(db_path: Path, clock: FixedClock):
    memory = Memory(db_path, embedder=HashingEmbedder(), clock=clock)
    yield memory
    memory.close()


def test_an_archived_turn_never_comes_back_through_its_fact(mem: Memory):
    (said,) = mem.add("I live in Oslo.", user_id="sam", session_id="s1", timestamp=T0).turns
    mem.add("The weather is grey today.", user_id="sam", session_id="s1", timestamp=T0 + timedelta(minutes=1))
    assert [f.value for f in mem.facts(user_id="sam")] == ["Oslo"]
    question = "Where does Sam live? Oslo?"
    assert said.id in [h.turn.id for h in mem.search(question, user_id="sam", config=FACT_ONLY).hits]
    mem.archive([said.id], user_id="sam")
    for config in (FACT_ONLY, "engram", "engram-episodes"):
        assert said.id not in [h.turn.id for h in mem.search(question, user_id="sam", config=config).hits]
        context = mem.context(question, user_id="sam", config=config, reinforce=False)
        assert said.id not in [item.turn.id for item in context.items]
    archived_too = mem.search(question, user_id="sam", config=FACT_ONLY, filters={"include_archived": True})
    assert said.id in [h.turn.id for h in archived_too.hits]


def test_a_neighbour_passes_the_same_filters_as_the_hits(mem: Memory):
    secret = [{"role": "user", "content": "My locker code is 4471.", "metadata": {"private": True}}]
    mem.add(secret, user_id="sam", session_id="s1", timestamp=T0)
    mem.add(
        [{"role": "user", "content": "The gym reopens on Monday.", "metadata": {"private": False}}],
        user_id="sam",
        session_id="s1",
        timestamp=T0 + timedelta(minutes=1),
    )
    later = mem.add("Gym towels are extra now.", user_id="sam", session_id="s1", timestamp=T0 + timedelta(days=3))
    context = mem.context(
        "when does the gym reopen?",
        user_id="sam",
        filters={"metadata": {"private": False}},
        reference_time=T0 + timedelta(days=1),
        reinforce=False,
    )
    shown = [item.turn.content for item in context.items]
    assert shown == ["The gym reopens on Monday."]  # not the private turn before it, nor the later one
    assert later.turns[0].content not in context.text and "4471" not in context.text


def _put(store, user: str, texts_and_metadata: list[tuple[str, dict]]):
    messages = [
        {"role": "user", "content": text, "timestamp": T0 + timedelta(minutes=i), "metadata": meta}
        for i, (text, meta) in enumerate(texts_and_metadata)
    ]
    turns = parse_messages(messages, Scope("t", user, None, "s"), now=T0)
    texts = [t.embedding_text() for t in turns]
    return [turn for turn, _ in store.insert_turns(turns, EMB.embed(texts), [text_key(t) for t in texts], T0)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_none_metadata_filter_matches_a_null_and_a_missing_key_in_every_store_read(backend, tmp_path):
    store = make_store(backend, tmp_path)
    store.bind_embedder(EMB.model_id, EMB.dim)
    missing, null, valued = _put(
        store, "u", [("kayak trip one", {}), ("kayak trip two", {"k": None}), ("kayak trip three", {"k": "x"})]
    )
    scope, until = UserScope("t", "u"), T0 + timedelta(days=1)
    none = SearchFilters(metadata={"k": None})
    expected = {missing.id, null.id}
    assert {c.turn.id for c in store.text_search(scope, ["kayak"], filters=none, until=until, limit=10)} == expected
    vector = EMB.embed(["kayak trip"])[0]
    assert {c.turn.id for c in store.vector_search(scope, vector, filters=none, until=until, limit=10)} == expected
    ids = [missing.id, null.id, valued.id]
    assert {t.id for t in store.get_turns(scope, ids, filters=none, until=until)} == expected
    valued_only = SearchFilters(metadata={"k": "x"})
    assert [t.id for t in store.get_turns(scope, ids, filters=valued_only, until=until)] == [valued.id]
    store.close()


def test_a_none_metadata_filter_means_the_same_on_the_fact_route_as_on_full_text(mem: Memory):
    for user, metadata in (("missing", {}), ("null", {"k": None}), ("valued", {"k": "x"})):
        mem.add([{"role": "user", "content": "I live in Oslo.", "metadata": metadata}], user_id=user, session_id="s")
    for user in ("missing", "null", "valued"):
        routes = [
            [h.turn.id for h in mem.search("live Oslo", user_id=user, config=config, filters={"metadata": {"k": None}})]
            for config in (BM25_ONLY, FACT_ONLY)
        ]
        assert routes[0] == routes[1] and bool(routes[0]) == (user != "valued"), user
