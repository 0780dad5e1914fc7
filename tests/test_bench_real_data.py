"""The harness on the real benchmark files of ../shared/data (skipped when they are absent).

A few questions each, with the hashing embedder, so the test stays fast; the full runs with
the default model are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from engram.bench.cli import bench

from .conftest import shared_data


def run(benchmark: str, data, out, *args: str) -> dict:
    result = CliRunner().invoke(
        bench,
        [benchmark, "--data", str(data), "--out", str(out), "--embedder", "hashing", "--quiet", *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads((out / "summary.json").read_text())


def test_locomo_file(tmp_path):
    summary = run("locomo", shared_data("locomo10.json"), tmp_path / "out", "--limit", "25")
    assert summary["run"]["data"]["sha256"].startswith("79fa87e9")
    assert summary["run"]["data"]["questions_in_file"] == 1986
    overall = summary["systems"]["engram"]["overall"]
    assert overall["questions"] > 0 and 0.0 <= overall["recall_all@10"] <= 1.0
    assert overall["haystack_tokens_mean"] > 10_000


def test_longmemeval_dev_file(tmp_path):
    summary = run(
        "longmemeval",
        shared_data("longmemeval_s_dev.json.gz"),
        tmp_path / "out",
        "--limit",
        "2",
        "--systems",
        "engram,bm25",
    )
    assert summary["run"]["data"]["questions_in_file"] == 52
    engram = summary["systems"]["engram"]
    assert engram["overall"]["haystack_tokens_mean"] > 50_000
    assert "turn_recall_all@5" in engram["overall"]
