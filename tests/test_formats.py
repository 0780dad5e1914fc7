"""Benchmark loaders: synthetic files for every known trap, then the real data when present."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engram.errors import ValidationError
from engram.formats import (
    Dataset,
    load_locomo,
    load_longmemeval,
    parse_locomo,
    parse_longmemeval,
)
from engram.formats.locomo import normalise_evidence, parse_session_date
from engram.formats.longmemeval import opaque_session_id, parse_date
from engram.model import Scope
from engram.model.messages import parse_messages

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GOLD_WORDS = ("has_answer", "evidence", "answer")


def _write(path: Path, value: object) -> Path:
    data = json.dumps(value).encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def _messages(dataset: Dataset) -> Iterator[dict[str, Any]]:
    for conversation in dataset.conversations:
        for session in conversation.sessions:
            yield from session.messages


def _assert_ready_for_memory_add(dataset: Dataset) -> None:
    """Messages pass Engram's own validation and carry no gold label."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for conversation in dataset.conversations:
        ids = [m["id"] for s in conversation.sessions for m in s.messages]
        assert len(ids) == len(set(ids)), conversation.id
        for session in conversation.sessions:
            if session.messages:
                scope = Scope("bench", conversation.id, session_id=session.id)
                parse_messages(session.messages, scope, now=now)
            for message in session.messages:
                keys = set(message) | set(message["metadata"])
                assert not any(word in key for key in keys for word in GOLD_WORDS), message


# --- LoCoMo -------------------------------------------------------------------------------

LOCOMO_SAMPLE: dict[str, Any] = {
    "sample_id": "conv-x",
    "conversation": {
        "speaker_a": "Ann",
        "speaker_b": "Bob",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ann", "dia_id": "D1:1", "text": "Hi Bob, I adopted a dog."},
            {
                "speaker": "Bob",
                "dia_id": "D1:2",
                "text": "Look at mine!",
                "img_url": ["https://example.org/dog.jpg"],
                "blip_caption": "a photo of a dog on a beach",
                "query": "dog beach",
            },
            {"speaker": "Ann", "dia_id": "D1:3", "text": "  "},  # says nothing
        ],
        # numeric order, not key order: session_10 comes after session_2
        "session_10_date_time": "9:00 am on 1 July, 2023",
        "session_10": [
            {"speaker": "Bob", "dia_id": "D10:1", "text": "Back from the trip."},
            {
                "speaker": "Ann",
                "dia_id": "D10:2",
                "text": "Here it is.",
                "img_url": ["data:image/jpeg;base64," + "A" * 20_000],
                "blip_caption": "a photo of a mountain",
            },
        ],
        "session_2_date_time": "10:04 am on 12 June, 2023",
        "session_2": [{"speaker": "Ann", "dia_id": "D2:1", "text": "Going hiking."}],
        # date keys of sessions that do not exist
        "session_11_date_time": "9:00 am on 2 July, 2023",
        "session_12_date_time": "9:00 am on 3 July, 2023",
    },
    "qa": [
        {"question": "When?", "answer": 2023, "evidence": ["D1:1"], "category": 2},
        {"question": "Who?", "answer": "Ann, Bob", "evidence": ["D1:2; D2:1"], "category": 1},
        {
            "question": "Where?",
            "answer": "beach",
            "evidence": ["D:2:1", "D10:01", "D9:9", "D", "D1:3", "D1:2", "D1:2"],
            "category": 4,
        },
        {"question": "Ally?", "answer": "Yes; supportive", "evidence": [], "category": 3},
        {
            "question": "What did Bob adopt?",
            "adversarial_answer": "a cat",
            "evidence": ["D1:1"],
            "category": 5,
        },
        {"question": "Bowl?", "answer": "No", "adversarial_answer": "Yes", "evidence": [], "category": 5},
    ],
    "event_summary": {},
    "observation": {},
    "session_summary": {},
}


@pytest.fixture(params=["locomo.json", "locomo.json.gz"])
def locomo(tmp_path: Path, request: pytest.FixtureRequest) -> Dataset:
    return load_locomo(_write(tmp_path / request.param, [LOCOMO_SAMPLE]))


def test_locomo_sessions_skip_date_keys_without_sessions_in_numeric_order(
    locomo: Dataset,
) -> None:
    (conversation,) = locomo.conversations
    assert conversation.id == "conv-x"
    assert [s.id for s in conversation.sessions] == ["session_1", "session_2", "session_10"]
    assert conversation.sessions[0].timestamp == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert conversation.sessions[2].timestamp == datetime(2023, 7, 1, 9, 0, tzinfo=UTC)


def test_locomo_messages(locomo: Dataset) -> None:
    first, _, last = locomo.conversations[0].sessions
    assert [m["id"] for m in first.messages] == ["D1:1", "D1:2"]  # D1:3 said nothing
    hello, photo = first.messages
    assert {m["role"] for m in _messages(locomo)} == {"user"}  # both speakers are people
    assert (hello["name"], photo["name"]) == ("Ann", "Bob")
    assert hello["content"] == "Hi Bob, I adopted a dog."
    assert photo["content"] == "Look at mine! [shares a photo: a photo of a dog on a beach]"
    assert photo["metadata"] == {
        "dia_id": "D1:2",
        "img_url": ["https://example.org/dog.jpg"],
        "blip_caption": "a photo of a dog on a beach",
    }
    assert hello["metadata"] == {"dia_id": "D1:1"}
    assert photo["timestamp"] - hello["timestamp"] == timedelta(seconds=1)
    assert hello["timestamp"] == first.timestamp
    assert last.messages[1]["metadata"]["img_url"] == ["data:image/jpeg;base64,…"]
    _assert_ready_for_memory_add(locomo)


def test_locomo_questions(locomo: Dataset, tmp_path: Path) -> None:
    when, who, where, ally, adopt, bowl = locomo.questions
    assert [q.id for q in locomo.questions][:2] == ["conv-x:q0", "conv-x:q1"]
    assert (when.answer, when.category, when.question_date) == ("2023", "2", None)
    assert when.evidence_ids == ("D1:1",) and when.evidence_sessions == ("session_1",)
    assert who.evidence_ids == ("D1:2", "D2:1")  # "D1:2; D2:1" in one entry
    assert who.evidence_sessions == ("session_1", "session_2")
    # D:2:1 and D10:01 repaired; D9:9, D and the empty D1:3 name no turn; repeats dropped
    assert where.evidence_ids == ("D2:1", "D10:1", "D1:2")
    assert where.evidence_sessions == ("session_2", "session_10", "session_1")
    assert ally.evidence_ids == () and ally.evidence_sessions == ()
    assert (adopt.answer, adopt.abstention) == ("a cat", True)
    assert (bowl.answer, bowl.abstention) == ("No", True)
    assert not any(q.abstention for q in (when, who, where, ally))
    assert {q.conversation_id for q in locomo.questions} == {"conv-x"}
    assert locomo.name == "locomo"
    assert locomo.sha256 == hashlib.sha256(Path(locomo.path).read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["D1:1"], ("D1:1",)),
        (["D1:1;D1:2"], ("D1:1", "D1:2")),
        (["D1:1 D1:2", "D1:1"], ("D1:1", "D1:2")),
        (["D:1:2"], ("D1:2",)),
        (["D:1:9"], ()),  # the repair names no turn
        (["D01:02"], ("D1:2",)),
        (["", "D", "x"], ()),
        ("D1:1", ()),  # not a list
    ],
)
def test_normalise_evidence(entries: object, expected: tuple[str, ...]) -> None:
    assert normalise_evidence(entries, {"D1:1", "D1:2"}) == expected


def test_parse_session_date() -> None:
    assert parse_session_date("12:09 am on 13 January, 2024") == datetime(2024, 1, 13, 0, 9, tzinfo=UTC)
    with pytest.raises(ValidationError):
        parse_session_date("2024-01-13")


@pytest.mark.parametrize(
    "raw",
    [
        {"not": "a list"},
        [{"conversation": {}}],  # no sample_id
        [{"sample_id": "c", "conversation": {"session_1": [{"dia_id": "D1:1", "text": "x"}]}}],
        [{"sample_id": "c", "conversation": {"session_1": [], "session_1_date_time": "soon"}}],
    ],
)
def test_locomo_rejects_malformed_files(raw: object) -> None:
    with pytest.raises(ValidationError):
        parse_locomo(raw)


# --- LongMemEval --------------------------------------------------------------------------


def _turn(role: str, content: str, has_answer: bool | None = None) -> dict[str, Any]:
    turn: dict[str, Any] = {"role": role, "content": content}
    if has_answer is not None:
        turn["has_answer"] = has_answer
    return turn


LME_ITEMS: list[dict[str, Any]] = [
    {
        "question_id": "q1",
        "question_type": "multi-session",
        "question": "How many dogs do I have?",
        "answer": 3,
        "question_date": "2023/05/30 (Tue) 23:40",
        "haystack_session_ids": ["noise_1", "answer_a_1", "answer_a_2", "noise_2"],
        "haystack_dates": [
            "2023/05/20 (Sat) 10:00",
            "2023/05/21 (Sun) 09:30",
            "2023/05/21 (Sun) 08:00",  # not in time order: kept in file order
            "2023/05/31 (Wed) 12:00",  # after the question: kept
        ],
        "haystack_sessions": [
            [_turn("user", "hello"), _turn("assistant", "hi")],
            [
                _turn("user", "I got two dogs", True),
                _turn("assistant", "Nice, two dogs", True),
                _turn("user", "", False),  # empty: skipped, indexes stay
                _turn("user", "and a third one", True),
            ],
            # an answer session whose only has_answer is the assistant's: not gold
            [_turn("user", "tell me about dogs", False), _turn("assistant", "dogs", True)],
            # has_answer outside the answer sessions: not gold
            [_turn("user", "dogs again", True)],
        ],
        "answer_session_ids": ["answer_a_1", "answer_a_2"],
    },
    {
        "question_id": "q2_abs",
        "question_type": "single-session-assistant",
        "question": "What did you say about my cat?",
        "answer": "You never mentioned a cat",
        "question_date": "2023/06/01 (Thu) 08:05",
        "haystack_session_ids": ["noise_1", "answer_b", "noise_1"],  # a session twice
        "haystack_dates": [
            "2023/05/20 (Sat) 10:00",
            "2023/05/22 (Mon) 10:00",
            "2023/05/25 (Thu) 10:00",
        ],
        "haystack_sessions": [
            [_turn("user", "hello"), _turn("assistant", "hi")],
            [_turn("user", "tell me something", False), _turn("assistant", "cats", True)],
            [_turn("user", "hello"), _turn("assistant", "hi")],
        ],
        "answer_session_ids": ["answer_b"],
    },
]


@pytest.fixture(params=["lme.json", "lme.json.gz"])
def lme(tmp_path: Path, request: pytest.FixtureRequest) -> Dataset:
    return load_longmemeval(_write(tmp_path / request.param, LME_ITEMS))


def test_longmemeval_conversation_per_question(lme: Dataset) -> None:
    o = opaque_session_id
    assert lme.name == "longmemeval"
    assert [c.id for c in lme.conversations] == ["q1", "q2_abs"]
    first = lme.conversations[0]
    assert [s.id for s in first.sessions] == [o("noise_1"), o("answer_a_1"), o("answer_a_2"), o("noise_2")]
    assert first.sessions[1].timestamp == datetime(2023, 5, 21, 9, 30, tzinfo=UTC)
    answer_a_1 = first.sessions[1].messages
    assert [m["id"] for m in answer_a_1] == [f"{o('answer_a_1')}:{i}" for i in (0, 1, 3)]
    assert [m["role"] for m in answer_a_1] == ["user", "assistant", "user"]
    assert answer_a_1[2]["timestamp"] == datetime(2023, 5, 21, 9, 30, 3, tzinfo=UTC)
    assert answer_a_1[2]["metadata"] == {"turn_index": 3}
    assert "name" not in answer_a_1[0]
    assert lme.sha256 == hashlib.sha256(Path(lme.path).read_bytes()).hexdigest()
    _assert_ready_for_memory_add(lme)


def test_longmemeval_session_ids_do_not_give_the_gold_away(lme: Dataset) -> None:
    for conversation in lme.conversations:
        for session in conversation.sessions:
            assert "answer" not in session.id
            for message in session.messages:
                assert "answer" not in message["id"] and "answer" not in str(message["metadata"])


def test_longmemeval_repeated_session_gets_a_distinct_id(lme: Dataset) -> None:
    sessions = lme.conversations[1].sessions
    o = opaque_session_id
    assert [s.id for s in sessions] == [o("noise_1"), o("answer_b"), o("noise_1") + "#2"]
    assert sessions[2].messages[0]["id"] == o("noise_1") + "#2:0"


def test_longmemeval_gold_follows_the_official_rule(lme: Dataset) -> None:
    q1, q2 = lme.questions
    o = opaque_session_id
    # user has_answer turns of answer sessions only; assistant turns and noise never count
    assert q1.evidence_ids == (f"{o('answer_a_1')}:0", f"{o('answer_a_1')}:3")
    assert q1.evidence_sessions == (o("answer_a_1"),)
    assert (q1.answer, q1.category, q1.abstention) == ("3", "multi-session", False)
    assert q1.question_date == datetime(2023, 5, 30, 23, 40, tzinfo=UTC)
    assert q1.conversation_id == "q1"
    assert q2.evidence_ids == () and q2.evidence_sessions == ()
    assert q2.abstention is True


def test_json_and_gzip_give_the_same_records(tmp_path: Path) -> None:
    plain = load_longmemeval(_write(tmp_path / "a.json", LME_ITEMS))
    packed = load_longmemeval(_write(tmp_path / "a.json.gz", LME_ITEMS))
    assert plain.questions == packed.questions
    assert plain.conversations == packed.conversations
    assert plain.sha256 != packed.sha256


def test_parse_date() -> None:
    assert parse_date("2023/05/30 (Tue) 23:40") == datetime(2023, 5, 30, 23, 40, tzinfo=UTC)
    for bad in ("2023-05-30 23:40", "2023/02/30 (Thu) 10:00", None):
        with pytest.raises(ValidationError):
            parse_date(bad)


def _broken(**changes: object) -> list[dict[str, Any]]:
    return [{**LME_ITEMS[0], **changes}]


@pytest.mark.parametrize(
    "raw",
    [
        {"not": "a list"},
        _broken(haystack_dates=["2023/05/20 (Sat) 10:00"]),  # lengths differ
        _broken(question_date="yesterday"),
        _broken(haystack_sessions=[[{"role": "system", "content": "x"}]] * 4),
        _broken(question_id=""),
        LME_ITEMS + LME_ITEMS[:1],  # question id twice
    ],
)
def test_longmemeval_rejects_malformed_files(raw: object) -> None:
    with pytest.raises(ValidationError):
        parse_longmemeval(raw)


def test_missing_or_broken_files_raise_validation_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        load_locomo(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValidationError, match="not valid JSON"):
        load_longmemeval(tmp_path / "bad.json")
    (tmp_path / "bad.json.gz").write_bytes(b"\x1f\x8b" + b"junk")
    with pytest.raises(ValidationError, match="gzip"):
        load_longmemeval(tmp_path / "bad.json.gz")


# --- Real data ----------------------------------------------------------------------------


def _real(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{path} not found: the tests that use ../shared/data need it")
    return path


def _assert_evidence_is_real(dataset: Dataset) -> None:
    sessions_of = {
        c.id: {m["id"]: s.id for s in c.sessions for m in s.messages} for c in dataset.conversations
    }
    for question in dataset.questions:
        turns = sessions_of[question.conversation_id]
        assert all(turn in turns for turn in question.evidence_ids), question
        expected = tuple(dict.fromkeys(turns[t] for t in question.evidence_ids))
        assert question.evidence_sessions == expected, question


def test_real_locomo() -> None:
    dataset = load_locomo(_real("locomo10.json"))
    sessions = [s for c in dataset.conversations for s in c.sessions]
    assert len(dataset.conversations) == 10
    assert len(sessions) == 272
    assert sum(len(s.messages) for s in sessions) == 5_882
    assert len(dataset.questions) == 1_986
    assert dataset.sha256.startswith("79fa87e9") and dataset.sha256.endswith("98ff4")
    assert all(s.timestamp is not None for s in sessions)
    assert len(dataset.conversations[0].sessions) == 19  # conv-26: dates of 35
    assert sum(q.abstention for q in dataset.questions) == 446
    assert {q.category for q in dataset.questions} == {"1", "2", "3", "4", "5"}
    assert sum(not q.evidence_ids for q in dataset.questions) == 4
    assert all(q.answer for q in dataset.questions)
    evidence = {e for q in dataset.questions for e in q.evidence_ids}
    assert {"D11:26", "D30:5", "D8:6", "D9:17"} <= evidence  # repaired or split
    _assert_evidence_is_real(dataset)
    _assert_ready_for_memory_add(dataset)


def test_real_longmemeval_dev() -> None:
    dataset = load_longmemeval(_real("longmemeval_s_dev.json.gz"))
    assert len(dataset.questions) == len(dataset.conversations) == 52
    assert sum(q.abstention for q in dataset.questions) == 3
    _assert_evidence_is_real(dataset)
    _assert_ready_for_memory_add(dataset)
    roles = {m["id"]: m["role"] for c in dataset.conversations for s in c.sessions for m in s.messages}
    for question in dataset.questions:
        assert all(roles[turn] == "user" for turn in question.evidence_ids)
        # only single-session-assistant and abstention questions may lack gold turns
        if question.category != "single-session-assistant" and not question.abstention:
            assert question.evidence_ids, question.id
        assert question.question_date is not None
