"""The write path at the embedder's rate (issue 16, item 2): bulk imports embed many sessions in
one call and derive exactly what session-by-session adds derive; a repeated question is not
embedded again."""

from __future__ import annotations

import gc
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from engram import HashingEmbedder, Memory
from engram.cli.demo import load_sample
from engram.cli.importers import ImportSummary, ingest
from engram.errors import ProviderError
from engram.model import AddResult
from engram.portable import AddCall
from engram.providers.embedder import QueryVectors
from engram.providers.tokens import ApproximateCounter
from engram.write.ingest import Ready
from tests.conftest import FixedClock


class CountingEmbedder(HashingEmbedder):
    """The hashing embedder, recording the texts of each call."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return super().embed(texts)


class BrokenEmbedder(HashingEmbedder):
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise ProviderError("the model is gone")


def snapshot(memory: Memory, user_id: str) -> tuple[object, ...]:
    """Everything a write derives for a user: turns with notes, facts, episodes."""
    turns = sorted((t.id, t.content, t.session_id) for t in memory.list(user_id=user_id, limit=1000))
    facts = sorted((f.slot, f.value, f.valid_from, f.source_turn_ids) for f in memory.facts(user_id=user_id, include_history=True))
    episodes = sorted((e.id, e.turn_ids, e.summary) for e in memory.episodes(user_id=user_id, limit=1000))
    return turns, facts, episodes


def test_an_import_embeds_many_sessions_in_one_call_and_derives_what_adds_derive(
    tmp_path: Path, clock: FixedClock
) -> None:
    conversation, _ = load_sample()
    assert len(conversation.sessions) > 1
    one_by_one = Memory(tmp_path / "adds.db", embedder=HashingEmbedder(), clock=clock)
    for session in conversation.sessions:
        one_by_one.add(session.messages, user_id="sam", session_id=session.id, timestamp=session.timestamp)
    embedder = CountingEmbedder()
    bulk = Memory(tmp_path / "import.db", embedder=embedder, clock=clock)
    summary = ingest(bulk, [conversation], summary=ImportSummary("sample", "-"), user_id="sam")
    turns = sum(len(session.messages) for session in conversation.sessions)
    assert summary.added == turns and len(embedder.batches) == 1  # was one call a session
    assert snapshot(bulk, "sam") == snapshot(one_by_one, "sam")
    again = ingest(bulk, [conversation], summary=ImportSummary("sample", "-"), user_id="sam")
    assert again.added == 0 and again.duplicates == turns and len(embedder.batches) == 1


def test_import_batches_split_between_sessions_keep_the_turn_ids(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation, _ = load_sample()
    monkeypatch.setattr("engram.cli.importers.IMPORT_BATCH", 5)
    monkeypatch.setattr("engram.cli.importers.AHEAD_BATCHES", 2)
    writes: list[int] = []
    add_many = Memory._add_many

    def counted(self: Memory, calls: Sequence[AddCall], ready: Ready | None = None) -> AddResult:
        writes.append(sum(len(call.messages) for call in calls))
        return add_many(self, calls, ready)

    monkeypatch.setattr(Memory, "_add_many", counted)
    embedder = CountingEmbedder()
    small = Memory(tmp_path / "small.db", embedder=embedder, clock=clock)
    ingest(small, [conversation], summary=ImportSummary("sample", "-"), user_id="sam")
    assert len(writes) > 2 and all(each >= 5 for each in writes[:-1])
    assert len(embedder.batches) == (len(writes) + 1) // 2  # one embedding a window of two batches
    assert sorted(len(text) for call in embedder.batches for text in call) == sorted(
        len(turn.embedding_text()) for turn in small.list(user_id="sam", limit=1000)
    )  # every text embedded once, ahead of its write
    whole = Memory(tmp_path / "whole.db", embedder=HashingEmbedder(), clock=clock)
    for session in conversation.sessions:
        whole.add(session.messages, user_id="sam", session_id=session.id, timestamp=session.timestamp)
    assert snapshot(small, "sam") == snapshot(whole, "sam")


def test_memory_import_embeds_its_batches_ahead_shortest_first_and_shows_progress_as_it_embeds(
    tmp_path: Path, clock: FixedClock
) -> None:
    source = Memory(tmp_path / "source.db", embedder=HashingEmbedder(), clock=clock)
    for session in range(30):
        source.add(
            [{"role": "user", "content": f"note {session}-{i}" + " more" * ((session * 7 + i) % 13)} for i in range(40)],
            user_id="u",
            session_id=f"s{session}",
            timestamp="2024-01-01",
        )
    export = io.StringIO()
    source.export(export, with_vectors=False)
    shown: list[int] = []
    embedder = CountingEmbedder()
    stored_then: list[int] = []

    def progress(n: int) -> None:
        shown.append(n)
        stored_then.append(target.stats().turns)

    target = Memory(tmp_path / "target.db", embedder=embedder, clock=clock)
    result = target.import_(export.getvalue().splitlines(keepends=True), batch=500, progress=progress)
    assert result.added == 1200 and [len(call) for call in embedder.batches] == [1024, 176]  # AHEAD_CALL
    lengths = [ApproximateCounter().count(text) for call in embedder.batches for text in call]
    assert lengths == sorted(lengths)  # one length sort over the three batches of 500
    assert shown == [1024, 176] and stored_then == [0, 0]  # moved by the embedding, before any write
    assert [hit.turn.id for hit in target.search("note 7-3", user_id="u")] == [
        hit.turn.id for hit in source.search("note 7-3", user_id="u")
    ]


def test_a_failing_embedder_writes_nothing(tmp_path: Path, clock: FixedClock) -> None:
    memory = Memory(tmp_path / "m.db", embedder=BrokenEmbedder(), clock=clock)
    with pytest.raises(ProviderError, match="the model is gone"):
        memory.add("I live in Porto", user_id="u", session_id="s")
    assert memory.stats().turns == 0


def test_a_repeated_question_is_not_embedded_again(tmp_path: Path, clock: FixedClock) -> None:
    embedder = CountingEmbedder()
    memory = Memory(tmp_path / "m.db", embedder=embedder, clock=clock)
    memory.add("I play the cello on Sundays", user_id="u", session_id="s", timestamp="2024-01-01")
    embedder.batches.clear()
    first = memory.search("what instrument do I play?", user_id="u")
    assert len(embedder.batches) == 1
    second = memory.search("what instrument do I play?", user_id="u")
    memory.context("what instrument do I play?", user_id="u")
    assert len(embedder.batches) == 1  # the model was not called again
    assert [(h.turn.id, h.score) for h in second] == [(h.turn.id, h.score) for h in first]
    memory.search("what instrument does the user play?", user_id="u")
    assert len(embedder.batches) == 2


def test_question_vectors_are_per_embedder_bounded_and_read_only() -> None:
    cache = QueryVectors(max_items=2)
    one, other = CountingEmbedder(), CountingEmbedder()  # same model id, separate caches
    vector = cache.embed(one, "a")
    assert not vector.flags.writeable
    cache.embed(other, "a")
    assert len(one.batches) == len(other.batches) == 1
    cache.embed(one, "b")
    cache.embed(one, "c")  # "a" is the least recently used: dropped
    assert cache.get(one, "a") is None and cache.get(one, "c") is not None
    assert cache.embed(one, "c") is cache.get(one, "c") and len(one.batches) == 3
    del one
    gc.collect()
    assert len(cache._caches) == 1  # a collected embedder's vectors go with it
