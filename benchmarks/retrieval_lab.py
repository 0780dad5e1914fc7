"""Retrieval experiments on all three development sets at once, from stores built once.

A change to retrieval counts only when it helps on every development set (issue 11), so this
lab asks every question of LoCoMo, the LongMemEval dev split and BEAM 500K under each variant
and prints the headline metrics side by side, with LoCoMo as a two-fold split (conversations
1-5 and 6-10, as ``engram bench locomo`` reports them) so that a gain tuned on one half shows
whether it holds on the other.

    # once per data set: ingest each conversation as `engram bench` does, into its own store
    PYTHONPATH=. .venv/bin/python benchmarks/retrieval_lab.py build --bench locomo --work /tmp/lab
    # then any number of times, with the code on PYTHONPATH
    PYTHONPATH=. .venv/bin/python benchmarks/retrieval_lab.py eval --work /tmp/lab \\
        --variants my.json --out /tmp/lab/run.json

    # why gold turns the search ranks in its top 20 are not inside the context (first variant)
    PYTHONPATH=. .venv/bin/python benchmarks/retrieval_lab.py diagnose --work /tmp/lab \\
        --variants one.json --out /tmp/lab/why.jsonl

Stores are opened read-only: every variant sees the same turns, facts and episodes, and a
variant is only a change of the read path. Variants are a JSON object of name →
``Memory.search``/``Memory.context`` keyword arguments, as in ``retrieval_variants.py``
(``config`` may name a recipe or give :class:`~engram.read.retrieve.RetrievalConfig` fields
over a ``base`` recipe). The metrics follow ``engram bench``: turn ``recall_all@10`` (the
user's turns only for LongMemEval, as its rules say), and the share of questions whose gold
turns are all inside a budgeted context (1,000 tokens; 500 too for LongMemEval). Questions
without evidence, abstention and LoCoMo's adversarial category are left out, as the bench does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from context_diagnosis import Capture, causes, summary  # benchmarks/ is on the path when run
from retrieval_variants import parse_variants

from engram import Memory, SQLiteStore
from engram.bench.embcache import DiskCachedEmbedder
from engram.bench.haystacks import load_dataset, prepare, reference_time
from engram.bench.scoring import fold_of, recall_all_at_k
from engram.bench.systems import BENCH_USER, CONTEXT_CANDIDATES, MemoCounter, add_conversation
from engram.formats.dataset import Conversation, Dataset, Question
from engram.providers.embedder import CachedEmbedder
from engram.providers.onnx import OnnxEmbedder
from engram.providers.tokens import default_counter

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = {
    "locomo": DATA / "locomo10.json",
    "longmemeval": DATA / "longmemeval_s_dev.json.gz",
    "beam": DATA / "beam" / "500K",
}
BUDGETS = {"locomo": (1000,), "longmemeval": (500, 1000), "beam": (1000,)}
K = 10


def build(work: Path, bench: str) -> None:
    """Ingest each conversation into ``work/<bench>/<id>.db`` as the bench's Engram system does."""
    dataset = load_dataset(bench, FILES[bench])
    embedder = DiskCachedEmbedder(OnnxEmbedder(), work / "embcache")
    folder = work / bench
    folder.mkdir(parents=True, exist_ok=True)
    for number, conversation in enumerate(dataset.conversations, 1):
        path = folder / f"{conversation.id}.db"
        if path.exists():
            continue
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        memory = Memory(store=SQLiteStore(partial), embedder=embedder)
        to_message = add_conversation(memory, conversation)
        memory.close()
        embedder.flush()
        path.with_suffix(".ids.json").write_text(json.dumps(to_message))
        partial.rename(path)
        print(
            f"{bench} {number}/{len(dataset.conversations)} {conversation.id}: {len(to_message)} turns "
            f"in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )


def scored(dataset: Dataset, bench: str) -> Iterator[tuple[Conversation, list[Question]]]:
    """Each conversation with the questions the bench scores."""
    by_conversation: dict[str, list[Question]] = defaultdict(list)
    for question in dataset.questions:
        if question.abstention or not question.evidence_ids or (bench == "locomo" and question.category == "5"):
            continue
        by_conversation[question.conversation_id].append(question)
    for conversation in dataset.conversations:
        if by_conversation.get(conversation.id):
            yield conversation, by_conversation[conversation.id]


def evaluate(work: Path, bench: str, variants: Mapping[str, dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """One record per question and variant: the bench's metrics for it."""
    dataset = load_dataset(bench, FILES[bench])
    embedder = CachedEmbedder(DiskCachedEmbedder(OnnxEmbedder(), work / "embcache"), max_items=100_000)
    counter = MemoCounter(default_counter())
    records: list[dict[str, Any]] = []
    conversations = list(scored(dataset, bench))[:limit]
    folds = fold_of(c.id for c in dataset.conversations) if bench == "locomo" else {}
    for number, (conversation, questions) in enumerate(conversations, 1):
        path = work / bench / f"{conversation.id}.db"
        if not path.exists():
            raise SystemExit(f"error: {path} is not built; run `build --bench {bench}` first")
        to_message: dict[str, str] = json.loads(path.with_suffix(".ids.json").read_text())
        info = prepare(conversation, questions, counter)
        store = SQLiteStore(path, create=False, read_only=True)
        memory = Memory(store=store, embedder=embedder, token_counter=counter)
        for question in questions:
            at = reference_time(question, info.last_time)
            gold = question.evidence_ids
            for name, options in variants.items():
                search_options = {k: v for k, v in options.items() if k in ("config",)}
                result = memory.search(
                    question.question,
                    user_id=BENCH_USER,
                    k=K,
                    reference_time=at,
                    filters={"role": "user"} if bench == "longmemeval" else None,
                    **search_options,
                )
                ranked = [to_message[hit.turn.id] for hit in result.hits]
                record: dict[str, Any] = {
                    "bench": bench,
                    "variant": name,
                    "conversation": conversation.id,
                    "fold": folds.get(conversation.id, ""),
                    "question": question.id,
                    "category": question.category,
                    f"recall_all@{K}": recall_all_at_k(ranked, gold, K),
                }
                for budget in BUDGETS[bench]:
                    context = memory.context(
                        question.question,
                        user_id=BENCH_USER,
                        budget_tokens=budget,
                        reference_time=at,
                        candidates=CONTEXT_CANDIDATES,
                        reinforce=False,
                        **options,
                    )
                    shown = {to_message[i] for i in context.turn_ids}
                    record[f"budget@{budget}"] = float(all(turn in shown for turn in gold))
                    record[f"tokens@{budget}"] = context.tokens
                records.append(record)
        memory.close()
        print(f"{bench} {number}/{len(conversations)}", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return records


def diagnose(work: Path, bench: str, options: dict[str, Any], limit: int | None) -> list[dict[str, Any]]:
    """For each question whose gold turns are all in the search's top 20, each budget's causes
    for the gold turns the context leaves out (see ``context_diagnosis``); ``k`` is 10 when they
    are all in the top 10."""
    dataset = load_dataset(bench, FILES[bench])
    embedder = CachedEmbedder(DiskCachedEmbedder(OnnxEmbedder(), work / "embcache"), max_items=100_000)
    counter = MemoCounter(default_counter())
    rows: list[dict[str, Any]] = []
    search_options = {k: v for k, v in options.items() if k in ("config",)}
    with Capture() as capture:
        for conversation, questions in list(scored(dataset, bench))[:limit]:
            path = work / bench / f"{conversation.id}.db"
            to_message: dict[str, str] = json.loads(path.with_suffix(".ids.json").read_text())
            to_turn = {message: turn for turn, message in to_message.items()}
            info = prepare(conversation, questions, counter)
            memory = Memory(store=SQLiteStore(path, create=False, read_only=True), embedder=embedder, token_counter=counter)
            for question in questions:
                at = reference_time(question, info.last_time)
                result = memory.search(
                    question.question,
                    user_id=BENCH_USER,
                    k=2 * K,
                    reference_time=at,
                    filters={"role": "user"} if bench == "longmemeval" else None,
                    **search_options,
                )
                ranked = [to_message[hit.turn.id] for hit in result.hits]
                if not all(gold in ranked for gold in question.evidence_ids):
                    continue
                k = K if all(gold in ranked[:K] for gold in question.evidence_ids) else 2 * K
                gold_turns = {to_turn[gold] for gold in question.evidence_ids if gold in to_turn}
                for budget in BUDGETS[bench]:
                    kwargs = {
                        "query": question.question,
                        "user_id": BENCH_USER,
                        "budget_tokens": budget,
                        "reference_time": at,
                        "candidates": CONTEXT_CANDIDATES,
                        "reinforce": False,
                        **options,
                    }
                    found = causes(memory, capture, kwargs, gold_turns, counter.count)
                    rows.append({"bench": bench, "question": question.id, "budget": budget, "k": k, "causes": found})
            memory.close()
    return rows


def table(records: list[dict[str, Any]], by_category: bool = False) -> str:
    """Mean of each metric per data set (and fold, and category) and variant."""
    groups: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    variants: list[str] = []
    for record in records:
        if record["variant"] not in variants:
            variants.append(record["variant"])
        names = [record["bench"]]
        if record["fold"]:
            names.append(f"{record['bench']} {record['fold']}")
        if by_category:
            names.append(f"{record['bench']} / {record['category']}")
        for name in names:
            for metric, value in record.items():
                if (metric.startswith("recall") or metric.startswith("budget")) and value is not None:
                    groups[(name, metric)][record["variant"]].append(value)
    lines = ["| set | metric | n | " + " | ".join(variants) + " |", "|---|---|---|" + "---|" * len(variants)]
    for (name, metric), by_variant in groups.items():
        n = len(next(iter(by_variant.values())))
        cells = [f"{sum(v) / len(v):.3f}" if v else "" for v in (by_variant.get(x, []) for x in variants)]
        lines.append(f"| {name} | {metric} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("build", "eval", "show", "diagnose"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/retrieval-lab"))
    parser.add_argument("--bench", default="locomo,longmemeval,beam", help="data sets, comma-separated")
    parser.add_argument("--variants", type=Path, help="a JSON file of variants (default: engram and hybrid)")
    parser.add_argument("--limit", type=int, help="only the first N conversations of each set")
    parser.add_argument("--out", type=Path, help="eval: write every record here (JSON lines)")
    parser.add_argument("--categories", action="store_true", help="also a row per category")
    args = parser.parse_args()
    benches = [b.strip() for b in args.bench.split(",") if b.strip()]
    unknown = [b for b in benches if b not in FILES]
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(unknown)}; choose from {', '.join(FILES)}")
    if args.action == "show":
        if not args.out:
            parser.error("show needs --out (a file written by eval)")
        records = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
        print(table(records, args.categories))
        return 0
    for bench in benches:
        if not FILES[bench].exists():
            print(f"error: {FILES[bench]} not found (the development data lives in ../shared/data)", file=sys.stderr)
            return 2
    if args.action == "build":
        for bench in benches:
            build(args.work, bench)
        return 0
    raw = json.loads(args.variants.read_text()) if args.variants else {"engram": {}, "hybrid": {"config": "hybrid"}}
    variants = parse_variants(raw)
    if args.action == "diagnose":  # the first variant only
        rows = [r for bench in benches for r in diagnose(args.work, bench, next(iter(variants.values())), args.limit)]
        if args.out:
            args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(summary(rows))
        return 0
    started = time.perf_counter()
    records = [r for bench in benches for r in evaluate(args.work, bench, variants, args.limit)]
    print(f"{len(records)} records in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in records))
    print(table(records, args.categories))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
