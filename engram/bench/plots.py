"""PNG plots of a summary: recall against k, evidence-in-budget against budget, per-category bars.

Uses matplotlib's non-interactive Agg backend (no display needed); matplotlib is part of the
``[bench]`` extra and imported only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engram.bench.report import TITLES, category_label, category_noun, main_k
from engram.errors import require


def _pyplot() -> Any:
    matplotlib = require("matplotlib", feature="benchmark plots", extra="bench")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def write_plots(out: Path, document: Mapping[str, Any]) -> list[Path]:
    """Write the plots of a summary document; returns their paths."""
    plt = _pyplot()
    paths = [
        _recall_vs_k(plt, out, document),
        _budget(plt, out, document),
        _by_category(plt, out, document, f"recall_all@{main_k(document['run']['config']['ks'])}"),
    ]
    if any(s["overall"].get("qa_accuracy") is not None for s in document["systems"].values()):
        paths.append(_by_category(plt, out, document, "qa_accuracy"))
    return paths


def _title(document: Mapping[str, Any]) -> str:
    run = document["run"]
    name = TITLES.get(run["benchmark"], run["benchmark"])
    return f"{name} ({run['data']['questions']} questions)"


def _recall_vs_k(plt: Any, out: Path, document: Mapping[str, Any]) -> Path:
    ks = document["run"]["config"]["ks"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    strict = document["run"]["benchmark"] == "longmemeval"  # no trivially perfect recall_all
    for index, (name, summary) in enumerate(document["systems"].items()):
        color = f"C{index}"
        overall = summary["strict" if strict else "overall"]
        ax.plot(
            ks, [overall.get(f"recall_all@{k}") for k in ks], "o-", color=color, label=f"{name} recall_all"
        )
        ax.plot(
            ks,
            [overall.get(f"recall_any@{k}") for k in ks],
            "s--",
            color=color,
            alpha=0.6,
            label=f"{name} recall_any",
        )
    level = "session level\n(questions with gold)" if strict else "evidence turns"
    ax.set(xlabel="k", ylabel="recall", ylim=(0, 1.02), title=f"{_title(document)}: recall@k, {level}")
    ax.set_xticks(ks)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _save(plt, fig, out / "recall_vs_k.png")


def _budget(plt: Any, out: Path, document: Mapping[str, Any]) -> Path:
    budgets = document["run"]["config"]["budgets"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for index, (name, summary) in enumerate(document["systems"].items()):
        values = [summary["overall"].get(f"budget_recall@{b}") for b in budgets]
        ax.plot(budgets, values, "o-", color=f"C{index}", label=name)
    haystack = next((s["overall"].get("haystack_tokens_mean") for s in document["systems"].values()), None)
    subtitle = f"\nmean haystack {haystack:,.0f} tokens" if haystack else ""
    ax.set(
        xlabel="context budget (tokens)",
        ylabel="questions with all gold in context",
        ylim=(0, 1.02),
        title=f"{_title(document)}: evidence in budget{subtitle}",
    )
    ax.set_xscale("log", base=2)
    ax.set_xticks(budgets)
    ax.set_xticklabels([str(b) for b in budgets])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(plt, fig, out / "budget_recall.png")


def _by_category(plt: Any, out: Path, document: Mapping[str, Any], metric: str) -> Path:
    benchmark = document["run"]["benchmark"]
    systems = document["systems"]
    categories: list[str] = []
    for summary in systems.values():
        categories += [c for c in summary.get("by_category", {}) if c not in categories]
    fig, ax = plt.subplots(figsize=(max(6.4, 1.3 * len(categories) + 2), 4.2), dpi=110)
    width = 0.8 / max(1, len(systems))
    for index, (name, summary) in enumerate(systems.items()):
        values = [summary["by_category"].get(c, {}).get(metric) or 0.0 for c in categories]
        positions = [i + (index - (len(systems) - 1) / 2) * width for i in range(len(categories))]
        ax.bar(positions, values, width=width, color=f"C{index}", label=name)
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels(
        [category_label(benchmark, c) for c in categories], rotation=20, ha="right", fontsize=8
    )
    ax.set(ylabel=metric, ylim=(0, 1.02), title=f"{_title(document)}: {metric} by {category_noun(benchmark)}")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    safe = metric.replace("@", "_at_")
    return _save(plt, fig, out / f"by_category_{safe}.png")


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
