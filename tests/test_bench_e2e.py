"""A tiny synthetic benchmark end to end through ``engram bench``, and resumption."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engram.bench import runner as runner_module
from engram.bench.cli import bench, parse_ints
from engram.bench.testing import synthetic_locomo, synthetic_longmemeval
from engram.errors import ValidationError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def locomo_file(tmp_path: Path) -> Path:
    path = tmp_path / "locomo_tiny.json"
    path.write_text(json.dumps(synthetic_locomo()), encoding="utf-8")
    return path


@pytest.fixture
def lme_file(tmp_path: Path) -> Path:
    path = tmp_path / "lme_tiny.json.gz"
    path.write_bytes(gzip.compress(json.dumps(synthetic_longmemeval()).encode("utf-8")))
    return path


def invoke(*args: str | Path) -> object:
    result = CliRunner().invoke(bench, [str(a) for a in args], catch_exceptions=False)
    return result


def run_ok(*args: str | Path) -> object:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_locomo_end_to_end(locomo_file: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = run_ok(
        "locomo",
        "--data",
        locomo_file,
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
    assert "recall_all@5" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["systems"]) == {"engram", "bm25", "dense"}
    engram = summary["systems"]["engram"]
    for name in (
        "recall_all@5",
        "recall_any@5",
        "ndcg_any@1",
        "budget_recall@400",
        "search_p50_ms",
        "ingest_turns_per_s",
        "context_p95_ms",
        "llm_calls_per_turn",
        "haystack_tokens_mean",
    ):
        assert name in engram["overall"], name
    assert engram["overall"]["questions"] == 7  # 8 questions, one adversarial
    assert engram["overall"]["with_gold"] == 6  # one question has no evidence
    assert set(engram["by_category"]) == {"1", "2", "3", "4", "5"}
    assert engram["adversarial"]["questions"] == 1
    assert engram["overall"]["recall_all@5"] > 0.5
    assert engram["overall"]["llm_calls_per_turn"] == 0.0
    assert "engram/bm25" in summary["ratios"] and "engram/dense" in summary["ratios"]

    run = summary["run"]
    assert run["data"]["sha256"] == hashlib.sha256(locomo_file.read_bytes()).hexdigest()
    assert run["code"]["engram"]
    assert run["machine"]["cpus"]
    assert run["config"]["embedding_model"] == "hashing-256"
    assert run["command"].startswith("python -m engram.bench.cli") or "locomo" in run["command"]

    records = lines(out / "questions.jsonl")
    assert len(records) == 8 * 3
    assert len(lines(out / "ingest.jsonl")) == 2 * 3
    report = (out / "report.md").read_text()
    assert "| recall_all@5 |" in report and "engram/bm25" in report
    assert run["data"]["sha256"] in report
    assert "4 single-hop" in report and "5 adversarial" in report
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) >= 3
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in pngs)


def test_longmemeval_end_to_end_with_its_traps(lme_file: Path, tmp_path: Path):
    out = tmp_path / "out"
    run_ok("longmemeval", "--data", lme_file, "--out", out, "--embedder", "hashing", "--quiet", "--k", "1,3")
    summary = json.loads((out / "summary.json").read_text())
    engram = summary["systems"]["engram"]
    assert engram["overall"]["questions"] == 4  # the abstention question is skipped
    assert engram["abstention"]["questions"] == 1
    assert engram["strict"]["questions"] == 3  # single-session-assistant has no gold user turn
    assert engram["overall"]["gold_after_reference"] == 1  # knowledge-update answer dated after the question
    assert "recall_all@3" in engram["overall"] and "turn_recall_all@3" in engram["overall"]
    assert engram["by_category"]["single-session-assistant"]["recall_all@1"] == 1.0  # the official rule
    records = {(r["system"], r["question_id"]): r for r in lines(out / "questions.jsonl")}
    for system in ("engram", "bm25", "dense"):
        assert records[(system, "q-ku")]["turn"]["recall_any@3"] == 0.0  # unreachable at its date
        assert records[(system, "q-ssu")]["session"]["recall_all@3"] == 1.0
    report = (out / "report.md").read_text()
    assert "user turns only" in report and "Strict view" in report
    assert "dated after their question" in report


def test_rerun_skips_finished_questions(locomo_file: Path, tmp_path: Path):
    out = tmp_path / "out"
    common = ("locomo", "--data", locomo_file, "--out", out, "--embedder", "hashing", "--quiet")
    run_ok(*common, "--limit", "3")
    assert len(lines(out / "questions.jsonl")) == 3 * 3
    run_ok(*common)
    records = lines(out / "questions.jsonl")
    assert len(records) == 8 * 3
    assert len({(r["system"], r["question_id"]) for r in records}) == len(records)
    assert json.loads((out / "run.json").read_text())["questions_run_now"] == 5
    run_ok(*common)
    assert len(lines(out / "questions.jsonl")) == 8 * 3
    assert json.loads((out / "run.json").read_text())["questions_run_now"] == 0
    run = json.loads((out / "summary.json").read_text())["run"]
    assert run["data"]["questions"] == 8
    assert [h["questions_run"] for h in run["history"]] == [3, 5, 0]
    assert "earlier invocation" in (out / "report.md").read_text()


def test_an_interrupted_run_resumes_where_it_stopped(locomo_file: Path, tmp_path: Path, monkeypatch):
    out, vectors = tmp_path / "out", tmp_path / "vectors"
    common = ("locomo", "--data", locomo_file, "--out", out, "--embedder", "hashing", "--quiet")
    common += ("--embedding-cache", vectors)
    real = runner_module.Runner._question
    calls = {"n": 0}

    def crash_after_four(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 4:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(runner_module.Runner, "_question", crash_after_four)
    result = CliRunner().invoke(bench, [str(a) for a in common])
    assert result.exit_code != 0
    assert len(lines(out / "questions.jsonl")) == 4
    assert list(vectors.rglob("*.npz"))  # the vectors computed so far were kept
    monkeypatch.setattr(runner_module.Runner, "_question", real)
    run_ok(*common)
    records = lines(out / "questions.jsonl")
    assert len(records) == 8 * 3
    assert len({(r["system"], r["question_id"]) for r in records}) == len(records)
    embedder = json.loads((out / "summary.json").read_text())["run"]["embedder"]
    assert embedder["disk_cache_loaded"] > 0 and embedder["disk_cache_hits"] > 0


def test_other_settings_are_refused_unless_fresh(locomo_file: Path, tmp_path: Path):
    out = tmp_path / "out"
    common = ("locomo", "--data", locomo_file, "--out", out, "--embedder", "hashing", "--quiet")
    run_ok(*common, "--limit", "2")
    with pytest.raises(ValidationError, match=r"other settings.*budgets"):
        invoke(*common, "--budgets", "300")
    run_ok(*common, "--budgets", "300", "--fresh", "--limit", "1")
    assert len(lines(out / "questions.jsonl")) == 1 * 3


def test_one_system_and_another_recipe(locomo_file: Path, tmp_path: Path):
    out = tmp_path / "out"
    run_ok(
        "locomo",
        "--data",
        locomo_file,
        "--out",
        out,
        "--embedder",
        "hashing",
        "--quiet",
        "--systems",
        "engram",
        "--config",
        "bm25",
        "--workers",
        "2",
    )
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["systems"]) == ["engram"]
    assert summary["ratios"] == {}
    assert summary["run"]["config"]["recipe"] == "bm25"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--k", "5,x"), "comma-separated"),
        (("--systems", "engram,zep"), "unknown system"),
        (("--limit", "0"), "--limit"),
    ],
)
def test_bad_options_are_named(locomo_file: Path, tmp_path: Path, args, message):
    with pytest.raises(ValidationError, match=message):
        invoke("locomo", "--data", locomo_file, "--out", tmp_path / "o", "--embedder", "hashing", *args)


def test_parse_ints():
    assert parse_ints("20,5,10,5", "--k") == (5, 10, 20)
    with pytest.raises(ValidationError):
        parse_ints("0,5", "--k")


def test_main_maps_errors_to_exit_codes(tmp_path: Path, capsys):
    from engram.bench.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["locomo", "--data", str(bad), "--out", str(tmp_path / "o"), "--embedder", "hashing"]) == 2
    assert "not valid JSON" in capsys.readouterr().err
