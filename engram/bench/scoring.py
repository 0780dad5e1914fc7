"""From rankings to numbers: per-question metric records and their aggregation. Pure: no I/O.

A question record holds everything measured for one (system, question) pair; aggregation
turns a list of records into the tables of ``summary.json``. The rules follow the official
scoring of each benchmark:

* LongMemEval: abstention questions are skipped; ``recall_all@k``, ``recall_any@k`` and
  ``ndcg_any@k`` at session level (unprefixed names: the headline numbers) and turn level
  (``turn_`` prefix). In the *official* view a question without gold counts as the official
  code scores it (``recall_all`` 1, ``recall_any`` 0, ``ndcg`` 0: mostly the
  ``single-session-assistant`` type); the *strict* view leaves such questions out.
* LoCoMo: evidence recall over turns; the overall view is categories 1-4; category 5
  (adversarial) is reported on its own; questions without evidence are left out.
* BEAM: evidence recall over turns (both roles), per ability; the overall view is every
  ability but abstention (which has no turn evidence: counted apart); questions without
  evidence are left out.

``budget_recall@B`` is the fraction of questions (with gold) whose gold turns all appear in
the context a system returns for a budget of ``B`` tokens.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engram.bench.metrics import (
    map_to_sessions,
    mean_or_none,
    ndcg_any_at_k,
    percentile,
    recall_all_at_k,
    recall_any_at_k,
)

#: The benchmarks the harness runs.
BENCHMARKS = ("locomo", "longmemeval", "beam")
#: LoCoMo category ids and their official names.
LOCOMO_CATEGORIES = {
    "1": "multi-hop",
    "2": "temporal",
    "3": "open-domain",
    "4": "single-hop",
    "5": "adversarial",
}
#: LoCoMo categories in the overall view (5, adversarial, is reported separately).
LOCOMO_SCORED = ("1", "2", "3", "4")
#: What the official LongMemEval code gives a question with no gold.
OFFICIAL_EMPTY_GOLD = {"recall_all": 1.0, "recall_any": 0.0, "ndcg_any": 0.0}
#: Per-question metric families.
FAMILIES = ("recall_all", "recall_any", "ndcg_any")


def ranking_metrics(ranked: Sequence[str], gold: Sequence[str], ks: Sequence[int]) -> dict[str, float | None]:
    """``recall_all@k``, ``recall_any@k`` and ``ndcg_any@k`` for each k (None: no gold)."""
    out: dict[str, float | None] = {}
    for k in ks:
        out[f"recall_all@{k}"] = recall_all_at_k(ranked, gold, k)
        out[f"recall_any@{k}"] = recall_any_at_k(ranked, gold, k)
        out[f"ndcg_any@{k}"] = ndcg_any_at_k(ranked, gold, k)
    return out


def retrieval_record(
    *,
    benchmark: str,
    ranked: Sequence[str],
    gold_turns: Sequence[str],
    gold_sessions: Sequence[str],
    turn_to_session: Mapping[str, str],
    ks: Sequence[int],
) -> dict[str, dict[str, float | None]]:
    """The ranking metrics of one question: ``turn`` always, ``session`` for LongMemEval."""
    record = {"turn": ranking_metrics(ranked, gold_turns, ks)}
    if benchmark == "longmemeval":
        sessions = map_to_sessions(ranked, turn_to_session)
        record["session"] = ranking_metrics(sessions, gold_sessions, ks)
    return record


def budget_record(shown: Iterable[str], gold_turns: Sequence[str]) -> float | None:
    """1.0 when every gold turn is among those shown, 0.0 if not, None without gold."""
    if not gold_turns:
        return None
    visible = set(shown)
    return float(all(turn in visible for turn in gold_turns))


# -- aggregation ----------------------------------------------------------------------------


def _metric_value(record: Mapping[str, Any], level: str, name: str, official: bool) -> float | None:
    value = record.get(level, {}).get(name)
    if value is None and official and record.get("gold_turns", 0) == 0:
        return OFFICIAL_EMPTY_GOLD[name.split("@")[0]]
    return value  # type: ignore[no-any-return]


def _view(records: Sequence[Mapping[str, Any]], benchmark: str, *, official: bool) -> dict[str, Any]:
    """Mean metrics over a group of question records of one system."""
    out: dict[str, Any] = {"questions": len(records)}
    if not records:
        return out
    sample = records[0]
    levels = [("session", ""), ("turn", "turn_")] if benchmark == "longmemeval" else [("turn", "")]
    for level, prefix in levels:
        for name in sample.get(level, {}):
            out[prefix + name] = mean_or_none(_metric_value(r, level, name, official) for r in records)
    for budget in sample.get("budget", {}):
        out[f"budget_recall@{budget}"] = mean_or_none(r["budget"].get(budget) for r in records)
        out[f"context_tokens@{budget}"] = mean_or_none(
            r.get("context_tokens", {}).get(budget) for r in records
        )
        # Of the questions whose evidence is all in the context, the share with a gold turn
        # shown as an excerpt rather than whole (Engram only; baselines show whole turns).
        found = [r for r in records if r["budget"].get(budget) == 1.0]
        out[f"gold_as_excerpt@{budget}"] = mean_or_none(
            float(r.get("gold_as_excerpt", {}).get(budget, 0) > 0) for r in found
        )
    out["with_gold"] = sum(1 for r in records if r.get("gold_turns", 0) > 0)
    qa = [r["qa"] for r in records if r.get("qa")]
    if qa:
        out["qa_accuracy"] = mean_or_none(q.get("judge") for q in qa)
        out["qa_f1"] = mean_or_none(q.get("f1") for q in qa)
    return out


def _latency(values: Sequence[float]) -> dict[str, float | None]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95)}


def _cost(questions: Sequence[Mapping[str, Any]], ingests: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    search = [r["search_ms"] for r in questions if r.get("search_ms") is not None]
    context = [ms for r in questions for ms in (r.get("context_ms") or {}).values()]
    embed = [r["query_embed_ms"] for r in questions if r.get("query_embed_ms") is not None]
    turns = sum(r["turns"] for r in ingests)
    seconds = sum(r["seconds"] for r in ingests)
    sizes = [r["store_bytes"] for r in ingests if r.get("store_bytes") is not None]
    qa_calls = sum((r.get("qa") or {}).get("llm_calls", 0) for r in questions)
    qa_tokens = sum((r.get("qa") or {}).get("llm_tokens", 0) for r in questions)
    return {
        "search_p50_ms": _latency(search)["p50"],
        "search_p95_ms": _latency(search)["p95"],
        "context_p50_ms": _latency(context)["p50"],
        "context_p95_ms": _latency(context)["p95"],
        "query_embed_p50_ms": _latency(embed)["p50"],
        "ingest_turns": turns,
        "ingest_seconds": seconds,
        "ingest_turns_per_s": turns / seconds if seconds > 0 else None,
        "store_bytes_mean": sum(sizes) / len(sizes) if sizes else None,
        "llm_calls_per_turn": sum(r.get("llm_calls", 0) for r in ingests) / turns if turns else 0.0,
        "llm_tokens_per_turn": sum(r.get("llm_tokens", 0) for r in ingests) / turns if turns else 0.0,
        "haystack_tokens_mean": mean_or_none(r.get("haystack_tokens") for r in ingests),
        "qa_llm_calls": qa_calls,
        "qa_llm_tokens": qa_tokens,
    }


def scored_records(records: Sequence[Mapping[str, Any]], benchmark: str) -> list[Mapping[str, Any]]:
    """The questions that count in the overall view of a benchmark."""
    if benchmark != "locomo":
        return [r for r in records if not r.get("abstention")]
    return [r for r in records if str(r.get("category")) in LOCOMO_SCORED]


def summarize_system(
    questions: Sequence[Mapping[str, Any]], ingests: Sequence[Mapping[str, Any]], benchmark: str
) -> dict[str, Any]:
    """Every table of one system: overall, per category, strict view and cost."""
    scored = scored_records(questions, benchmark)
    cost = _cost(questions, ingests)
    official = benchmark == "longmemeval"  # LoCoMo leaves questions without evidence out
    overall = {**_view(scored, benchmark, official=official), **cost}
    overall["gold_after_reference"] = sum(r.get("gold_after_reference", 0) for r in scored)
    by_category: dict[str, Any] = {}
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    pool = questions if benchmark == "locomo" else scored
    for record in pool:
        groups[str(record.get("category"))].append(record)
    for category in _category_order(groups, benchmark):
        by_category[category] = _view(groups[category], benchmark, official=official)
    result: dict[str, Any] = {"overall": overall, "by_category": by_category}
    if benchmark == "longmemeval":
        strict = [r for r in scored if r.get("gold_turns", 0) > 0]
        result["strict"] = _view(strict, benchmark, official=False)
        result["strict_by_category"] = {
            category: _view([r for r in strict if r.get("category") == category], benchmark, official=False)
            for category in by_category
        }
    if benchmark == "locomo":
        result["adversarial"] = by_category.get("5", {"questions": 0})
        result["by_fold"] = {
            name: _view(fold, benchmark, official=official) for name, fold in two_folds(scored).items()
        }
    else:
        result["abstention"] = {"questions": sum(1 for r in questions if r.get("abstention"))}
        abstained = [r for r in questions if r.get("abstention") and r.get("qa")]
        if abstained:
            result["abstention"]["qa_accuracy"] = mean_or_none(r["qa"].get("judge") for r in abstained)
    return result


def fold_of(conversation_ids: Iterable[str]) -> dict[str, str]:
    """Each conversation's fold: the first or second half in natural id order (``conv-26`` …
    ``conv-50``: locomo10.json's own order), named by the conversations' numbers (``1-5``).
    Empty with fewer than two conversations."""
    ids = sorted(set(conversation_ids), key=_natural)
    if len(ids) < 2:
        return {}
    half = (len(ids) + 1) // 2
    first, second = f"conversations 1-{half}", f"conversations {half + 1}-{len(ids)}"
    return {conversation: first if index < half else second for index, conversation in enumerate(ids)}


def two_folds(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The records split by conversation into the two folds of :func:`fold_of`, first fold first."""
    fold = fold_of(str(r.get("conversation_id")) for r in records)
    if not fold:
        return {}
    split: dict[str, list[Mapping[str, Any]]] = {name: [] for name in dict.fromkeys(fold.values())}
    for record in records:
        split[fold[str(record.get("conversation_id"))]].append(record)
    return split


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def _category_order(groups: Mapping[str, Any], benchmark: str) -> list[str]:
    if benchmark == "locomo":
        return sorted(groups, key=lambda c: (len(c), c))
    return sorted(groups)


def ratios(
    systems: Mapping[str, Mapping[str, Any]], reference: str = "engram"
) -> dict[str, dict[str, float | None]]:
    """``engram/<baseline>`` for every overall quality metric both systems have."""
    if reference not in systems:
        return {}
    mine = systems[reference]["overall"]
    out: dict[str, dict[str, float | None]] = {}
    for name, other in systems.items():
        if name == reference:
            continue
        theirs = other["overall"]
        row: dict[str, float | None] = {}
        for metric, value in mine.items():
            if not _is_quality(metric):
                continue
            base = theirs.get(metric)
            row[metric] = value / base if isinstance(value, (int, float)) and base else None
        out[f"{reference}/{name}"] = row
    return out


def _is_quality(metric: str) -> bool:
    return metric.split("@")[0].removeprefix("turn_") in (*FAMILIES, "budget_recall") or metric in (
        "qa_accuracy",
        "qa_f1",
    )


def summarize(
    records: Sequence[Mapping[str, Any]],
    ingests: Sequence[Mapping[str, Any]],
    benchmark: str,
    systems: Sequence[str],
) -> dict[str, Any]:
    """Per-system summaries plus the ratios of Engram to each other system."""
    out: dict[str, Any] = {}
    for name in systems:
        mine = [r for r in records if r.get("system") == name]
        out[name] = summarize_system(mine, [r for r in ingests if r.get("system") == name], benchmark)
    return {"systems": out, "ratios": ratios(out)}
