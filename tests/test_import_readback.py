"""The write path does not read back what it just wrote (issue 16, item 2, fourth pass).

The store hands the turns the caller holds back as the caller's own objects (``known`` of
``turns_after`` and ``session_tail``; the inserted rows of ``insert_turns``) instead of building
them again from their rows; rows it does not hold are read as before, on every backend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engram import HashingEmbedder, Memory, Scope
from engram.cli.demo import load_sample
from engram.cli.importers import ImportSummary, ingest
from engram.model import Turn
from engram.model.messages import parse_messages
from engram.providers.embedder import text_key
from engram.store.base import UserScope
from tests.conftest import BACKENDS, FixedClock, make_store

T0 = datetime(2024, 1, 1, tzinfo=UTC)
EMB = HashingEmbedder(64)
USER = UserScope("t", "u")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    s = make_store(request.param, tmp_path)
    s.bind_embedder(EMB.model_id, EMB.dim)
    yield s
    s.close()


def put(
    store: Any, texts: list[str], *, session: str = "s", start: datetime = T0, **message: Any
) -> list[Turn]:
    messages = [
        {"role": "user", "content": text, "timestamp": start + timedelta(minutes=i), **message}
        for i, text in enumerate(texts)
    ]
    turns = parse_messages(messages, Scope("t", "u", None, session), now=T0)
    embedded = [t.embedding_text() for t in turns]
    return [
        turn
        for turn, _ in store.insert_turns(turns, EMB.embed(embedded), [text_key(t) for t in embedded], T0)
    ]


def test_turns_after_gives_the_callers_turns_back_and_reads_the_others(store: Any) -> None:
    older = put(store, ["one", "two"])
    mine = put(store, ["three", "four"], start=T0 + timedelta(hours=1))
    after = store.turns_after(USER, 0, known={t.id: t for t in mine})
    assert after == [*older, *mine]  # the same turns as without ``known``
    assert after == store.turns_after(USER, 0)
    assert [a is b for a, b in zip(after[2:], mine, strict=True)] == [True, True]
    assert not any(a is b for a, b in zip(after[:2], older, strict=True))  # read: not the caller's


def test_session_tail_gives_the_callers_turns_back_with_zero_vectors(store: Any) -> None:
    older = put(store, ["one", "two"])
    mine = put(store, ["three", "four"], start=T0 + timedelta(hours=1))
    episodes, turns, vectors = store.session_tail(USER, "s", known={t.id: t for t in mine})
    assert episodes == []
    assert turns == [*older, *mine] == store.session_tail(USER, "s")[1]
    assert [a is b for a, b in zip(turns, [*older, *mine], strict=True)] == [False, False, True, True]
    assert [bool(row.any()) for row in vectors] == [True, True, False, False]  # the caller holds those


def test_a_known_turn_is_not_given_back_for_a_row_that_is_not_it(store: Any) -> None:
    (gone, kept) = put(store, ["one", "two"])
    store.forget(USER, ids=[gone.id])
    stale = Turn(**{**{f: getattr(kept, f) for f in Turn.__dataclass_fields__}, "seq": kept.seq + 100})
    known = {gone.id: gone, kept.id: stale}  # a forgotten turn, and one whose seq is not the row's
    assert store.turns_after(USER, 0, known=known) == [kept]
    assert store.session_tail(USER, "s", known=known)[1] == [kept]
    assert store.turns_after(USER, 0, known=known)[0] is not stale


def test_inserted_turns_are_what_a_read_of_them_gives(store: Any) -> None:
    """The turns an insert returns are built from the values it wrote: the same as a read's."""
    message = {
        "start": datetime(2024, 3, 1, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=-5))),
        "name": "Zoë",
        "metadata": {"nested": {"list": [1, 2.5, None, True]}, "ü": "x"},
    }
    written = put(store, ["Café in Zürich ✓", "second"], **message)
    assert written == sorted(store.get_turns(USER, [t.id for t in written]), key=lambda t: t.seq)
    again = put(store, ["Café in Zürich ✓", "second", "third"], **message)  # two stored before: read
    assert again[:2] == written and again[2:] == store.get_turns(USER, [again[2].id])


def test_a_write_builds_each_new_turn_once(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engram.store.sqlite.sql as sql
    import engram.store.sqlite.store as sqlite_store

    built: Counter[str] = Counter()

    def counted(**fields: Any) -> Turn:
        built[fields["id"]] += 1
        return Turn(**fields)

    monkeypatch.setattr(sql, "Turn", counted)  # a row read
    monkeypatch.setattr(sqlite_store, "Turn", counted)  # a row just written, from the values in hand
    conversation, _ = load_sample()
    memory = Memory(tmp_path / "m.db", embedder=HashingEmbedder(), clock=clock)
    first = conversation.sessions[0]
    half = len(first.messages) // 2
    memory.add(first.messages[:half], user_id="sam", session_id=first.id, timestamp=first.timestamp)
    older = set(built)
    built.clear()
    added = memory.add(first.messages[half:], user_id="sam", session_id=first.id, timestamp=first.timestamp)
    assert len(memory.episodes(user_id="sam", limit=100)) >= 1
    new = {t.id for t in added.turns}
    # from the values it wrote, not from a read of them (was three times: the insert's read,
    # the watermark's and the open tail's); the open tail's older turns are read
    assert {turn_id: built[turn_id] for turn_id in new} == dict.fromkeys(new, 1)
    assert set(built) - new <= older
    built.clear()
    ingest(memory, [conversation], summary=ImportSummary("sample", "-"), user_id="alex")
    counts = dict(built)
    imported = {t.id for t in memory.list(user_id="alex", limit=1000).items}
    assert len(imported) == sum(len(s.messages) for s in conversation.sessions)
    assert {turn_id: counts.get(turn_id) for turn_id in imported} == dict.fromkeys(imported, 1)


def test_an_episode_marks_its_turns_by_id_not_by_walking_the_users_turns(
    tmp_path: Path, clock: FixedClock
) -> None:
    memory = Memory(tmp_path / "m.db", embedder=HashingEmbedder(), clock=clock)
    conversation, _ = load_sample()
    first, second, *_ = conversation.sessions
    memory.add(first.messages, user_id="sam", session_id=first.id, timestamp=first.timestamp)
    statements: list[str] = []
    connection = memory.store._conn  # type: ignore[attr-defined]
    connection.set_trace_callback(statements.append)
    memory.add(second.messages, user_id="sam", session_id=second.id, timestamp=second.timestamp)
    connection.set_trace_callback(None)
    [update, *_] = [sql for sql in statements if sql.startswith("UPDATE turns SET episode_id")]
    plan = " ".join(str(row[-1]) for row in connection.execute(f"EXPLAIN QUERY PLAN {update}"))
    assert "(id=?)" in plan, plan  # was: USING INDEX turns_user_seq (tenant=? AND user_id=?)
