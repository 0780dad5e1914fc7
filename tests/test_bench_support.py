"""Support pieces of the benchmark harness: the disk vector cache, progress, prompts, provenance."""

from __future__ import annotations

import io

import numpy as np
import pytest

from engram import HashingEmbedder
from engram.bench.embcache import DiskCachedEmbedder
from engram.bench.progress import Progress, format_duration
from engram.bench.prompts import LOCOMO_JUDGE, LOCOMO_READER, LONGMEMEVAL_JUDGE, LONGMEMEVAL_READER, fill
from engram.bench.results import code_version, machine, peak_rss_bytes


def test_disk_cache_survives_a_restart(tmp_path):
    texts = ["alpha beta", "gamma delta", "alpha beta"]
    first = DiskCachedEmbedder(HashingEmbedder(), tmp_path, shard_size=1)
    vectors = first.embed(texts)
    assert first.misses == 2  # the repeated text is embedded once
    first.flush()
    inner = HashingEmbedder()
    second = DiskCachedEmbedder(inner, tmp_path)
    assert second.loaded == 2
    again = second.embed(["gamma delta", "alpha beta", "new text"])
    assert inner.texts_embedded == 1  # only the new text
    np.testing.assert_allclose(again[:2], vectors[[1, 0]])
    (tmp_path / "hashing-256-256" / "broken.npz").write_bytes(b"not a zip")
    assert DiskCachedEmbedder(HashingEmbedder(), tmp_path).loaded == 2  # a damaged shard is skipped
    other_model = DiskCachedEmbedder(HashingEmbedder(dim=64), tmp_path)
    assert other_model.loaded == 0


def test_progress_lines_with_eta_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(4, "locomo", stream=stream, log_every=0.0)
    for _ in range(4):
        progress.advance()
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[-1].startswith("locomo [########################] 4/4")
    assert "ETA" in lines[0]
    quiet = io.StringIO()
    Progress(2, "x", stream=quiet, enabled=False).advance(2)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize(("seconds", "text"), [(5, "5s"), (65, "1m05s"), (3725, "1h02m"), (-3, "0s")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_prompts_have_their_official_slots():
    assert LONGMEMEVAL_READER.count("{}") == 3
    assert set(LONGMEMEVAL_JUDGE) == {
        "single-session-user",
        "single-session-assistant",
        "multi-session",
        "temporal-reasoning",
        "knowledge-update",
        "single-session-preference",
        "abstention",
    }
    assert all(template.count("{}") == 3 for template in LONGMEMEVAL_JUDGE.values())
    assert "off-by-one" in LONGMEMEVAL_JUDGE["temporal-reasoning"]
    assert "Rubric: {}" in LONGMEMEVAL_JUDGE["single-session-preference"]
    filled = fill(LOCOMO_READER, memories="[M1] {question} {x}", question="Q?")
    assert "[M1] {question} {x}" in filled and "Question: Q?" in filled
    assert "’CORRECT’ or ’WRONG’" in LOCOMO_JUDGE  # the official curly quotes
    assert "{" not in fill(LOCOMO_JUDGE, question="q", gold_answer="g", generated_answer="a")


def test_provenance():
    assert code_version()["engram"]
    info = machine()
    assert info["cpus"] >= 1 and info["python"]
    assert (peak_rss_bytes() or 1) > 0
