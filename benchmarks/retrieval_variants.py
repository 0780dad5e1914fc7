"""Compare retrieval recipes and context options by evidence inside a token budget.

A fast development loop beside `engram bench` (which is the reference): Engram only, one
store per conversation, every question asked at its own date, and for each variant the share
of questions whose gold turns all appear in ``Memory.context(...)`` for each budget.

    .venv/bin/python benchmarks/retrieval_variants.py longmemeval --budgets 1000,2000
    .venv/bin/python benchmarks/retrieval_variants.py locomo --budgets 1000 --variants my.json

Variants are a JSON object of name → ``Memory.context`` keyword arguments; ``config`` may be a
recipe name or an object of :class:`~engram.read.retrieve.RetrievalConfig` fields over a
``base`` recipe: ``{"base": "engram", "rrf_k": 60, "weights": {"bm25": 2, "vector": 1}}``.
With ``--embedding-cache DIR`` vectors are kept on disk between runs (the default model only).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from engram import CachedEmbedder, Memory, OnnxEmbedder, SQLiteStore
from engram.bench.embcache import DiskCachedEmbedder
from engram.bench.systems import MemoCounter
from engram.formats import load_locomo, load_longmemeval
from engram.providers.tokens import default_counter
from engram.read.retrieve import RECIPES

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = {"locomo": "locomo10.json", "longmemeval": "longmemeval_s_dev.json.gz"}
DEFAULT_VARIANTS: dict[str, dict[str, Any]] = {
    "engram": {},
    "engram-episodes": {"config": "engram-episodes"},
    "hybrid": {"config": "hybrid"},
    "bm25": {"config": "bm25"},
    "vector": {"config": "vector"},
    "no-expand-no-facts": {"expand": False, "facts_share": 0.0, "include_profile": False},
}


def parse_variants(raw: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``config`` objects become :class:`RetrievalConfig`: the recipe named by ``base`` (default
    ``hybrid``) with the fields given replaced (``weights`` as an object of name → weight)."""
    for options in raw.values():
        config = options.get("config")
        if isinstance(config, dict):
            fields = dict(config)
            base = RECIPES[fields.pop("base", "hybrid")]
            if "weights" in fields:
                fields["weights"] = tuple(fields["weights"].items())
            if "retrievers" in fields:
                fields["retrievers"] = tuple(fields["retrievers"])
            options["config"] = replace(base, **fields)
    return raw


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("benchmark", choices=sorted(FILES))
    parser.add_argument("--data", type=Path)
    parser.add_argument("--budgets", default="1000,2000")
    parser.add_argument("--variants", type=Path, help="a JSON file of variants (default: the built-in set)")
    parser.add_argument("--limit", type=int, help="only the first N conversations")
    parser.add_argument("--embedding-cache", type=Path)
    args = parser.parse_args()
    path = args.data or DATA / FILES[args.benchmark]
    if not path.exists():
        print(f"error: {path} not found", file=sys.stderr)
        return 2
    variants = parse_variants(json.loads(args.variants.read_text()) if args.variants else DEFAULT_VARIANTS)
    budgets = [int(b) for b in args.budgets.split(",")]
    inner = OnnxEmbedder()
    embedder = CachedEmbedder(
        DiskCachedEmbedder(inner, args.embedding_cache) if args.embedding_cache else inner
    )
    counter = MemoCounter(default_counter())
    dataset = load_locomo(path) if args.benchmark == "locomo" else load_longmemeval(path)
    by_conversation: dict[str, list[Any]] = {}
    for question in dataset.questions:
        by_conversation.setdefault(question.conversation_id, []).append(question)
    found: dict[str, dict[int, list[bool]]] = {name: {b: [] for b in budgets} for name in variants}
    started = time.perf_counter()
    for conversation in dataset.conversations[: args.limit]:
        with tempfile.TemporaryDirectory() as workdir:
            memory = Memory(
                store=SQLiteStore(Path(workdir) / "v.db"), embedder=embedder, token_counter=counter
            )
            to_message: dict[str, str] = {}
            for session in conversation.sessions:
                result = memory.add(
                    session.messages, user_id="u", session_id=session.id, timestamp=session.timestamp
                )
                to_message.update(
                    {t.id: m["id"] for m, t in zip(session.messages, result.turns, strict=True)}
                )
            last = max(s.timestamp for s in conversation.sessions if s.timestamp)
            for question in by_conversation.get(conversation.id, []):
                if question.abstention or not question.evidence_ids or question.category == "5":
                    continue
                at = question.question_date or last.replace(year=last.year + 1)
                for name, options in variants.items():
                    for budget in budgets:
                        context = memory.context(
                            question.question, user_id="u", budget_tokens=budget, reference_time=at,
                            reinforce=False, **options,
                        )  # fmt: skip
                        shown = {to_message[i] for i in context.turn_ids}
                        found[name][budget].append(all(e in shown for e in question.evidence_ids))
            memory.close()
    first = next(iter(found.values()))[budgets[0]]
    print(f"{args.benchmark}: {len(first)} questions, {time.perf_counter() - started:.0f} s")
    print("| variant | " + " | ".join(f"budget {b}" for b in budgets) + " |")
    print("|---|" + "---|" * len(budgets))
    for name, by_budget in found.items():
        print(f"| {name} | " + " | ".join(f"{sum(v) / len(v):.3f}" for v in by_budget.values()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
