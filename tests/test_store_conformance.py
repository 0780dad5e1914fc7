"""The store contract, run against every backend (PostgreSQL joins this list when it lands)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engram import EmbedderMismatchError, HashingEmbedder, Scope, SearchFilters
from engram.model.messages import parse_messages
from engram.providers.embedder import text_key
from engram.store.base import UserScope
from tests.conftest import BACKENDS, make_store, stored_bytes

T0 = datetime(2024, 1, 1, tzinfo=UTC)
EMB = HashingEmbedder(64)


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    s = make_store(request.param, tmp_path)
    s.bind_embedder(EMB.model_id, EMB.dim)
    yield s
    s.close()


def put(store, user, session, texts, *, start=T0, role="user", tenant="t", agent=None, metadata=None):
    messages = [
        {"role": role, "content": text, "timestamp": start + timedelta(minutes=i), "metadata": metadata or {}}
        for i, text in enumerate(texts)
    ]
    turns = parse_messages(messages, Scope(tenant, user, agent, session), now=T0)
    texts_ = [t.embedding_text() for t in turns]
    return store.insert_turns(turns, EMB.embed(texts_), [text_key(t) for t in texts_], T0)


def test_insert_is_idempotent_and_returns_the_stored_turns(store):
    first = put(store, "u", "s", ["a b", "c d"])
    again = put(store, "u", "s", ["a b", "c d"])
    assert [new for _, new in first] == [True, True]
    assert [new for _, new in again] == [False, False]
    assert [t.id for t, _ in first] == [t.id for t, _ in again]
    assert [t.seq for t, _ in first] == [t.seq for t, _ in again]


def test_embedder_is_bound_once(store):
    store.bind_embedder(EMB.model_id, EMB.dim)
    with pytest.raises(EmbedderMismatchError, match="same embedder"):
        store.bind_embedder("other-model", 384)


def test_tenants_and_users_are_isolated_on_every_read(store):
    ((mine, _),) = put(store, "alice", "s", ["secret garden plans"], tenant="t1")
    put(store, "bob", "s", ["secret garden plans"], tenant="t1")
    put(store, "alice", "s", ["secret garden plans"], tenant="t2")
    alice = UserScope("t1", "alice")
    flt = SearchFilters()
    until = T0 + timedelta(days=1)
    assert [c.turn.id for c in store.text_search(alice, ["garden"], filters=flt, until=until, limit=10)] == [
        mine.id
    ]
    vec = EMB.embed(["secret garden plans"])[0]
    assert [c.turn.id for c in store.vector_search(alice, vec, filters=flt, until=until, limit=10)] == [
        mine.id
    ]
    assert [t.id for t in store.list_turns(alice)] == [mine.id]
    assert store.get_turns(UserScope("t1", "bob"), [mine.id]) == []
    assert store.get_turns(UserScope("t2", "alice"), [mine.id]) == []
    assert store.forget(UserScope("t2", "alice"), ids=[mine.id]).turn_ids == []
    assert store.stats("t1").turns == 2 and store.stats("t1", "alice").turns == 1


def test_searches_never_see_the_future(store):
    put(store, "u", "s", ["the picnic was lovely"], start=T0)
    put(store, "u", "s", ["the picnic was rained out"], start=T0 + timedelta(days=10))
    scope, flt = UserScope("t", "u"), SearchFilters()
    early = T0 + timedelta(days=1)
    assert len(store.text_search(scope, ["picnic"], filters=flt, until=early, limit=10)) == 1
    vec = EMB.embed(["picnic"])[0]
    assert len(store.vector_search(scope, vec, filters=flt, until=early, limit=10)) == 1
    assert len(store.vector_search(scope, vec, filters=flt, until=T0 + timedelta(days=20), limit=10)) == 2


def test_filters_apply_to_both_retrievers(store):
    put(store, "u", "s1", ["tea in the garden"], metadata={"topic": "home", "n": 1})
    put(store, "u", "s2", ["tea at the office"], role="assistant", metadata={"topic": "work", "flag": True})
    put(store, "u", "s3", ["tea later"], start=T0 + timedelta(days=5))
    scope, until = UserScope("t", "u"), T0 + timedelta(days=30)
    vec = EMB.embed(["tea"])[0]
    cases = [
        ({"session_id": "s1"}, ["tea in the garden"]),
        ({"role": "assistant"}, ["tea at the office"]),
        ({"metadata": {"topic": "work"}}, ["tea at the office"]),
        ({"metadata": {"flag": True}}, ["tea at the office"]),
        ({"metadata": {"n": 1}}, ["tea in the garden"]),
        ({"since": T0 + timedelta(days=1)}, ["tea later"]),
        ({"until": T0 + timedelta(days=1)}, ["tea at the office", "tea in the garden"]),
        ({"session_ids": ["s1", "s3"]}, ["tea in the garden", "tea later"]),
    ]
    for raw, expected in cases:
        flt = SearchFilters.coerce(raw)
        by_text = store.text_search(scope, ["tea"], filters=flt, until=until, limit=10)
        by_vec = store.vector_search(scope, vec, filters=flt, until=until, limit=10)
        assert sorted(c.turn.content for c in by_text) == expected, raw
        assert sorted(c.turn.content for c in by_vec) == expected, raw


def test_agent_scope_narrows_reads(store):
    put(store, "u", "s", ["booked flights to Rome"], agent="travel")
    put(store, "u", "s", ["booked a dentist visit"], agent="health")
    until, flt = T0 + timedelta(days=1), SearchFilters()
    travel = UserScope("t", "u", "travel")
    assert [
        c.turn.scope.agent_id
        for c in store.text_search(travel, ["booked"], filters=flt, until=until, limit=10)
    ] == ["travel"]
    vec = EMB.embed(["booked"])[0]
    assert [
        c.turn.scope.agent_id for c in store.vector_search(travel, vec, filters=flt, until=until, limit=10)
    ] == ["travel"]
    assert len(store.text_search(UserScope("t", "u"), ["booked"], filters=flt, until=until, limit=10)) == 2


def test_delete_removes_row_text_and_vector(store):
    rows = put(store, "u", "s", ["zebra crossing", "yak shaving"])
    scope, flt, until = UserScope("t", "u"), SearchFilters(), T0 + timedelta(days=1)
    vec = EMB.embed(["zebra crossing"])[0]
    assert (
        store.vector_search(scope, vec, filters=flt, until=until, limit=1)[0].turn.content == "zebra crossing"
    )
    assert store.forget(scope, ids=[rows[0][0].id, "t_missing"]).turn_ids == [rows[0][0].id]
    assert store.text_search(scope, ["zebra"], filters=flt, until=until, limit=10) == []
    assert [c.turn.content for c in store.vector_search(scope, vec, filters=flt, until=until, limit=10)] == [
        "yak shaving"
    ]
    assert store.get_turns(scope, [rows[0][0].id]) == []
    assert store.cached_vectors(scope, [text_key("zebra crossing")]) == {}


def test_forget_leaves_no_row_index_entry_or_vector_of_what_it_removed(store):
    put(store, "u", "s", ["quokka selfies at dawn"], start=T0)
    put(store, "u", "s2", ["ordinary words here"], start=T0)
    put(store, "v", "s", ["quokka selfies at dawn"], tenant="other")
    scope, flt, until = UserScope("t", "u"), SearchFilters(), T0 + timedelta(days=1)
    vec = EMB.embed(["quokka selfies at dawn"])[0]
    before = stored_bytes(store)
    receipt = store.forget(scope, session_id="s")
    assert len(receipt.turn_ids) == 1
    assert store.text_search(scope, ["quokka"], filters=flt, until=until, limit=10) == []
    assert [c.turn.content for c in store.vector_search(scope, vec, filters=flt, until=until, limit=10)] == [
        "ordinary words here"
    ]
    other = UserScope("other", "v")  # another tenant's identical text is untouched
    assert len(store.text_search(other, ["quokka"], filters=flt, until=until, limit=10)) == 1
    if before is not None and getattr(store, "url", None):
        after = stored_bytes(store)
        # the content and the full-text postings of each row; only the other tenant's are left
        assert before.count(b"quokka") == 4 and after.count(b"quokka") == 2
        assert before.count(b"selfi") == 4 and after.count(b"selfi") == 2


def test_speaker_names_follow_inserts_and_forgets(store):
    scope = UserScope("t", "u")
    assert store.speaker_names(scope) == frozenset()
    messages = [{"role": "user", "name": name, "content": f"hello from {name}"} for name in ("Ana", "Bo Li")]
    turns = parse_messages(messages, Scope("t", "u", None, "s"), now=T0)
    texts = [t.embedding_text() for t in turns]
    store.insert_turns(turns, EMB.embed(texts), [text_key(t) for t in texts], T0)
    put(store, "other", "s", ["no name here"])
    assert store.speaker_names(scope) == {"Ana", "Bo Li"}  # read once, then kept by inserts
    more = parse_messages([{"role": "user", "name": "Cy", "content": "hi"}], Scope("t", "u", None, "s2"), now=T0)
    store.insert_turns(more, EMB.embed(["hi"]), [text_key("hi")], T0)
    assert store.speaker_names(scope) == {"Ana", "Bo Li", "Cy"}
    store.forget(scope, session_id="s2")
    assert store.speaker_names(scope) == {"Ana", "Bo Li"}
    assert store.speaker_names(UserScope("t", "other")) == frozenset()


def test_text_count_counts_the_users_turns_holding_any_term_as_full_text_matches_them(store):
    put(store, "u", "s", ["the secret garden", "gardens and a gate", "nothing here"], start=T0)
    put(store, "u", "s2", ["a garden said later"], start=T0 + timedelta(days=30))
    put(store, "other", "s", ["garden garden"])
    put(store, "u", "s", ["garden"], tenant="t2")
    scope = UserScope("t", "u")
    matched = store.text_matches(scope, ["garden"], filters=SearchFilters(), until=T0 + timedelta(days=60), limit=10)
    assert store.text_count(scope, ["garden"]) == len(matched) == 3  # "gardens" too, and at any time
    assert store.text_count(scope, ["garden", "nothing", "garden"]) == 4
    assert store.text_count(scope, ["absent"]) == store.text_count(scope, []) == 0
    assert store.text_count(UserScope("t", "other"), ["garden"]) == 1
    store.forget(scope, session_id="s2")
    assert store.text_count(scope, ["garden"]) == 2


def test_list_pages_in_time_order_and_recent_turns_newest_first(store):
    put(store, "u", "s", ["third"], start=T0 + timedelta(hours=3))
    put(store, "u", "s", ["first", "second"], start=T0)
    scope = UserScope("t", "u")
    assert [t.content for t in store.list_turns(scope)] == ["first", "second", "third"]
    page = store.list_turns(scope, limit=2)
    last = page[-1]
    rest = store.list_turns(scope, after=(int(last.timestamp.timestamp() * 1e6), last.seq))
    assert [t.content for t in rest] == ["third"]
    recent = store.recent_turns(scope, "s", until=T0 + timedelta(hours=1), limit=5)
    assert [t.content for t in recent] == ["second", "first"]


def test_cached_vectors_and_iteration_return_what_was_stored(store):
    rows = put(store, "u", "s", ["alpha", "beta"])
    cached = store.cached_vectors(UserScope("t", "u"), [text_key("alpha"), text_key("nope")])
    assert list(cached) == [text_key("alpha")]
    np.testing.assert_allclose(cached[text_key("alpha")], EMB.embed(["alpha"])[0])
    listed = list(store.iter_turns("t", batch=1))
    assert [t.id for t, _ in listed] == [t.id for t, _ in rows]
    assert all(v is not None and v.shape == (EMB.dim,) for _, v in listed)


def test_api_keys_are_stored_hashed_and_revocable(store, tmp_path):
    from engram.auth import create_key, revoke_key, verify_key

    key, secret = create_key(store, "acme", "ci")
    assert secret.startswith("engram_") and key.prefix == secret[: len(key.prefix)]
    assert verify_key(store, secret) == key
    assert verify_key(store, secret + "x") is None and verify_key(store, "nonsense") is None
    other, _ = create_key(store, "globex")
    assert [k.id for k in store.list_api_keys("acme")] == [key.id]
    assert {k.id for k in store.list_api_keys()} == {key.id, other.id}
    assert revoke_key(store, key.id).revoked_at is not None
    assert verify_key(store, secret) is None
    stored = stored_bytes(store)
    assert stored is None or (secret.encode() not in stored and key.prefix.encode() in stored)


def test_a_long_turn_scores_its_best_chunk_and_forgets_its_chunks(store):
    from engram.store.base import TurnChunks

    scope, flt, until = UserScope("t", "u"), SearchFilters(), T0 + timedelta(days=1)
    messages = [
        {"role": "user", "content": "a long document about gardening and compost", "timestamp": T0},
        {"role": "user", "content": "the bakery opens at nine", "timestamp": T0 + timedelta(minutes=1)},
    ]
    turns = parse_messages(messages, Scope("t", "u", None, "s"), now=T0)
    texts = [t.embedding_text() for t in turns]
    windows = ["observatory vault launch code zanzibar", "compost heaps in the garden"]
    parts = TurnChunks([text_key(w) for w in windows], EMB.embed(windows))
    ((long, _), (short, _)) = store.insert_turns(
        turns, EMB.embed(texts), [text_key(t) for t in texts], T0, chunks=[parts, None]
    )
    query = EMB.embed(["observatory vault launch code zanzibar"])[0]
    found = store.vector_search(scope, query, filters=flt, until=until, limit=5)
    assert [c.turn.id for c in found] == [long.id, short.id]  # each turn once, by its best row
    assert found[0].score == pytest.approx(1.0, abs=1e-5)
    assert store.vector_scores(scope, [short, long], query)[long.id] == pytest.approx(1.0, abs=1e-5)
    # the cache answers for a chunk's text, to its own user only
    assert set(store.cached_vectors(scope, [text_key(windows[0])])) == {text_key(windows[0])}
    assert store.cached_vectors(UserScope("t", "bob"), [text_key(windows[0])]) == {}
    store.forget(scope, ids=[long.id])
    assert [c.turn.id for c in store.vector_search(scope, query, filters=flt, until=until, limit=5)] == [short.id]
    assert store.cached_vectors(scope, [text_key(windows[0])]) == {}
