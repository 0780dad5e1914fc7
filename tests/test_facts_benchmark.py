"""benchmarks/facts.py and benchmarks/fact_precision.py: LoCoMo recall, the precision pools of
LoCoMo, LongMemEval and BEAM, the seeded sample, the labels file and the report per source.

Small hand-made files stand in for the data; the tests on the real files of ../shared/data skip
with the reason when the folder is absent.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .conftest import SHARED_DATA, shared_data

REPO = Path(__file__).resolve().parents[1]


def _bench() -> Any:
    """benchmarks/facts.py as a module (benchmarks/ is not a package)."""
    if "bench_facts" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_facts", REPO / "benchmarks" / "facts.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_facts"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["bench_facts"]


def _lme_item(question: str, sessions: list[tuple[str, list[dict[str, str]]]]) -> dict[str, Any]:
    return {
        "question_id": question,
        "question_type": "single-session-user",
        "question": "q?",
        "answer": "a",
        "question_date": "2023/06/01 (Thu) 10:00",
        "haystack_session_ids": [sid for sid, _ in sessions],
        "haystack_dates": ["2023/05/30 (Tue) 23:40"] * len(sessions),
        "haystack_sessions": [turns for _, turns in sessions],
        "answer_session_ids": [],
    }


# -- the labels file ---------------------------------------------------------------------------


def test_labels_file_follows_the_rule() -> None:
    bench = _bench()
    lines = [
        json.loads(line) for line in bench.LABELS.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    keys = [bench.label_key(r["turn"], r["attribute"], r["value"]) for r in lines]
    assert len(keys) == len(set(keys)), "one label per (turn, attribute, value)"
    assert all(r["label"] in bench.VERDICTS for r in lines)
    assert all(r["reason"] for r in lines if r["label"] == "wrong")
    assert len(bench.read_labels(bench.LABELS)) == len(lines)


def test_labels_cover_at_least_250_facts_across_the_sources() -> None:
    bench = _bench()
    labels = bench.read_labels(bench.LABELS).values()
    by_source = Counter(
        r["turn"].split("/")[0] if r["turn"].startswith(("lme/", "beam/")) else "locomo" for r in labels
    )
    assert sum(by_source.values()) >= 250
    assert by_source["locomo"] >= 90 and by_source["lme"] >= 160, by_source


def test_a_wrong_label_without_a_reason_is_refused(tmp_path: Path) -> None:
    bench = _bench()
    path = tmp_path / "labels.jsonl"
    line = {"turn": "lme/s1/0", "attribute": "plan", "value": "x", "label": "wrong", "reason": ""}
    path.write_text(json.dumps(line) + "\n" + json.dumps({**line, "value": "y", "label": ""}) + "\n")
    with pytest.raises(SystemExit, match="needs a reason"):
        bench.read_labels(path)


# -- sampling and precision --------------------------------------------------------------------


def test_precision_sample_keeps_its_items_as_facts_come_and_go() -> None:
    bench = _bench()
    make = lambda n: bench.Item("c", f"D1:{n}", "A", "text", "A", "lives_in", f"City{n}", "s")  # noqa: E731
    old = [make(n) for n in range(40)]
    new = old[::2] + [make(n) for n in range(100, 160)]
    before = {i.key for i in bench.sample(old, 10, seed=10)}
    after = {i.key for i in bench.sample(new, 10, seed=10)}
    kept = {i.key for i in old[::2]}
    assert after & kept <= before  # an old fact enters the sample only if it was in it already
    assert bench.sample(old, 10, seed=10) == bench.sample(list(reversed(old)), 10, seed=10)


def test_wilson_interval() -> None:
    from benchmarks.fact_precision import wilson

    assert wilson(50, 100) == [0.4038, 0.5962]
    assert wilson(0, 0) is None
    low, high = wilson(20, 20) or [0, 0]
    assert high == 1.0 and 0.83 < low < 0.84  # never the 100%-100% of the normal approximation


def test_precision_is_reported_per_source_and_pooled(tmp_path: Path) -> None:
    from benchmarks.fact_precision import Item, Pool, precision

    def item(source: str, turn: str, value: str) -> Item:
        conversation, dia_id = turn.rsplit("/", 1)
        return Item(conversation, dia_id, "user", "t", "user", "plan", value, f"plans {value}", source)

    pools = {
        "locomo": Pool(
            "locomo", [item("locomo", "conv-1/D1:1", "a"), item("locomo", "conv-1/D1:2", "b")], 10, 0.1
        ),
        "longmemeval": Pool(
            "longmemeval", [item("longmemeval", f"lme/s{n}/0", f"v{n}") for n in range(5)], 20, 0.2
        ),
    }
    labels = {
        "conv-1/D1:1|plan|a": {"label": "correct"},
        "conv-1/D1:2|plan|b": {"label": "wrong", "reason": "vague value: b"},
        **{f"lme/s{n}/0|plan|v{n}": {"label": "correct"} for n in range(3)},
        "lme/s3/0|plan|v3": {"label": "unsure", "reason": "?"},
    }
    report, chosen = precision(pools, {"locomo": 5, "longmemeval": 5}, labels, seed=10)
    locomo, lme = report["by_source"]["locomo"], report["by_source"]["longmemeval"]
    assert (locomo["correct"], locomo["wrong"], locomo["precision"]) == (1, 1, 0.5)
    assert locomo["wrong_kinds"] == {"vague value": 1}
    assert (lme["correct"], lme["wrong"], lme["unsure"], lme["unlabelled"]) == (3, 0, 1, 1)
    assert lme["precision"] == 1.0 and lme["turns"] == 20 and lme["facts"] == 5
    pooled = report["pooled"]
    assert (pooled["sample"], pooled["correct"], pooled["wrong"], pooled["precision"]) == (7, 4, 1, 0.8)
    assert pooled["wilson95"][0] < 0.8 < pooled["wilson95"][1]
    assert report["wrong_facts"] == [
        {"turn": "conv-1/D1:2", "statement": "plans b", "reason": "vague value: b"}
    ]
    assert len(chosen) == 7


def test_sample_option_takes_one_size_or_sizes_per_source() -> None:
    bench = _bench()
    assert bench._sizes("40") == {"locomo": 40, "longmemeval": 40, "beam": 40}
    assert bench._sizes("longmemeval=10") == {**bench.DEFAULT_SAMPLE, "longmemeval": 10}
    with pytest.raises(Exception, match="source=N"):
        bench._sizes("lme=10")
    assert bench._sources("locomo,beam") == ["locomo", "beam"]
    with pytest.raises(Exception, match="unknown source"):
        bench._sources("locomo,squad")


def test_data_paths_from_the_folder_or_from_locomo10(tmp_path: Path) -> None:
    bench = _bench()
    folder = bench.data_paths(tmp_path)
    assert folder["longmemeval"] == tmp_path / "longmemeval_s_dev.json.gz"
    assert folder["beam"] == tmp_path / "beam" / "500K"
    named = bench.data_paths(tmp_path / "my-locomo.json")
    assert named["locomo"] == tmp_path / "my-locomo.json" and named["beam"] == folder["beam"]


def test_a_requested_source_without_data_is_an_error(tmp_path: Path) -> None:
    bench = _bench()
    with pytest.raises(SystemExit, match="no data for: beam"):
        bench.run_precision(
            bench.data_paths(tmp_path), ["beam"], sizes=bench.DEFAULT_SAMPLE, seed=10,
            labels_path=tmp_path / "none.jsonl", locomo_pool=None,
        )  # fmt: skip


# -- the pools ---------------------------------------------------------------------------------


def test_longmemeval_pool_reads_user_turns_each_session_once(tmp_path: Path) -> None:
    from benchmarks.fact_precision import user_pool

    shared = [
        {"role": "user", "content": "I'm planning a trip to Japan in March."},
        {"role": "assistant", "content": "I'm planning a trip to Peru, and I love sushi."},
        {"role": "user", "content": "   "},
        {"role": "user", "content": "My sister Anna is visiting. I love hiking."},
    ]
    other = [{"role": "user", "content": "What is the capital of France?"}]
    raw = [_lme_item("q1", [("s1", shared), ("s2", other)]), _lme_item("q2", [("s1", shared)])]
    path = tmp_path / "lme.json.gz"
    path.write_bytes(gzip.compress(json.dumps(raw).encode()))
    pool = user_pool("longmemeval", path)
    assert pool.turns == 3  # s1's two non-empty user turns once, s2's one
    keys = sorted(i.key for i in pool.items)
    assert keys == [
        "lme/s1/0|plan|trip to japan",
        "lme/s1/3|family:sister|anna",
        "lme/s1/3|preference:hiking|loves",
    ]
    assert all(i.source == "longmemeval" and i.subject == "user" for i in pool.items)
    assert {i.evidence for i in pool.items if i.dia_id == "3"} == {
        "My sister Anna is visiting.",
        "I love hiking.",
    }


def test_beam_pool_strips_the_generator_marker_and_reads_user_messages(tmp_path: Path) -> None:
    from benchmarks.fact_precision import template, user_pool

    chat = [
        {"batch_number": 1, "turns": [[
            {"role": "user", "id": 0, "time_anchor": "March-15-2024", "content": "I love hiking. ->-> 1,1"},
            {"role": "assistant", "id": 1, "content": "I love chess. ->-> 1,1"},
        ]]},
        {"batch_number": 2, "turns": [[
            {"role": "user", "id": 2, "content": "I'm planning to visit Oslo ->-> 2,N/A"},
        ]]},
    ]  # fmt: skip
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "chat.json").write_text(json.dumps(chat), encoding="utf-8")
    pool = user_pool("beam", tmp_path)
    assert pool.turns == 2
    assert sorted(i.key for i in pool.items) == [
        "beam/7/0|preference:hiking|loves",
        "beam/7/2|plan|visit oslo",
    ]
    assert all("->->" not in i.text for i in pool.items)
    line = template(next(i for i in pool.items if i.dia_id == "2"))
    assert line["turn"] == "beam/7/2" and line["evidence"] == "I'm planning to visit Oslo"
    assert line["label"] == "" and line["reason"] == ""


def test_a_long_turn_is_cut_in_the_labels_template() -> None:
    from benchmarks.fact_precision import Item, template

    item = Item("lme/s1", "0", "user", "x" * 5000, "user", "plan", "v", "plans v", "longmemeval", "I plan v.")
    assert len(template(item)["text"]) < 2100


# -- LoCoMo recall -----------------------------------------------------------------------------


def test_locomo_recall_counts_fact_stating_turns(tmp_path: Path) -> None:
    bench = _bench()
    turns = [
        {"speaker": "Alice", "dia_id": "D1:1", "text": "I live in Boston."},
        {"speaker": "Bob", "dia_id": "D1:2", "text": "Nice weather today."},
        {"speaker": "Bob", "dia_id": "D1:3", "text": "Alice told me about it."},
    ]
    sample = {
        "sample_id": "conv-x",
        "qa": [],
        "conversation": {"speaker_a": "Alice", "speaker_b": "Bob", "session_1": turns,
                         "session_1_date_time": "1:56 pm on 8 May, 2023"},
        "observation": {"session_1_observation": {
            "Alice": [["Alice lives in Boston.", "D1:1"], ["Alice has a plan.", "D1:3"]],
            "Bob": [["Bob likes sunny weather.", "D1:2"]],
        }},
    }  # fmt: skip
    path = tmp_path / "mini.json"
    path.write_text(json.dumps([sample]), encoding="utf-8")
    report, pool = bench.locomo(path, limit=None)
    assert report["evidence_turns"] == 3
    assert report["recall_any"] == round(1 / 3, 4)
    assert report["self_evidence_turns"] == 2  # D1:3 is Bob's turn, the observation is about Alice
    assert report["recall_self"] == 0.5
    assert [i.key for i in pool.items] == ["conv-x/D1:1|lives_in|boston"]
    assert pool.source == "locomo" and pool.turns == 3


def test_main_reports_precision_for_the_sources_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _bench()
    raw = [_lme_item("q1", [("s1", [{"role": "user", "content": "I'm planning a trip to Japan."}])])]
    (tmp_path / "longmemeval_s_dev.json.gz").write_bytes(gzip.compress(json.dumps(raw).encode()))
    labels = tmp_path / "labels.jsonl"
    args = ["--data", str(tmp_path), "--labels", str(labels), "--no-scenarios"]
    with pytest.raises(SystemExit, match="no data for: locomo"):
        bench.main([*args, "--precision-data", "locomo"])
    assert bench.main([*args, "--label-new"]) == 0  # default sources: only those found
    line = json.loads(capsys.readouterr().out)
    assert (line["turn"], line["value"], line["label"]) == ("lme/s1/0", "trip to Japan", "")
    labels.write_text(json.dumps({**line, "label": "correct"}) + "\n", encoding="utf-8")
    out = tmp_path / "report.json"
    assert bench.main([*args, "--precision-data", "longmemeval", "--out", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert "locomo" not in report and "scenarios" not in report
    assert report["precision"]["by_source"]["longmemeval"]["correct"] == 1
    assert report["precision"]["pooled"]["precision"] == 1.0
    assert "longmemeval" in capsys.readouterr().out


# -- the real files ----------------------------------------------------------------------------


def test_real_longmemeval_pool_and_its_labels() -> None:
    from benchmarks.fact_precision import read_labels, user_pool

    pool = user_pool("longmemeval", shared_data("longmemeval_s_dev.json.gz"))
    assert pool.turns > 10_000 and len(pool.items) > 200
    assert all(i.turn.startswith("lme/") and i.speaker == "user" for i in pool.items)
    labelled = {k for k in read_labels(_bench().LABELS) if k.startswith("lme/")}
    assert labelled & {i.key for i in pool.items}, "the LongMemEval labels name facts of this file"


@pytest.mark.slow
def test_real_beam_pool() -> None:
    from benchmarks.fact_precision import user_pool

    root = SHARED_DATA / "beam" / "500K"
    if not root.exists():
        pytest.skip(f"{root} not found: the tests that use ../shared/data need it")
    pool = user_pool("beam", root)
    assert pool.turns > 15_000
    assert not any("->->" in i.evidence for i in pool.items)
