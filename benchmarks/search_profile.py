"""Where `Memory.search` spends its time, per stage, and the rankings it returns, exactly.

    # once: ingest the conversations into stores that every later run reads (never writes)
    PYTHONPATH=. .venv/bin/python benchmarks/search_profile.py build --work /tmp/sp --bench locomo
    PYTHONPATH=. .venv/bin/python benchmarks/search_profile.py build --work /tmp/sp --bench longmemeval
    PYTHONPATH=. .venv/bin/python benchmarks/search_profile.py build --work /tmp/sp --bench beam --only 3
    # time and dump, with the code on PYTHONPATH (run it on two checkouts, alternately)
    PYTHONPATH=. .venv/bin/python benchmarks/search_profile.py run --work /tmp/sp --bench locomo \
        --only conv-26,conv-30 --repeat 3 --out after.json
    .venv/bin/python benchmarks/search_profile.py compare before.json after.json

``build`` adds every session of each conversation (LoCoMo, BEAM 500K) or haystack (LongMemEval) through
``Memory.add`` into a store file of its own, with the ONNX embedder behind a disk cache.

``run`` opens those stores read-only and asks each question the way ``engram bench`` does
(LoCoMo a minute after the last turn; LongMemEval at its question date, the user's turns
only). The question's embedding is measured apart: a first pass embeds every question's
embedding text with the real model (timed: ``question_embedding``), and the timed passes
find it in a cache, so what is timed is the search alone. Each timed pass runs twice per
question: once bare (``total``, the headline p50/p95, and ``search_cpu``, the process's CPU
time, steadier on a loaded machine) and once with every store method and the read path's
pure steps wrapped in timers (per-stage p50/p95; ``other`` is the rest: building hits and
turns, Python glue). It writes, per question and recipe, the ranked ids
with their scores (``k`` hits; with ``explain``, every fused candidate) and the turn ids of a
1000-token context, so ``compare`` can say whether two runs ranked everything identically.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perf import latency  # benchmarks/ is on the path when this file is run

import engram
import engram.read.retrieve as retrieve_module
import engram.read.search as search_module
from engram import Memory, SQLiteStore
from engram.bench.embcache import DiskCachedEmbedder
from engram.bench.haystacks import load_dataset, prepare, reference_time
from engram.providers.embedder import CachedEmbedder
from engram.providers.onnx import OnnxEmbedder
from engram.providers.tokens import default_counter

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = {
    "locomo": DATA / "locomo10.json",
    "longmemeval": DATA / "longmemeval_s_dev.json.gz",
    "beam": DATA / "beam" / "500K",
}
USER = "bench"
RECIPES = ("engram", "engram-episodes", "hybrid", "bm25", "vector")
#: The pure steps of the read path timed as stages (module, attribute), where they exist.
STEPS = (
    (search_module, "analyze"),
    (retrieve_module, "fuse_matches"),
    (retrieve_module, "apply_priors"),
)


def build(work: Path, bench: str, only: set[str] | None) -> None:
    """Ingest each conversation into ``work/<bench>/<id>.db`` (skipping stores already built)."""
    dataset = load_dataset(bench, FILES[bench])
    embedder = DiskCachedEmbedder(OnnxEmbedder(), work / "embcache")
    folder = work / bench
    folder.mkdir(parents=True, exist_ok=True)
    for conversation in dataset.conversations:
        path = folder / f"{conversation.id}.db"
        if (only and conversation.id not in only) or path.exists():
            continue
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        mem = Memory(store=SQLiteStore(partial), embedder=embedder)
        turns = 0
        for session in conversation.sessions:
            mem.add(session.messages, user_id=USER, session_id=session.id, timestamp=session.timestamp)
            turns += len(session.messages)
        mem.close()
        embedder.flush()
        partial.rename(path)
        print(f"{conversation.id}: {turns} turns in {time.perf_counter() - started:.1f} s", file=sys.stderr)


class Stages:
    """Timers around a store's methods and the read path's steps, switched on and off."""

    def __init__(self, store: SQLiteStore) -> None:
        self.on = False
        self.spent: dict[str, float] = defaultdict(float)
        names = [n for n in dir(store) if not n.startswith("_") and callable(getattr(store, n))]
        for name in names:
            setattr(store, name, self._timed(f"store.{name}", getattr(store, name)))
        self._saved = [(module, name, getattr(module, name)) for module, name in STEPS if hasattr(module, name)]
        for module, name, fn in self._saved:
            setattr(module, name, self._timed(name, fn))
        self._saved.append((search_module, "embed_all_later", search_module.embed_all_later))
        search_module.embed_all_later = self._embed_all_later  # type: ignore[assignment]

    def _timed(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.on:
                return fn(*args, **kwargs)
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[label] += time.perf_counter() - started

        return timed

    def _embed_all_later(self, embedder: Any, texts: list[str]) -> list[Callable[[], Any]]:
        return [self._timed("embedding_wait", wait) for wait in self._saved[-1][2](embedder, texts)]

    def restore(self) -> None:
        for module, name, fn in self._saved:
            setattr(module, name, fn)


def run(work: Path, bench: str, only: set[str] | None, repeat: int, recipes: tuple[str, ...]) -> dict[str, Any]:
    """Time every question of the chosen conversations and dump their rankings."""
    from engram.read.analyze import analyze, embedding_text

    dataset = load_dataset(bench, FILES[bench])
    onnx = OnnxEmbedder()
    embedder = CachedEmbedder(onnx, max_items=1_000_000)
    totals: list[float] = []
    cpu_totals: list[float] = []  # the process's CPU time: on a loaded machine, steadier than the wall
    stages: dict[str, list[float]] = defaultdict(list)
    embeds: list[float] = []
    rankings: dict[str, Any] = {}
    user_only = bench == "longmemeval"
    filters = {"role": "user"} if user_only else None
    for conversation in dataset.conversations:
        if only and conversation.id not in only:
            continue
        questions = [q for q in dataset.questions if q.conversation_id == conversation.id]
        info = prepare(conversation, questions, default_counter())
        store = SQLiteStore(work / bench / f"{conversation.id}.db", create=False, read_only=True)
        mem = Memory(store=store, embedder=embedder)
        asked = [(q, reference_time(q, info.last_time)) for q in questions]
        speakers = store.speaker_names(search_module.UserScope(mem.tenant, USER))
        for question, at in asked:  # the question's embedding, measured apart (and cached)
            analysis = analyze(question.question, at)
            text = embedding_text(analysis, speakers if analysis.names else frozenset())
            started = time.perf_counter()
            embedder.embed([text])
            embeds.append((time.perf_counter() - started) * 1000)
        for question, at in asked:  # rankings, untimed
            rankings[question.id] = dump(mem, question.question, at, filters, recipes)
        mem.search("warm up", user_id=USER)
        timers = Stages(store)
        try:
            for _ in range(repeat):
                for question, at in asked:
                    started, cpu = time.perf_counter(), time.process_time()
                    mem.search(question.question, user_id=USER, k=10, reference_time=at, filters=filters)
                    totals.append((time.perf_counter() - started) * 1000)
                    cpu_totals.append((time.process_time() - cpu) * 1000)
                    timers.spent.clear()
                    timers.on = True
                    started = time.perf_counter()
                    mem.search(question.question, user_id=USER, k=10, reference_time=at, filters=filters)
                    whole = time.perf_counter() - started
                    timers.on = False
                    for label, seconds in timers.spent.items():
                        stages[label].append(seconds * 1000)
                    stages["other"].append((whole - sum(timers.spent.values())) * 1000)
        finally:
            timers.restore()
        mem.close()
    return {
        "engram": engram.__file__,
        "bench": bench,
        "conversations": sorted(only) if only else "all",
        "questions": len(rankings),
        "repeat": repeat,
        "search_total": latency(totals),
        "search_cpu": latency(cpu_totals),
        "question_embedding": latency(embeds),
        "stages": {label: latency(values) for label, values in sorted(stages.items())},
        "rankings": rankings,
    }


def dump(mem: Memory, question: str, at: Any, filters: Any, recipes: tuple[str, ...]) -> dict[str, Any]:
    """The ranked ids (and scores) of ``question`` under each recipe, and a context's turn ids."""
    out: dict[str, Any] = {}
    for recipe in recipes:
        plain = mem.search(question, user_id=USER, k=10, reference_time=at, filters=filters, config=recipe)
        full = mem.search(
            question, user_id=USER, k=10, reference_time=at, filters=filters, config=recipe, explain=True
        )
        out[recipe] = {
            "hits": [[hit.turn.id, hit.score] for hit in plain.hits],
            "explained": [[hit.turn.id, hit.score] for hit in [*full.hits, *full.left_out]],
            "signals": [hit.signals for hit in full.hits],
        }
    context = mem.context(question, user_id=USER, budget_tokens=1000, reference_time=at, filters=filters, reinforce=False)
    out["context"] = context.turn_ids
    return out


def compare(before: Path, after: Path) -> int:
    """Whether two runs ranked every question identically; prints the first differences."""
    old, new = (json.loads(path.read_text())["rankings"] for path in (before, after))
    differ = [qid for qid in old if old[qid] != new.get(qid)]
    missing = set(old) ^ set(new)
    print(f"{len(old)} questions: {len(differ)} differ, {len(missing)} in one run only")
    for qid in differ[:10]:
        for recipe, was in old[qid].items():
            now = new[qid].get(recipe)
            parts = was.items() if isinstance(was, dict) else [("", was)]
            for part, value in parts:
                other = now.get(part) if isinstance(now, dict) else now
                if value != other:
                    at = next((i for i, (a, b) in enumerate(zip(value, other or [], strict=False)) if a != b), None)
                    shown = (value[at], other[at]) if at is not None else (len(value), len(other or []))
                    print(f"  {qid} {recipe} {part} differs at {at}: {shown[0]} / {shown[1]}")
    return 1 if differ or missing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("build", "run", "compare"))
    parser.add_argument("files", nargs="*", type=Path, help="compare: the two run outputs")
    parser.add_argument("--work", type=Path, default=Path("/tmp/search-profile"))
    parser.add_argument("--bench", choices=sorted(FILES), default="locomo")
    parser.add_argument("--only", help="conversation ids, comma-separated (default: all)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    if args.action == "build":
        build(args.work, args.bench, only)
        return 0
    if args.action == "compare":
        return compare(*args.files)
    report = run(args.work, args.bench, only, args.repeat, tuple(args.recipes.split(",")))
    summary = {key: value for key, value in report.items() if key != "rankings"}
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
