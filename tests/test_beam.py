"""BEAM: the loader on a tiny synthetic split (every known trap), ``engram bench beam`` end to
end, then the real 500K split when ../shared/data holds it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engram.bench.cli import bench
from engram.errors import ValidationError
from engram.formats.beam import (
    CUT_KEY,
    chat_id_references,
    clean_content,
    cut_to_bytes,
    evidence_ids,
    load_beam,
    parse_anchor,
)
from engram.model import Scope
from engram.model.limits import MAX_CONTENT_BYTES
from engram.model.messages import parse_messages

from .conftest import shared_data

#: Long enough to be over the store's per-message limit, with 3-byte characters at the cut.
LONG = "The appendix: " + "€" * (MAX_CONTENT_BYTES // 3 + 50) + " and the tail fact: the port is 7781."


def _msg(role: str, mid: int | str, content: str, **extra: Any) -> dict[str, Any]:
    return {"role": role, "id": mid, "content": content, **extra}


def synthetic_chat() -> list[dict[str, Any]]:
    """Two batches; ids as ints and strings; markers, generator comments, a long message."""
    return [
        {
            "batch_number": 1,
            "time_anchor": None,
            "turns": [
                [
                    _msg(
                        "user",
                        "0",
                        "I deploy my chat app on Render by March 1. ->-> 1,1",
                        time_anchor="January-05-2024",
                        index="1,1",
                        question_type="main_question",
                    ),
                    _msg("assistant", "1", "Render is a fine choice for a Node.js app. ->-> 1,1"),
                ],
                [
                    _msg("user", 2, "Always give me code examples for async error handling. ->-> 1,2"),
                    _msg("assistant", 3, "Noted: code examples for async errors from now on."),
                ],
                [
                    _msg("user", 4, "->-> 1,3"),  # only the marker: nothing was said
                    _msg("assistant", 5, LONG),
                ],
            ],
        },
        {
            "batch_number": 2,
            "time_anchor": None,
            "turns": [
                [
                    _msg(
                        "user",
                        6,
                        "My Redis instance now uses 200MB with 15,000 keys. ->-> 2,(N/A, but related "
                        "to the context, so no bullet)",
                        time_anchor="February-10-2024",
                    ),
                    _msg("assistant", 7, "That is a healthy size for 15,000 keys."),
                ],
                [
                    _msg("user", 8, "I prefer Redis pub/sub over in-memory event emitters. ->-> 2,4"),
                    _msg("assistant", 9, "Redis pub/sub scales across servers."),
                ],
            ],
        },
    ]


def synthetic_probes() -> dict[str, list[dict[str, Any]]]:
    return {
        "abstention": [
            {"question": "What was the agenda of the kickoff meeting?", "ideal_response": "Not said."}
        ],
        "information_extraction": [
            {"question": "When do I deploy on Render?", "answer": "By March 1.", "source_chat_ids": [0]},
            {"question": "What is the port in the appendix?", "answer": "7781", "source_chat_ids": [5]},
        ],
        "knowledge_update": [
            {
                "question": "How much memory does Redis use?",
                "answer": "200MB",
                "source_chat_ids": {"original_info": [6], "updated_info": [6, 7]},
            },
            {  # no source_chat_ids: the chat_id references are the evidence
                "question": "How many keys are in Redis?",
                "answer": "15,000",
                "conversation_references": ["chat_id: 6", "Session 2 (chat_id 7-8)"],
            },
            {"question": "Which host did I pick?", "answer": "Render", "conversation_references": ["Turn 3"]},
        ],
        "instruction_following": [
            {
                "question": "How do I handle errors in async code?",
                "expected_compliance": "Response should include a code example.",
                "source_chat_ids": [[2], [3, 999]],  # nested; 999 names no message
            }
        ],
        "preference_following": [
            {
                "question": "How should I sync events across servers?",
                "expected_compliance": "Recommends Redis pub/sub.",
                "source_chat_ids": [8],
            }
        ],
    }


def write_split(root: Path, folders: tuple[str, ...] = ("2", "10")) -> Path:
    for name in folders:
        folder = root / name
        (folder / "probing_questions").mkdir(parents=True)
        (folder / "chat.json").write_text(json.dumps(synthetic_chat()), encoding="utf-8")
        (folder / "probing_questions" / "probing_questions.json").write_text(
            json.dumps(synthetic_probes()), encoding="utf-8"
        )
    return root


@pytest.fixture
def split(tmp_path: Path) -> Path:
    return write_split(tmp_path / "500K")


# --- the loader ---------------------------------------------------------------------------


def test_conversations_in_numeric_folder_order_with_sessions_per_batch(split: Path) -> None:
    dataset = load_beam(split)
    assert dataset.name == "beam"
    assert [c.id for c in dataset.conversations] == ["2", "10"]
    sessions = dataset.conversations[0].sessions
    assert [s.id for s in sessions] == ["batch_1", "batch_2"]
    assert sessions[0].timestamp == datetime(2024, 1, 5, tzinfo=UTC)
    assert sessions[1].timestamp == datetime(2024, 2, 10, tzinfo=UTC)
    first = sessions[0].messages
    assert [m["id"] for m in first] == ["0", "1", "2", "3", "5"]  # "4" said nothing: skipped
    assert [m["role"] for m in first] == ["user", "assistant", "user", "assistant", "assistant"]
    assert first[1]["timestamp"] == datetime(2024, 1, 5, tzinfo=UTC) + timedelta(seconds=1)


def test_markers_and_generator_comments_are_not_part_of_what_was_said(split: Path) -> None:
    messages = {m["id"]: m for s in load_beam(split).conversations[0].sessions for m in s.messages}
    assert messages["0"]["content"] == "I deploy my chat app on Render by March 1."
    assert messages["6"]["content"] == "My Redis instance now uses 200MB with 15,000 keys."
    assert not any("->->" in m["content"] for m in messages.values())
    assert clean_content("fine ->-> 3,12") == "fine"
    assert clean_content("no marker here") == "no marker here"


def test_a_message_over_the_limit_is_kept_cut_at_a_character_boundary(split: Path) -> None:
    messages = {m["id"]: m for s in load_beam(split).conversations[0].sessions for m in s.messages}
    long = messages["5"]
    size = len(long["content"].encode("utf-8"))
    assert MAX_CONTENT_BYTES - 3 < size <= MAX_CONTENT_BYTES
    assert LONG.startswith(long["content"]) and "7781" not in long["content"]
    assert long["metadata"][CUT_KEY] == len(LONG.encode("utf-8"))
    assert CUT_KEY not in messages["3"]["metadata"]
    assert cut_to_bytes("aé€", 4) == "aé"  # 1 + 2 bytes; the 3-byte € does not fit
    assert cut_to_bytes("short", 100) == "short"


def test_messages_pass_memory_add_validation(split: Path) -> None:
    conversation = load_beam(split).conversations[0]
    for session in conversation.sessions:
        parse_messages(
            session.messages,
            Scope("bench", conversation.id, session_id=session.id),
            now=datetime(2030, 1, 1, tzinfo=UTC),
        )


def test_evidence_from_every_shape_of_source_chat_ids_and_chat_id_references(split: Path) -> None:
    questions = {q.id: q for q in load_beam(split).questions if q.conversation_id == "2"}
    assert list(questions)[:2] == ["2:abstention:0", "2:information_extraction:0"]
    assert questions["2:information_extraction:0"].evidence_ids == ("0",)
    assert questions["2:information_extraction:1"].evidence_ids == ("5",)
    assert questions["2:knowledge_update:0"].evidence_ids == ("6", "7")  # dict, repeats once
    assert questions["2:knowledge_update:0"].evidence_sessions == ("batch_2",)
    assert questions["2:knowledge_update:1"].evidence_ids == ("6", "7", "8")  # references, a range
    assert questions["2:knowledge_update:2"].evidence_ids == ()  # "Turn 3" is no chat_id
    assert questions["2:instruction_following:0"].evidence_ids == ("2", "3")  # nested; 999 dropped
    assert questions["2:instruction_following:0"].evidence_sessions == ("batch_1",)
    abstention = questions["2:abstention:0"]
    assert abstention.abstention and abstention.evidence_ids == () and abstention.category == "abstention"
    assert not any(q.abstention for q in questions.values() if q.category != "abstention")


def test_answers_come_from_the_field_each_ability_uses(split: Path) -> None:
    questions = {q.id: q for q in load_beam(split).questions}
    assert questions["2:abstention:0"].answer == "Not said."
    assert questions["2:information_extraction:0"].answer == "By March 1."
    assert questions["2:preference_following:0"].answer == "Recommends Redis pub/sub."
    assert all(q.question_date is None for q in questions.values())


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["chat_id: 58"], ["58"]),
        (["chat_id 12-15"], ["12", "13", "14", "15"]),
        (["chat_id: 246, 248, 250"], ["246", "248", "250"]),
        (["Session 1 (chat_id 62): deadline", "chat_ids 3 and 5"], ["62", "3", "5"]),
        (["Session 160: never written tests", "Turn 30"], []),
        (["chat_id 15-12", "chat_id 1-100000"], []),  # backwards or absurd ranges are typos
    ],
)
def test_chat_id_references(texts: list[str], expected: list[str]) -> None:
    assert chat_id_references(texts) == expected


def test_source_chat_ids_win_over_references() -> None:
    item = {"source_chat_ids": [394], "conversation_references": ["chat_id: 395"]}
    assert evidence_ids(item) == ["394"]
    assert evidence_ids({"source_chat_ids": [], "conversation_references": "chat_id: 9"}) == ["9"]
    assert evidence_ids({}) == []


def test_parse_anchor() -> None:
    assert parse_anchor("March-15-2024") == datetime(2024, 3, 15, tzinfo=UTC)
    assert parse_anchor("15/03/2024") is None
    assert parse_anchor(None) is None


def test_one_conversation_folder_and_the_checksum(split: Path) -> None:
    one = load_beam(split / "10")
    assert [c.id for c in one.conversations] == ["10"] and len(one.questions) == 8
    before = load_beam(split).sha256
    assert load_beam(split).sha256 == before
    (split / "2" / "chat.json").write_text(json.dumps(synthetic_chat()[:1]), encoding="utf-8")
    assert load_beam(split).sha256 != before


def test_bad_input_gets_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a folder"):
        load_beam(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="holds no BEAM conversation"):
        load_beam(tmp_path / "empty")
    root = write_split(tmp_path / "bad", ("1",))
    (root / "1" / "chat.json").write_text("[", encoding="utf-8")
    with pytest.raises(ValidationError, match="not valid JSON"):
        load_beam(root)
    (root / "1" / "chat.json").write_text(
        json.dumps([{"turns": [[{"role": "system", "id": 1, "content": "x"}]]}])
    )
    with pytest.raises(ValidationError, match="role must be"):
        load_beam(root)
    twice = [{"turns": [[_msg("user", 1, "a"), _msg("assistant", "1", "b")]]}]
    (root / "1" / "chat.json").write_text(json.dumps(twice))
    with pytest.raises(ValidationError, match="appears twice"):
        load_beam(root)


# --- engram bench beam --------------------------------------------------------------------


def _bench(*args: str | Path) -> Any:
    return CliRunner().invoke(bench, [str(a) for a in args], catch_exceptions=False)


def test_bench_beam_end_to_end(split: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _bench(
        "beam",
        "--data",
        split,
        "--out",
        out,
        "--embedder",
        "hashing",
        "--quiet",
        "--k",
        "1,5",
        "--budgets",
        "100,400",
    )
    assert result.exit_code == 0, result.output
    assert "2 messages cut to the limit: evidence in their tail cannot be found" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["benchmark"] == "beam"
    assert summary["run"]["data"]["messages_cut"] == 2
    assert set(summary["systems"]) == {"engram", "bm25", "dense"}
    engram = summary["systems"]["engram"]
    assert set(engram["by_category"]) == {
        "information_extraction",
        "knowledge_update",
        "instruction_following",
        "preference_following",
    }
    assert engram["abstention"] == {"questions": 2}
    overall = engram["overall"]
    assert overall["questions"] == 14 and overall["with_gold"] == 12  # abstention apart
    for name in (
        "recall_all@5",
        "ndcg_any@1",
        "budget_recall@400",
        "context_tokens@400",
        "search_p50_ms",
        "ingest_turns_per_s",
        "llm_calls_per_turn",
    ):
        assert name in overall, name
    assert "engram/bm25" in summary["ratios"] and "engram/dense" in summary["ratios"]
    # the deploy question is found by every system: the pipeline maps ids back to BEAM's
    records = [json.loads(line) for line in (out / "questions.jsonl").read_text().splitlines()]
    deploy = [r for r in records if r["question_id"] == "2:information_extraction:0"]
    assert len(deploy) == 3 and all(r["turn"]["recall_any@5"] == 1.0 for r in deploy)
    report = (out / "report.md").read_text()
    assert report.startswith("# BEAM: engram, bm25, dense")
    assert "## By ability" in report and "| knowledge_update | 6 | 4 |" in report
    assert "abstention (2 questions" in report
    assert "2 message(s) cut to the limit" in report
    assert (out / "by_category_recall_all_at_5.png").exists()


def test_bench_beam_wants_a_folder_and_no_reader(split: Path, tmp_path: Path) -> None:
    result = _bench("beam", "--data", split / "2" / "chat.json", "--out", tmp_path / "o", "--quiet")
    assert result.exit_code != 0 and "is a file" in result.output
    with pytest.raises(ValidationError, match="not available for BEAM"):
        _bench(
            "beam",
            "--data",
            split,
            "--out",
            tmp_path / "o",
            "--quiet",
            "--embedder",
            "hashing",
            "--reader-url",
            "http://127.0.0.1:9",
            "--reader-model",
            "m",
        )


# --- the real 500K split ------------------------------------------------------------------


def test_real_beam_500k() -> None:
    dataset = load_beam(shared_data("beam/500K"))
    messages = [m for c in dataset.conversations for s in c.sessions for m in s.messages]
    assert len(dataset.conversations) == 35 and len(dataset.questions) == 700
    assert len(messages) == 38_058
    assert sum(q.abstention for q in dataset.questions) == 70
    assert len({q.category for q in dataset.questions}) == 10
    assert [q.id for q in dataset.questions if not q.abstention and not q.evidence_ids] == [
        "1:knowledge_update:0"
    ]
    assert sum(CUT_KEY in m["metadata"] for m in messages) == 0  # the longest fits in 1 MiB now
    assert max(len(m["content"].encode()) for m in messages) > 200_000
    assert all(
        len(m["content"].encode()) <= MAX_CONTENT_BYTES and "->->" not in m["content"] for m in messages
    )
    assert all(s.timestamp is not None for c in dataset.conversations for s in c.sessions)
    ids = {c.id: {m["id"] for s in c.sessions for m in s.messages} for c in dataset.conversations}
    assert all(set(q.evidence_ids) <= ids[q.conversation_id] for q in dataset.questions)


@pytest.mark.slow
def test_real_beam_conversation_with_a_message_over_the_limit_runs(tmp_path: Path) -> None:
    """Conversation 9 holds a 107,193-byte message: the run keeps it whole (a chunked turn)."""
    out = tmp_path / "out"
    result = _bench(
        "beam",
        "--data",
        shared_data("beam/500K") / "9",
        "--out",
        out,
        "--embedder",
        "hashing",
        "--quiet",
        "--systems",
        "engram,bm25",
        "--limit",
        "4",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["data"]["messages_cut"] == 0
    assert summary["systems"]["engram"]["overall"]["questions"] > 0
