"""The write path's rate against the embedder's, on the same LoCoMo texts (issue 16, item 2).

    .venv/bin/python benchmarks/ingest_rate.py                     # all of LoCoMo, 1 round
    .venv/bin/python benchmarks/ingest_rate.py --limit 3 --rounds 2
    PYTHONPATH=/tmp/before .venv/bin/python benchmarks/ingest_rate.py   # older code, same script
    .venv/bin/python benchmarks/ingest_rate.py --limit 3 --rounds 5 --embedder hashing --no-split   # X alone

Each round, in one process with the real ONNX embedder loaded once, times in turn:

- ``embed/session``: the embedder alone on every session's texts, one call a session (how
  ``Memory.add`` batches them when called once a session);
- ``add``: ``Memory.add`` once a session into a fresh store (cold cache, lifecycle included);
- ``embed/all``: the embedder alone on all the texts in one length-sorted call (how a bulk
  import can batch them), timed before the imports and again after them: the imports' reference
  is the two together (the harmonic mean of the rates, i.e. the mean time), so that the machine's
  drift over a round does not favour either side (``ratios_to_first`` gives them against the
  rate before alone);
- ``import``: ``engram import locomo``'s code path (``engram.cli.importers.ingest``) into a
  fresh store;
- ``import_``: ``Memory.import_`` of the same turns as an Engram JSONL export without vectors
  (so every text is embedded again) into a fresh store.

Each write is reported in turns/s, with its own work besides the model's (``other_s``; in CPU
time ``other_cpu_s``, and ``other_thread_s`` of the thread that writes, which leaves out the
model's and the tokenizer's thread pools and moves least with the load), as a ratio to the embedder on the same texts batched the
way that write batches them (``add`` to ``embed/session``, imports to ``embed/all``), and with
its time split: embed (inside the model), store (``insert_turns``), extract (rule-based facts
and notes), lifecycle (facts reconciled and episodes segmented), and the rest (wall time less
the stages: negative when extraction runs while the model embeds, in another thread). The machine is
shared and noisy: with several rounds the median is reported, the two imports swap places every
other round, and the load average is reported. Every rate is also given in CPU time of the
process (``cpu_ratio``): ONNX Runtime's threads count in it, and it moves less than wall time
with what other processes take of the cores on a busy machine.

The stage probes read three clocks on entering and leaving each timed call (three a turn), about
13 ms of the writing thread for 1,451 turns, counted in every write's time and ``other_*``;
``--no-split`` times the model alone. ``--embedder hashing`` runs the same writes with the
deterministic test embedder: ``other_thread_s`` then measures the write's own work without the
model's noise (the embed/* rates and ratios are the hashing embedder's, meaningless).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engram import HashingEmbedder, Memory, OnnxEmbedder
from engram.formats import load_locomo
from engram.model import Scope
from engram.model.messages import parse_messages
from engram.model.timeutil import now
from engram.providers.embedder import Embedder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo10.json"

#: Module attributes timed for the split: (module, attribute, stage).
PROBES = (
    ("engram.write.ingest", "turn_facts", "extract"),
    ("engram.write.ingest", "annotate", "extract"),
    ("engram.write.ingest", "text_signals", "extract"),  # a new turn's salience and names, for notes and episodes
    ("engram.write.ingest", "absorb", "lifecycle"),
)


class Timers:
    """Seconds spent per stage while installed."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu_seconds: dict[str, float] = defaultdict(float)  # of the whole process
        self.thread_seconds: dict[str, float] = defaultdict(float)  # of the calling thread
        self._local = threading.local()  # the embedder may run in a thread of its own

    def wrap(self, fn: Callable[..., Any], stage: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._local, "depth", 0)
            if depth:  # nested probe: the outer one counts it
                return fn(*args, **kwargs)
            self._local.depth = 1
            started, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - started
                self.cpu_seconds[stage] += time.process_time() - cpu
                self.thread_seconds[stage] += time.thread_time() - own
                self._local.depth = 0

        return timed

    @contextmanager
    def installed(self, memory: Memory, embedder: Embedder, *, split: bool = True) -> Iterator[None]:
        import importlib

        saved: list[tuple[Any, str, Any]] = []
        for module_name, attr, stage in PROBES if split else ():
            module = importlib.import_module(module_name)
            if hasattr(module, attr):
                saved.append((module, attr, getattr(module, attr)))
                setattr(module, attr, self.wrap(getattr(module, attr), stage))
        owned = ((memory.store, "insert_turns", "store"),) if split else ()
        for owner, attr, stage in (*owned, (embedder, "embed", "embed")):
            saved.append((owner, attr, None))
            setattr(owner, attr, self.wrap(getattr(owner, attr), stage))
        try:
            yield
        finally:
            for owner, attr, original in reversed(saved):
                if original is None:
                    delattr(owner, attr)  # the instance attribute hid the class's method
                else:
                    setattr(owner, attr, original)


def session_texts(dataset: Any) -> list[list[str]]:
    """Each session's embedding texts, as the write path builds them."""
    out = []
    for conversation in dataset.conversations:
        for session in conversation.sessions:
            scope = Scope("default", conversation.id, None, session.id)
            turns = parse_messages(session.messages, scope, timestamp=session.timestamp, now=now())
            out.append([turn.embedding_text() for turn in turns])
    return out


def fresh_memory(workdir: Path, name: str, embedder: Embedder) -> Memory:
    memory = Memory(workdir / f"{name}.db", embedder=embedder)
    _ = memory.embedder  # binds the store to the model before timing
    return memory


def timed_write(
    memory: Memory, embedder: Embedder, turns: int, write: Callable[[], object], *, split: bool = True
) -> dict[str, Any]:
    timers = Timers()
    with timers.installed(memory, embedder, split=split):
        started, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
        write()
        took, cpu, own = time.perf_counter() - started, time.process_time() - cpu, time.thread_time() - own
    split = {stage: round(seconds, 2) for stage, seconds in sorted(timers.seconds.items())}
    split["rest"] = round(took - sum(timers.seconds.values()), 2)
    return {
        "seconds": took,
        "turns_per_s": turns / took,
        "cpu_turns_per_s": turns / cpu,
        "split_s": split,
        # the write's own work, besides the model's: wall, CPU of the process, CPU of the thread
        # that runs the write (the least noisy: the model's and tokenizer's pools are not in it)
        "other_s": took - timers.seconds["embed"],
        "other_cpu_s": cpu - timers.cpu_seconds["embed"],
        "other_thread_s": own - timers.thread_seconds["embed"],
    }


def timed_embed(embedder: Embedder, batches: list[list[str]]) -> dict[str, float]:
    """The embedder alone on ``batches``, one call each: turns/s in wall and in CPU time."""
    count = sum(len(batch) for batch in batches)
    started, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        embedder.embed(batch)
    return {
        "turns_per_s": count / (time.perf_counter() - started),
        "cpu_turns_per_s": count / (time.process_time() - cpu),
    }


def one_round(
    embedder: Embedder, dataset: Any, texts: list[list[str]], workdir: Path, n: int, *, split: bool = True
) -> dict[str, Any]:
    from engram.cli.importers import ImportSummary, ingest

    count = sum(len(t) for t in texts)
    result: dict[str, Any] = {}

    result["embed/session"] = timed_embed(embedder, texts)

    memory = fresh_memory(workdir, f"add-{n}", embedder)

    def add_all() -> None:
        for conversation in dataset.conversations:
            for session in conversation.sessions:
                memory.add(
                    session.messages, user_id=conversation.id, session_id=session.id, timestamp=session.timestamp
                )

    result["add"] = timed_write(memory, embedder, count, add_all, split=split)
    export = io.StringIO()
    memory.export(export, with_vectors=False)
    memory.close()

    everything = [[text for session in texts for text in session]]
    before = timed_embed(embedder, everything)

    def cli_import() -> None:
        memory = fresh_memory(workdir, f"import-{n}", embedder)
        summary = ImportSummary("locomo", "-")
        result["import"] = timed_write(
            memory, embedder, count, lambda: ingest(memory, dataset.conversations, summary=summary), split=split
        )
        memory.close()

    def memory_import() -> None:
        memory = fresh_memory(workdir, f"import_-{n}", embedder)
        lines = export.getvalue().splitlines(keepends=True)
        result["import_"] = timed_write(memory, embedder, count, lambda: memory.import_(lines), split=split)
        memory.close()

    for write in (cli_import, memory_import) if n % 2 == 0 else (memory_import, cli_import):
        write()
    # the imports' reference brackets them: the embedder's rate before and after, in one (the
    # machine's speed drifts over a round; the rate before alone is kept as ``embed/all first``)
    after = timed_embed(embedder, everything)
    result["embed/all first"] = before
    result["embed/all"] = {key: 2 / (1 / before[key] + 1 / after[key]) for key in before}
    return result


def ratios_to(rounds: list[dict[str, Any]], stage: str, reference: str) -> list[float]:
    """``stage``'s rate over ``reference``'s in each round (none when the rounds lack it)."""
    return [round(r[stage]["turns_per_s"] / r[reference]["turns_per_s"], 3) for r in rounds if reference in r]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, help="only the first N LoCoMo conversations")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--no-split",
        action="store_true",
        help="time only the model, not each stage: the stage probes' own clock reads (about 13 ms of "
        "other_thread_s for 1,451 turns) are then not in the write's time",
    )
    parser.add_argument(
        "--embedder",
        choices=("onnx", "hashing"),
        default="onnx",
        help="hashing: the deterministic test embedder, to measure the write's own work (other_thread_s) "
        "without the model's noise",
    )
    args = parser.parse_args()
    if not args.data.exists():
        print(f"error: {args.data} not found (the LoCoMo file of ../shared/data)", file=sys.stderr)
        return 2
    embedder: Embedder = OnnxEmbedder() if args.embedder == "onnx" else HashingEmbedder(384)
    dataset = load_locomo(args.data)
    if args.limit:
        dataset = dataclasses.replace(dataset, conversations=dataset.conversations[: args.limit])
    texts = session_texts(dataset)
    embedder.embed(texts[0])  # warm the session
    load = [os.getloadavg()[0]]
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            rounds.append(one_round(embedder, dataset, texts, Path(tmp), n, split=not args.no_split))
            print(f"round {n + 1}: " + json.dumps(rounds[-1], default=lambda x: round(x, 1)), file=sys.stderr)
            load.append(os.getloadavg()[0])
    report: dict[str, Any] = {
        "turns": sum(len(t) for t in texts),
        "sessions": len(texts),
        "rounds": args.rounds,
        "load_1min": [round(each, 2) for each in load],  # before the first round and after each
    }
    for stage in ("embed/session", "embed/all", "embed/all first"):
        report[stage] = {key: round(statistics.median(r[stage][key] for r in rounds), 1) for key in rounds[0][stage]}
    for stage, against in (("add", "embed/session"), ("import", "embed/all"), ("import_", "embed/all")):
        rates = [r[stage]["turns_per_s"] for r in rounds]
        ratios = [r[stage]["turns_per_s"] / r[against]["turns_per_s"] for r in rounds]
        cpu_ratios = [r[stage]["cpu_turns_per_s"] / r[against]["cpu_turns_per_s"] for r in rounds]
        middle = sorted(range(len(rounds)), key=lambda i: ratios[i])[len(rounds) // 2]
        report[stage] = {
            "turns_per_s": round(statistics.median(rates), 1),
            f"ratio_to_{against}": round(statistics.median(ratios), 3),
            "cpu_ratio": round(statistics.median(cpu_ratios), 3),
            "ratios": [round(each, 3) for each in ratios],
            **({"ratios_to_first": to_first} if (to_first := ratios_to(rounds, stage, f"{against} first")) else {}),
            "cpu_ratios": [round(each, 3) for each in cpu_ratios],
            "other_s": round(statistics.median(r[stage]["other_s"] for r in rounds), 3),
            "other_cpu_s": round(statistics.median(r[stage]["other_cpu_s"] for r in rounds), 3),
            "other_thread_s": round(statistics.median(r[stage]["other_thread_s"] for r in rounds), 3),
            "split_s": rounds[middle][stage]["split_s"],
        }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
