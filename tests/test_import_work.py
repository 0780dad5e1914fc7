"""Imports do each piece of a turn's work once (issue 16, item 2, third and fourth passes): what
they store is what they stored before, with less work for the same turns."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engram import HashingEmbedder, Memory, ValidationError
from engram.cli.demo import load_sample
from engram.cli.importers import ImportSummary, ingest
from engram.formats.dataset import Conversation, Session
from engram.formats.validate import check_conversations
from tests.cli_support import Engram, one_line_error, seed
from tests.cli_support import engram as engram  # the fixture
from tests.conftest import FixedClock


def counting(calls: Counter[str], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return fn(*args, **kwargs)

    return counted


def test_an_import_parses_each_message_once(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engram.model.messages import parse_messages

    parsed: Counter[str] = Counter()

    def parse(messages: Any, *args: Any, **kwargs: Any) -> Any:
        parsed["messages"] += len(messages)
        return parse_messages(messages, *args, **kwargs)

    monkeypatch.setattr("engram.formats.validate.parse_messages", parse)
    monkeypatch.setattr("engram.portable.parse_messages", parse)
    conversation, _ = load_sample()
    memory = Memory(tmp_path / "m.db", embedder=HashingEmbedder(), clock=clock)
    summary = ingest(memory, [conversation], summary=ImportSummary("sample", "-"))
    messages = sum(len(session.messages) for session in conversation.sessions)
    assert summary.added == messages
    assert parsed["messages"] == messages  # was twice: to validate, then to write


def test_the_callers_check_is_written_as_parsed(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation, _ = load_sample()
    checked = check_conversations([conversation], tenant="default", user_id="sam")
    monkeypatch.setattr("engram.portable.parse_messages", pytest.fail)  # nothing is parsed again
    memory = Memory(tmp_path / "m.db", embedder=HashingEmbedder(), clock=clock)
    ingest(memory, [conversation], summary=ImportSummary("sample", "-"), user_id="sam", checked=checked)
    assert len(memory.list(user_id="sam", limit=100)) == sum(len(s.messages) for s in conversation.sessions)


def test_a_check_for_another_user_is_not_used(tmp_path: Path, clock: FixedClock) -> None:
    conversation, _ = load_sample()
    checked = check_conversations([conversation], tenant="default", user_id="someone-else")
    memory = Memory(tmp_path / "m.db", embedder=HashingEmbedder(), clock=clock)
    ingest(memory, [conversation], summary=ImportSummary("sample", "-"), user_id="sam", checked=checked)
    assert memory.list(user_id="someone-else", limit=10).items == []
    assert len(memory.list(user_id="sam", limit=100)) == sum(len(s.messages) for s in conversation.sessions)


def test_a_session_without_a_time_takes_the_time_of_its_write(tmp_path: Path, clock: FixedClock) -> None:
    untimed = Conversation("u", [Session("s1", None, [{"role": "user", "content": "I live in Porto"}])])
    checked = check_conversations([untimed], tenant="default")  # parsed at the machine's time
    clock.moment += timedelta(days=3)
    memory = Memory(tmp_path / "m.db", embedder=HashingEmbedder(), clock=clock)
    ingest(memory, [untimed], summary=ImportSummary("locomo", "-"), checked=checked)
    [turn] = memory.list(user_id="u")
    assert turn.timestamp == clock.moment  # as Memory.add at that moment gives it


def test_a_new_turns_salience_and_names_are_read_once(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engram.text import keyphrases

    calls: Counter[str] = Counter()
    for module in ("engram.write.annotate", "engram.write.episodes"):
        monkeypatch.setattr(f"{module}.salience", counting(calls, "salience", keyphrases.salience))
        monkeypatch.setattr(f"{module}.entities", counting(calls, "entities", keyphrases.entities), raising=False)
    conversation, _ = load_sample()
    memory = Memory(tmp_path / "m.db", embedder=HashingEmbedder(), clock=clock)
    ingest(memory, [conversation], summary=ImportSummary("sample", "-"))
    turns = sum(len(session.messages) for session in conversation.sessions)
    assert memory.episodes(user_id=conversation.id, limit=100)
    assert calls == {"salience": turns, "entities": turns}  # the episodes read them again


# -- JSONL: each line parsed once (fourth pass) ---------------------------------------------------


def test_engram_import_jsonl_parses_each_line_once(
    engram: Engram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engram.formats import jsonl

    seed(engram)
    exported = tmp_path / "export.jsonl"
    assert engram("export", str(exported)).exit_code == 0
    records = len(exported.read_text().splitlines()) - 1
    calls: Counter[str] = Counter()
    monkeypatch.setattr(jsonl, "parse_record", counting(calls, "parse_record", jsonl.parse_record))
    summary = engram.json("import", "jsonl", str(exported), db=tmp_path / "copy.db")
    assert summary["added"] == 3  # type: ignore[index]
    assert calls["parse_record"] == records  # was twice: the check, then Memory.import_


def test_a_bad_vector_is_refused_before_anything_is_written(engram: Engram, tmp_path: Path) -> None:
    """A file of this store's model has its vectors decoded once the store is open (the check
    before it cannot know the model): a bad one still stops the import before any write."""
    seed(engram)
    exported = tmp_path / "export.jsonl"
    assert engram("export", str(exported)).exit_code == 0
    lines = exported.read_text().splitlines()
    last = max(number for number, line in enumerate(lines) if json.loads(line).get("type") == "turn")
    lines[last] = json.dumps({**json.loads(lines[last]), "embedding": "AAAAAA=="})  # one float
    exported.write_text("\n".join(lines) + "\n")
    copy = tmp_path / "copy.db"
    refused = engram("import", "jsonl", str(exported), db=copy)
    one_line_error(refused, 2, f"line {last + 1}.embedding has 1 values")
    assert engram.json("stats", db=copy)["turns"] == 0  # type: ignore[index]
    memory = Memory(tmp_path / "m.db", embedder=HashingEmbedder())
    with pytest.raises(ValidationError, match=f"line {last + 1}.embedding has 1 values, expected"):
        memory.import_(lines)
    assert memory.list(user_id="alice").items == []


# -- JSONL: a line's metadata is not copied through JSON again (sixth pass) ----------------------

METADATA = [
    {"dia_id": "D1:3"},
    {},
    None,
    {"nested": {"list": [1, 2.5, None, True, "é"], "empty": {}}, "big": 10**30, "neg": -0.0},
    {"emoji": "🙂", "quote": 'say "hi"\n', "esc": "\u2028"},
]


@pytest.mark.parametrize("metadata", METADATA)
def test_a_lines_metadata_is_stored_as_a_copy_through_json_would_be(
    metadata: Any, tmp_path: Path, clock: FixedClock
) -> None:
    from engram.formats import jsonl
    from engram.model.turn import check_metadata, metadata_json

    source = Memory(tmp_path / "a.db", embedder=HashingEmbedder(), clock=clock)
    source.add([{"role": "user", "content": "hello", "metadata": metadata}], user_id="u", session_id="s")
    exported = io.StringIO()
    source.export(exported)
    lines = exported.getvalue().split("\n")  # not splitlines(): a line separator inside a string is no break
    line = lines[1]
    checked = jsonl.check_lines(lines, tenant="default")
    parsed = checked.turns[0][0].metadata
    assert parsed == check_metadata(json.loads(line)["metadata"])  # the copy the check made before
    assert metadata_json(parsed) == json.dumps(metadata or {}, ensure_ascii=False, separators=(",", ":"))
    copy = Memory(tmp_path / "b.db", embedder=HashingEmbedder(), clock=clock)
    copy.import_(lines)
    assert [t.metadata for t in copy.list(user_id="u").items] == [
        t.metadata for t in source.list(user_id="u").items
    ]
    stores: list[Any] = [memory.store for memory in (source, copy)]
    texts = [store._conn.execute("SELECT metadata FROM turns").fetchall() for store in stores]
    assert texts[0] == texts[1]


def test_a_lines_duplicate_keys_keep_the_last_value_and_bad_metadata_is_refused() -> None:
    from engram.formats import jsonl

    header = jsonl.header(
        tenant="default", embedding_model=None, dim=None, exported_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    turn = (
        '{"type":"turn","id":"t_1","tenant":"default","user_id":"u","agent_id":null,"session_id":"s",'
        '"role":"user","name":null,"content":"hi","timestamp":"2024-01-01T00:00:00+00:00","recorded_at":null,'
        '"metadata":%s,"content_hash":"x","embedding":null}'
    )
    checked = jsonl.check_lines([header, turn % '{"a":1,"b":2,"a":3}'], tenant="default")
    assert checked.turns[0][0].metadata == {"a": 3, "b": 2}
    for bad, problem in (("[1]", "must be a JSON object"), ('"x"', "must be a JSON object")):
        with pytest.raises(ValidationError, match=f"line 2.metadata {problem}"):
            jsonl.check_lines([header, turn % bad], tenant="default")
    with pytest.raises(ValidationError, match=r"line 2\.metadata is .* bytes; the limit"):
        jsonl.check_lines([header, turn % json.dumps({"k": "x" * 70_000})], tenant="default")
