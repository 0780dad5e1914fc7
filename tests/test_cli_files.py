"""The ``engram`` CLI's files and stores: export and import (JSONL, LoCoMo, LongMemEval), reads
that never create a store, settings that reach every command, and imports that validate
everything first or say what was stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engram.cli import cli
from engram.store.sqlite import SQLiteStore
from tests.cli_support import HASHING, SHARED_DATA, Engram, one_line_error, seed
from tests.cli_support import engram as engram  # the fixture

# -- export / import ---------------------------------------------------------------------------


def record_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()[1:]


def turn_lines(path: Path) -> list[str]:
    return [line for line in record_lines(path) if json.loads(line)["type"] == "turn"]


def test_export_import_round_trip(engram: Engram, tmp_path: Path) -> None:
    seed(engram)
    first, second = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    result = engram("export", str(first))
    assert result.exit_code == 0 and "exported 3 turn(s)" in result.stderr
    copy = tmp_path / "copy.db"
    summary = engram.json("import", "jsonl", str(first), db=copy)
    assert summary["added"] == 3 and summary["users"] == ["alice"]  # type: ignore[index]
    assert engram("export", str(second), db=copy).exit_code == 0
    assert record_lines(first) == record_lines(second) and len(turn_lines(first)) == 3
    assert len(record_lines(first)) > 3  # the facts come along (seed states a home, a job, a move)
    piped = engram.json("import", "jsonl", "-", db=tmp_path / "piped.db", input=first.read_text())
    assert piped["added"] == 3  # type: ignore[index]
    again = engram("import", "jsonl", str(first), db=copy)
    assert again.exit_code == 0 and "0 added, 3 duplicate(s)" in again.stdout
    stdout = engram("export", "-", "--user", "alice", "--no-vectors")
    lines = stdout.stdout.splitlines()
    assert json.loads(lines[0])["format"] == "engram-jsonl"
    turns = [json.loads(line) for line in lines[1:] if json.loads(line)["type"] == "turn"]
    assert len(turns) == 3 and all(turn["embedding"] is None for turn in turns)
    assert engram.json("export", str(tmp_path / "x.jsonl"))["turns"] == 3  # type: ignore[index]


def test_import_jsonl_rejects_bad_files(engram: Engram, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "something-else"}\n')
    one_line_error(engram("import", "jsonl", str(bad)), 2, "not an engram-jsonl file")
    one_line_error(engram("import", "jsonl", str(bad), "--user", "x"), 2, "do not apply")
    assert not engram.db.exists()  # a refused file does not even create a store
    header = json.dumps({"format": "engram-jsonl", "version": 1, "tenant": "default"})
    bad.write_text(f"{header}\n{{\"id\": 3}}\n")
    one_line_error(engram("import", "jsonl", str(bad)), 2, "line 2")
    assert not engram.db.exists()


def locomo_sample(sample_id: str, speakers: tuple[str, str]) -> dict[str, object]:
    a, b = speakers
    return {
        "sample_id": sample_id,
        "conversation": {
            "speaker_a": a,
            "speaker_b": b,
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": a, "dia_id": "D1:1", "text": f"Hi {b}, I started pottery classes."},
                {"speaker": b, "dia_id": "D1:2", "text": "That sounds relaxing!"},
            ],
            "session_2_date_time": "10:00 am on 20 May, 2023",
            "session_2": [
                {
                    "speaker": a,
                    "dia_id": "D2:1",
                    "text": "I made a blue vase.",
                    "blip_caption": "a blue vase",
                },
            ],
            "session_3_date_time": "10:00 am on 1 June, 2023",  # a date without a session
        },
        "qa": [
            {"question": f"What did {a} make?", "answer": "a blue vase", "evidence": ["D2:1"], "category": 4}
        ],
    }


def test_import_locomo_synthetic(engram: Engram, tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(
        json.dumps([locomo_sample("conv-a", ("Ann", "Bo")), locomo_sample("conv-b", ("Cy", "Di"))])
    )
    out = engram.json("import", "locomo", str(path))
    assert out["conversations"] == 2 and out["sessions"] == 4 and out["added"] == 6  # type: ignore[index]
    assert out["users"] == ["conv-a", "conv-b"] and len(out["sha256"]) == 64  # type: ignore[index]
    hits = engram.json("search", "vase", "--user", "conv-b")["hits"]  # type: ignore[index]
    assert hits[0]["turn"]["name"] == "Cy" and hits[0]["turn"]["session_id"] == "session_2"
    assert hits[0]["turn"]["timestamp"].startswith("2023-05-20T10:00")
    again = engram("import", "locomo", str(path))
    assert again.exit_code == 0 and "0 added, 6 duplicate(s)" in again.stdout and "turns/s" in again.stdout
    one = engram.json("import", "locomo", str(path), "--conversation", "conv-b", "--user", "alice")
    assert one["users"] == ["alice"] and one["added"] == 3  # type: ignore[index]
    one_line_error(engram("import", "locomo", str(path), "--user", "alice"), 2, "--conversation")
    one_line_error(engram("import", "locomo", str(path), "--conversation", "conv-z"), 2, "conv-z", "conv-a")
    assert engram.json("import", "locomo", str(path), "--limit", "1")["users"] == ["conv-a"]  # type: ignore[index]
    not_locomo = tmp_path / "x.json"
    not_locomo.write_text("{}")
    one_line_error(engram("import", "locomo", str(not_locomo)), 2, "LoCoMo")


def test_import_longmemeval_synthetic(engram: Engram, tmp_path: Path) -> None:
    def item(question_id: str) -> dict[str, object]:
        return {
            "question_id": question_id,
            "question_type": "single-session-user",
            "question": "What breed is my dog?",
            "answer": "greyhound",
            "question_date": "2023/06/01 (Thu) 10:00",
            "answer_session_ids": ["a1"],
            "haystack_session_ids": ["a1", "b2"],
            "haystack_dates": ["2023/05/01 (Mon) 09:00", "2023/05/02 (Tue) 09:00"],
            "haystack_sessions": [
                [
                    {"role": "user", "content": "I adopted a greyhound", "has_answer": True},
                    {"role": "assistant", "content": "Lovely!"},
                ],
                [{"role": "user", "content": "Any soup recipes?"}],
            ],
        }

    path = tmp_path / "lme.json"
    path.write_text(json.dumps([item("q1"), item("q2"), item("q3")]))
    out = engram.json("import", "longmemeval", str(path), "--limit", "2")
    assert out["users"] == ["q1", "q2"] and out["turns"] == 6 and out["sessions"] == 4  # type: ignore[index]
    hit = engram.json("search", "dog breed greyhound", "--user", "q2")["hits"][0]  # type: ignore[index]
    assert hit["turn"]["content"] == "I adopted a greyhound" and hit["turn"]["user_id"] == "q2"


def test_import_real_locomo_conversation(engram: Engram) -> None:
    path = SHARED_DATA / "locomo10.json"
    if not path.exists():
        pytest.skip(f"{path} not found: this test imports one conversation of the LoCoMo data")
    out = engram.json("import", "locomo", str(path), "--conversation", "conv-26")
    assert out["users"] == ["conv-26"] and out["sessions"] == 19 and out["added"] > 400  # type: ignore[index]
    hits = engram.json("search", "LGBTQ support group", "--user", "conv-26", "--k", "3")["hits"]  # type: ignore[index]
    assert any("support group" in hit["turn"]["content"] for hit in hits)


# -- reads never create a store; settings reach every command ---------------------------------

READS = [
    ["stats"],
    ["search", "q", "--user", "u"],
    ["context", "q", "--user", "u"],
    ["get", "t_1", "--user", "u"],
    ["list", "--user", "u"],
    ["export", "-"],
    ["delete", "t_1", "--user", "u", "--yes"],
    ["facts", "--user", "u"],
    ["profile", "--user", "u"],
    ["episodes", "--user", "u"],
    ["consolidate", "--user", "u"],
    ["forget", "--user", "u", "--yes"],
    ["pin", "t_1", "--user", "u"],
    ["keys", "list"],
    ["keys", "revoke", "k_1"],
]


@pytest.mark.parametrize("args", READS, ids=lambda args: " ".join(args[:2]))
def test_a_mistyped_db_is_refused_and_nothing_is_created(engram: Engram, tmp_path: Path, args: list[str]) -> None:
    typo = tmp_path / "typo" / "x.db"
    line = one_line_error(engram(*args, db=typo), 4, f"no Engram store at {typo}", "--db", "engram add")
    assert line.startswith("error: ")
    assert not (tmp_path / "typo").exists()


def test_the_environment_db_is_checked_the_same_way(tmp_path: Path) -> None:
    typo = tmp_path / "typo" / "x.db"
    result = CliRunner().invoke(cli, ["stats"], env={**HASHING, "ENGRAM_DB": str(typo)})
    one_line_error(result, 4, "no Engram store at", "$ENGRAM_DB")
    assert not (tmp_path / "typo").exists()


def test_writes_create_the_store(engram: Engram, tmp_path: Path) -> None:
    fresh = tmp_path / "new" / "folder" / "x.db"
    assert engram("add", "--user", "u", "--session", "s", "hello", db=fresh).exit_code == 0
    assert fresh.exists() and engram("stats", db=fresh).exit_code == 0


def test_consolidate_uses_the_llm_of_the_settings(engram: Engram) -> None:
    from engram.testing import ScriptedOpenAIServer

    engram("add", "--user", "u", "--session", "s", "I adopted a greyhound called Bolt")
    with ScriptedOpenAIServer(chat=lambda _request: '{"facts": []}') as server:
        report = engram.json(
            "consolidate", "--user", "u", ENGRAM_LLM_BASE_URL=server.base_url, ENGRAM_LLM_MODEL="scripted"
        )
        assert len(server.chat_requests) >= 1 and server.chat_requests[0]["model"] == "scripted"
    assert report["llm_calls"] >= 1 and report["episodes_extracted"] >= 1  # type: ignore[index]


def test_a_settings_file_reaches_the_cli(engram: Engram, tmp_path: Path) -> None:
    config = tmp_path / "engram.toml"
    config.write_text(f'db = "{tmp_path / "from-file.db"}"\ntenant = "acme"\n', encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--config", str(config), "add", "--user", "u", "--session", "s", "hi"], env=HASHING
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-file.db").exists()
    stats = CliRunner().invoke(cli, ["--json", "--tenant", "acme", "stats"], env={**HASHING, "ENGRAM_CONFIG": str(config)})
    assert json.loads(stats.stdout)["turns"] == 1
    other = CliRunner().invoke(cli, ["--json", "--tenant", "other", "stats"], env={**HASHING, "ENGRAM_CONFIG": str(config)})
    assert json.loads(other.stdout)["turns"] == 0  # --tenant beats the file


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        ("StoreBusyError", "retry"),
        ("StoreReadOnlyError", "check the permissions"),
        ("StoreFullError", "free disk space"),
        ("StoreNotFoundError", "check --db / $ENGRAM_DB"),
    ],
)
def test_store_errors_exit_4_with_a_next_step(
    engram: Engram, monkeypatch: pytest.MonkeyPatch, error: str, advice: str
) -> None:
    import engram.errors as errors

    engram("add", "--user", "u", "--session", "s", "hello")

    def fail(*_args: object, **_kwargs: object) -> None:
        raise getattr(errors, error)("the store said no")

    monkeypatch.setattr(SQLiteStore, "stats", fail)
    one_line_error(engram("stats"), 4, "error: the store said no", advice)


# -- import: validate everything first, or say what was stored -----------------------------------


def test_import_with_a_bad_second_conversation_writes_nothing(engram: Engram, tmp_path: Path) -> None:
    bad = locomo_sample("conv-b", ("Cy", "Di"))
    bad["conversation"]["session_2"][0]["speaker"] = "Cy\u0007"  # type: ignore[index]  # a control character
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([locomo_sample("conv-a", ("Ann", "Bo")), bad]))
    line = one_line_error(engram("import", "locomo", str(path)), 2, "conversation 2 of 2", "'conv-b'")
    assert "session 'session_2'" in line and "'D2:1'" in line and "name" in line and "Nothing was imported" in line
    assert not engram.db.exists()  # not even an empty store
    engram("add", "--user", "u", "--session", "s", "hello")
    one_line_error(engram("import", "locomo", str(path)), 2, "conversation 2 of 2")
    assert engram.json("stats", "--user", "conv-a")["turns"] == 0  # type: ignore[index]


def test_an_import_that_fails_while_writing_says_what_was_stored(
    engram: Engram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engram import Memory
    from engram.errors import StoreFullError

    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([locomo_sample("conv-a", ("Ann", "Bo")), locomo_sample("conv-b", ("Cy", "Di"))]))
    original, calls = Memory._add_many, []

    def add_then_fill_the_disk(self: Memory, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise StoreFullError("database or disk is full")
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("engram.cli.importers.IMPORT_BATCH", 3)  # one batch a conversation
    monkeypatch.setattr(Memory, "_add_many", add_then_fill_the_disk)
    line = one_line_error(engram("import", "locomo", str(path)), 4, "disk is full", "free disk space")
    assert "conversation 'conv-b', session 'session_1'" in line and "3 turn(s) were stored" in line
    assert "run the same import again to resume" in line
    monkeypatch.setattr(Memory, "_add_many", original)
    again = engram.json("import", "locomo", str(path))
    assert again["added"] == 3 and again["duplicates"] == 3  # type: ignore[index]
