"""The human-readable outputs of a run: ``summary.json``, ``report.md`` and PNG plots.

The report puts every system side by side on the same questions, with Engram's ratio to each
baseline, and says exactly what was measured: data file and checksum, code version, machine,
settings and the scoring rules applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from engram.bench import beam
from engram.bench.results import write_json
from engram.bench.scoring import LOCOMO_CATEGORIES
from engram.errors import DISTRIBUTION
from engram.model.limits import MAX_CONTENT_BYTES

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.md"
TITLES = {"locomo": "LoCoMo", "longmemeval": "LongMemEval", "beam": beam.TITLE}
CATEGORY_NOUNS = {"locomo": "category", "longmemeval": "question type", "beam": beam.CATEGORY_NOUN}


def write_reports(out: Path, document: Mapping[str, Any]) -> list[Path]:
    """Write ``summary.json``, ``report.md`` and the plots; returns the paths written."""
    from engram.bench.plots import write_plots

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / SUMMARY_FILE, document)
    plots = write_plots(out, document)
    (out / REPORT_FILE).write_text(render_markdown(document, [p.name for p in plots]), encoding="utf-8")
    return [out / SUMMARY_FILE, out / REPORT_FILE, *plots]


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: numbers rounded, missing values as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.{digits}f}"
    return str(value)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main_k(ks: Sequence[int]) -> int:
    """The k shown in per-category tables: 10 when measured, else the middle one."""
    return 10 if 10 in ks else sorted(ks)[len(ks) // 2]


def category_noun(benchmark: str) -> str:
    """What a benchmark's question groups are called: category, question type, ability."""
    return CATEGORY_NOUNS.get(benchmark, "category")


def category_label(benchmark: str, category: str) -> str:
    """``"1 multi-hop"`` for LoCoMo ids; LongMemEval types as they are."""
    if benchmark == "locomo" and category in LOCOMO_CATEGORIES:
        return f"{category} {LOCOMO_CATEGORIES[category]}"
    return category


def _fold_section(document: Mapping[str, Any], k: int, budgets: Sequence[int]) -> list[str]:
    """LoCoMo as a two-fold split, so that a gain tuned on one half shows whether it holds on the other."""
    if not any(summary.get("by_fold") for summary in document["systems"].values()):
        return []
    parts = [
        "### Two folds",
        "",
        "The conversations in id order (the file's order), first half and second half; categories 1-4. "
        "Tune on one fold, read the other.",
        "",
    ]
    for metric in (f"recall_all@{k}", *(f"budget_recall@{b}" for b in budgets[:2])):
        parts += [f"**{metric}**", "", _category_table(document, metric, "by_fold", "fold"), ""]
    return parts


def _metric_table(
    systems: Mapping[str, Any], ratios: Mapping[str, Any], view: str, metrics: Sequence[str]
) -> str:
    names = list(systems)
    ratio_names = list(ratios)
    header = ["metric", *names, *ratio_names]
    rows = []
    for metric in metrics:
        row: list[Any] = [metric]
        row += [systems[name].get(view, {}).get(metric) for name in names]
        row += [ratios[r].get(metric) if view == "overall" else None for r in ratio_names]
        rows.append(row)
    return table(header, rows)


def _category_table(
    document: Mapping[str, Any], metric: str, key: str = "by_category", noun: str | None = None
) -> str:
    benchmark = document["run"]["benchmark"]
    systems = document["systems"]
    categories: list[str] = []
    for summary in systems.values():
        categories += [c for c in summary.get(key, {}) if c not in categories]
    header = [noun or category_noun(benchmark), "questions", "with gold", *systems]
    rows = []
    for category in categories:
        first = next(iter(systems.values())).get(key, {}).get(category, {})
        rows.append(
            [category_label(benchmark, category), first.get("questions"), first.get("with_gold")]
            + [summary.get(key, {}).get(category, {}).get(metric) for summary in systems.values()]
        )
    return table(header, rows)


def render_markdown(document: Mapping[str, Any], plots: Sequence[str] = ()) -> str:
    """The Markdown report of a summary document."""
    run = document["run"]
    config = run["config"]
    systems = document["systems"]
    ratios = document.get("ratios", {})
    benchmark = run["benchmark"]
    ks = config["ks"]
    budgets = config["budgets"]
    k = main_k(ks)
    parts = [f"# {TITLES.get(benchmark, benchmark)}: {', '.join(systems)}", ""]
    parts += _provenance(run)

    families = ["recall_all", "recall_any", "ndcg_any"]
    headline = [f"{f}@{n}" for f in families for n in ks]
    if benchmark == "longmemeval":
        parts += [
            "## Retrieval, official rules",
            "",
            "Session level (turn hits mapped to their session, first k distinct sessions), over the "
            "official corpus of **user turns only**; abstention questions skipped; a question whose gold "
            "set is empty counts as the official code scores it (recall_all 1, recall_any 0, nDCG 0).",
            "",
            _metric_table(systems, ratios, "overall", headline),
            "",
            "Turn level:",
            "",
            _metric_table(systems, ratios, "overall", [f"turn_{m}" for m in headline]),
            "",
            "### Strict view (questions without gold left out)",
            "",
            _metric_table(systems, {}, "strict", headline + [f"turn_recall_all@{n}" for n in ks]),
            "",
        ]
    elif benchmark == "beam":
        parts += [*beam.retrieval_section(document), _metric_table(systems, ratios, "overall", headline), ""]
    else:
        parts += [
            "## Evidence retrieval, categories 1-4",
            "",
            "Turn level over the whole conversation; questions without evidence left out; category 5 "
            "(adversarial) is reported separately below.",
            "",
            _metric_table(systems, ratios, "overall", headline),
            "",
            *_fold_section(document, k, budgets),
        ]
    parts += [f"## By {category_noun(benchmark)}", ""]
    for metric in dict.fromkeys([*[f"recall_all@{n}" for n in ks], f"ndcg_any@{ks[0]}", f"ndcg_any@{k}"]):
        parts += [f"**{metric}**", "", _category_table(document, metric), ""]
    if benchmark == "longmemeval":
        parts += [
            f"**strict recall_all@{k}**",
            "",
            _category_table(document, f"recall_all@{k}", "strict_by_category"),
            "",
        ]

    parts += _budget_section(systems, budgets, ratios)
    parts += _budget_by_category(document, budgets)
    parts += _cost_section(systems, run)
    if any("qa_accuracy" in s["overall"] or "qa_f1" in s["overall"] for s in systems.values()):
        parts += _qa_section(document)
    parts += _notes(document)
    if plots:
        parts += ["## Plots", ""] + [f"![{name}]({name})" for name in plots] + [""]
    return "\n".join(parts).rstrip() + "\n"


def _provenance(run: Mapping[str, Any]) -> list[str]:
    data, code, host, config = run["data"], run["code"], run["machine"], run["config"]
    commit = code.get("git_commit", "not a git checkout")
    if code.get("git_dirty"):
        commit += " (with uncommitted changes)"
    rss = run.get("peak_rss_bytes")
    return [
        f"- command: `{run.get('command') or 'run_benchmark(...)'}`",
        f"- data: `{data['path']}` sha256 `{data['sha256']}`; {data['questions']:,} of "
        f"{data['questions_in_file']:,} questions, {data['conversations']:,} conversations, "
        f"{data['turns']:,} turns",
        f"- code: {DISTRIBUTION} {code['engram']}, commit {commit}",
        f"- machine: {host.get('processor')}, {host.get('cpus_usable', host.get('cpus'))} cores, "
        f"{host.get('memory_gb', '?')} GB, Python {host.get('python')}, onnxruntime {host.get('onnxruntime', '—')}",
        f"- settings: systems {', '.join(config['systems'])}; k {config['ks']}; budgets {config['budgets']}; "
        f"recipe `{config['recipe']}`; embedder {config['embedding_model']}; token counter "
        f"{config['token_counter']}; search depth {config['search_depth']}; context candidates "
        f"{config['context_candidates']}; workers {config['workers']}",
        f"- run: started {run['started_at']}, wall time {run['wall_seconds']:.0f} s, CPU time "
        f"{fmt(run.get('cpu_seconds'))} s, load average at the end {run.get('load_average')} "
        f"({run['questions_run_now']:,} questions run now, the rest resumed), "
        f"peak RSS {fmt(rss / 2**20 if rss else None)} MB",
        *[
            f"- earlier invocation: started {h['started_at']}, {h['questions_run']:,} questions in "
            f"{h['wall_seconds']:.0f} s: `{h.get('command')}`"
            for h in run.get("history", [])[:-1]
        ],
        "",
    ]


def _budget_section(
    systems: Mapping[str, Any], budgets: Sequence[int], ratios: Mapping[str, Any]
) -> list[str]:
    haystack = next((s["overall"].get("haystack_tokens_mean") for s in systems.values()), None)
    header = [
        "budget (tokens)",
        "haystack / budget",
        *[f"{n}" for n in systems],
        *[f"{n} tokens" for n in systems],
        *ratios,
        "engram: gold as excerpt",
    ]
    rows = []
    for budget in budgets:
        metric = f"budget_recall@{budget}"
        rows.append(
            [budget, haystack / budget if haystack else None]
            + [s["overall"].get(metric) for s in systems.values()]
            + [s["overall"].get(f"context_tokens@{budget}") for s in systems.values()]
            + [r.get(metric) for r in ratios.values()]
            + [systems.get("engram", {}).get("overall", {}).get(f"gold_as_excerpt@{budget}")]
        )
    return [
        "## Evidence inside a token budget",
        "",
        "Fraction of questions (with gold) whose gold turns **all** appear in the context returned for "
        f"the budget; contexts are built from the whole history. Mean haystack: {fmt(haystack)} tokens. "
        "The baselines show whole turns; Engram shows long turns as query-focused excerpts, and the "
        "last column says for what share of its found questions a gold turn was one.",
        "",
        table(header, rows),
        "",
    ]


def _budget_by_category(document: Mapping[str, Any], budgets: Sequence[int]) -> list[str]:
    out: list[str] = []
    for budget in budgets:
        out += [f"**budget_recall@{budget}**", "", _category_table(document, f"budget_recall@{budget}"), ""]
    return out


def _cost_section(systems: Mapping[str, Any], run: Mapping[str, Any]) -> list[str]:
    rows = []
    for name, summary in systems.items():
        o = summary["overall"]
        size = o.get("store_bytes_mean")
        rows.append(
            [
                name,
                o.get("ingest_turns_per_s"),
                o.get("search_p50_ms"),
                o.get("search_p95_ms"),
                o.get("context_p50_ms"),
                o.get("context_p95_ms"),
                size / 2**20 if size else None,
                o.get("llm_calls_per_turn"),
                o.get("llm_tokens_per_turn"),
            ]
        )
    embed = next((s["overall"].get("query_embed_p50_ms") for s in systems.values()), None)
    emb = run.get("embedder", {})
    return [
        "## Cost",
        "",
        table(
            [
                "system",
                "ingest turns/s",
                "search p50 ms",
                "search p95 ms",
                "context p50 ms",
                "context p95 ms",
                "store MB / conversation",
                "LLM calls / turn",
                "LLM tokens / turn",
            ],
            rows,
        ),
        "",
        f"Latencies exclude embedding the question: what each system's search embeds (Engram: the "
        f"question without the speakers' names it names, and its parts) is embedded once per question "
        f"for all systems, in one call (p50 {fmt(embed)} ms). Ingest includes embedding each text once per run (texts embedded: "
        f"{fmt(emb.get('texts_embedded'))}, reused from the shared cache: {fmt(emb.get('cache_hits'))}"
        + (
            f", from the disk cache: {fmt(emb.get('disk_cache_hits'))}"
            if emb.get("disk_cache_loaded")
            else ""
        )
        + "); the first system to ingest a text pays for it. Peak RSS is for the whole process.",
        "",
    ]


def _qa_section(document: Mapping[str, Any]) -> list[str]:
    systems = document["systems"]
    qa = document["run"]["config"].get("qa") or {}
    rows = [
        [
            name,
            s["overall"].get("qa_accuracy"),
            s["overall"].get("qa_f1"),
            s["overall"].get("qa_llm_calls"),
            s["overall"].get("qa_llm_tokens"),
        ]
        for name, s in systems.items()
    ]
    out = [
        "## Question answering",
        "",
        f"Reader {qa.get('reader', {}).get('model')} and judge {qa.get('judge', {}).get('model')} with the "
        f"{qa.get('prompts')} prompts; answers from the context at the QA budget "
        f"({document['run']['config'].get('qa_budget')} tokens).",
        "",
        table(["system", "judge accuracy", "token F1", "LLM calls", "LLM tokens"], rows),
        "",
        "**qa_accuracy**",
        "",
        _category_table(document, "qa_accuracy"),
        "",
    ]
    if document["run"]["benchmark"] == "locomo":
        out += ["**qa_f1**", "", _category_table(document, "qa_f1"), ""]
    return out


def _notes(document: Mapping[str, Any]) -> list[str]:
    run = document["run"]
    notes = ["## How this was measured", ""]
    if run["benchmark"] == "longmemeval":
        notes += [
            "- Gold: user turns with `has_answer` inside the `answer_*` sessions; gold sessions are those "
            "sessions. Retrieval searches user turns only, as the official corpus does (Engram with "
            "`filters={'role': 'user'}`, the baselines over user turns); contexts use both roles.",
            "- Abstention (`_abs`) questions are skipped for retrieval; `single-session-assistant` questions "
            "mostly have no gold user turn: the official view scores them as the official code does, the "
            "strict view leaves them out.",
        ]
    elif run["benchmark"] == "beam":
        notes += beam.NOTES
    else:
        notes += [
            "- Gold: the `evidence` turns (malformed ids repaired or dropped by the loader); categories by "
            "official id (1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop, 5 adversarial).",
            "- LoCoMo has no question date: questions are asked one minute after the conversation's last turn.",
        ]
    cut = run["data"].get("messages_cut")
    if cut:
        notes.append(
            f"- {cut} message(s) cut to the limit of {MAX_CONTENT_BYTES:,} bytes per message: evidence "
            "in their tail cannot be found until long messages are chunked."
        )
    late = max((s["overall"].get("gold_after_reference", 0) for s in document["systems"].values()), default=0)
    if late:
        notes.append(
            f"- {late} gold turn(s) are dated after their question: no system can retrieve them at the "
            "question's date (they stay in the denominators, as in the official scoring)."
        )
    notes += [
        "- Each question is answered from stores holding only its own conversation/haystack, ingested "
        "session by session with the haystack's timestamps; the question is asked at its date "
        "(`reference_time`), so turns dated after it are invisible to every system. Contexts are "
        "requested with `reinforce=False`: a question never changes what later questions see.",
        "- `bm25` is plain BM25 (bm25s, Lucene variant, English stop words); `dense` is plain cosine over the "
        "same vectors Engram stores. Both build their context with Engram's assembler, same budget and "
        "candidates, so budget recall compares rankings.",
        "",
    ]
    return notes
