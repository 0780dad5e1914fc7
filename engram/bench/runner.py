"""Run a benchmark: ingest each haystack into every system, ask its questions, record, report.

Each question is answered from stores that hold only its own conversation (LoCoMo, BEAM) or
haystack (LongMemEval), ingested session by session through the public API with the
haystack's timestamps; the question is asked at its ``reference_time`` (LongMemEval's
``question_date``; for LoCoMo and BEAM, which have none, just after the last turn).

Retrieval is scored the official way: for LongMemEval every system searches *user turns
only* (the official corpus), while contexts are built from the whole history. Texts are
embedded once per run through one shared :class:`engram.CachedEmbedder`, so sessions that
recur across haystacks cost nothing the second time, and the baselines reuse Engram's
vectors.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from engram.bench.baselines import conversation_turns
from engram.bench.haystacks import (
    ConversationInfo,
    cut_messages,
    load_dataset,
    make_embedder,
    prepare,
    reference_time,
)
from engram.bench.progress import Progress
from engram.bench.results import ResultFiles, code_version, cpu_seconds, load_average, machine, peak_rss_bytes
from engram.bench.scoring import BENCHMARKS, budget_record, retrieval_record, summarize
from engram.bench.systems import CONTEXT_CANDIDATES, MemoCounter, Shared, Shown, System, make_system
from engram.errors import ValidationError
from engram.formats.dataset import Conversation, Dataset, Question
from engram.providers.embedder import Embedder
from engram.providers.tokens import TokenCounter, default_counter
from engram.read import retrieve as _retrieve
from engram.read.retrieve import RECIPES

#: Systems that embed the haystack: their ingest time includes embedding it.
EMBEDDING_SYSTEMS = frozenset({"engram", "dense", "mem0"})
#: Ranked turns requested per search: enough for session-level k and equal to Engram's
#: candidate pool, so one search gives the same top k as a search with that k would.
MIN_DEPTH = 50


@dataclass(frozen=True)
class BenchConfig:
    """What to run. ``out`` receives the records, summary, report and plots."""

    benchmark: str
    data: Path
    out: Path
    systems: tuple[str, ...] = ("engram", "bm25", "dense")
    ks: tuple[int, ...] = (5, 10, 20)
    budgets: tuple[int, ...] = (500, 1000, 2000, 4000)
    recipe: str = getattr(_retrieve, "DEFAULT_RECIPE", "hybrid")
    embedder: str = "onnx"
    limit: int | None = None
    workers: int = 1
    fresh: bool = False
    qa_budget: int = 2000
    embedding_cache: Path | None = None
    store: str | None = None  # the PostgreSQL URL of the engram-postgres system
    progress: bool = True
    command: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        """Turns requested per search."""
        return max(MIN_DEPTH, *self.ks)

    def check(self) -> None:
        """Reject settings that cannot run.

        Raises:
            ValidationError: naming the setting.
        """
        if self.benchmark not in BENCHMARKS:
            raise ValidationError(f"unknown benchmark {self.benchmark!r}; choose {', '.join(BENCHMARKS)}")
        if not self.ks or any(k < 1 for k in self.ks):
            raise ValidationError("--k needs positive integers, e.g. 5,10,20")
        if not self.budgets or any(b < 1 for b in self.budgets):
            raise ValidationError("--budgets needs positive integers, e.g. 500,1000,2000,4000")
        if self.recipe not in RECIPES:
            raise ValidationError(f"unknown --config {self.recipe!r}; choose one of {', '.join(RECIPES)}")
        if self.limit is not None and self.limit < 1:
            raise ValidationError("--limit must be at least 1")
        if self.workers < 1:
            raise ValidationError("--workers must be at least 1")


class Runner:
    """Runs one benchmark configuration; see :func:`run_benchmark`."""

    def __init__(
        self,
        config: BenchConfig,
        *,
        qa: Any = None,
        embedder: Embedder | None = None,
        counter: TokenCounter | None = None,
        llm: Any = None,
    ) -> None:
        config.check()
        self.config = config
        self.qa = qa
        self.llm = llm
        self.embedder = embedder or make_embedder(config.embedder, config.embedding_cache)
        self.counter = MemoCounter(counter or default_counter())
        self.timing: dict[str, float] = {"ingest_s": 0.0, "questions_s": 0.0}
        self._timing_lock = threading.Lock()

    def fingerprint(self, dataset: Dataset) -> dict[str, Any]:
        """The settings that must match for records of two runs to be pooled."""
        import engram

        return {
            "benchmark": self.config.benchmark,
            "data_sha256": dataset.sha256,
            "ks": list(self.config.ks),
            "budgets": list(self.config.budgets),
            "recipe": self.config.recipe,
            "embedding_model": self.embedder.model_id,
            "depth": self.config.depth,
            "context_candidates": CONTEXT_CANDIDATES,
            "qa": self.qa.describe() if self.qa is not None else None,
            "qa_budget": self.config.qa_budget if self.qa is not None else None,
            "engram_llm": repr(self.llm) if self.llm is not None else None,
            "engram_version": engram.__version__,
        }

    def run(self) -> dict[str, Any]:
        """Run, write every output file, and return the summary document."""
        from engram.bench.report import write_reports

        config = self.config
        started_at = datetime.now().astimezone()
        wall = time.perf_counter()
        dataset = load_dataset(config.benchmark, config.data)
        selected = dataset.questions[: config.limit] if config.limit else list(dataset.questions)
        files = ResultFiles(config.out, self.fingerprint(dataset), fresh=config.fresh)
        by_conversation: dict[str, list[Question]] = {}
        for question in selected:
            by_conversation.setdefault(question.conversation_id, []).append(question)
        conversations = {c.id: c for c in dataset.conversations}
        missing = [cid for cid in by_conversation if cid not in conversations]
        if missing:
            raise ValidationError(f"questions name conversations the file does not hold: {missing[:3]}")
        todo = [
            (conversations[cid], qs)
            for cid, qs in by_conversation.items()
            if any((s, q.id) not in files.done for q in qs for s in config.systems)
        ]
        pending = sum(
            1 for _, qs in todo for q in qs if any((s, q.id) not in files.done for s in config.systems)
        )
        progress = Progress(pending, f"{config.benchmark}", enabled=config.progress)
        try:
            with tempfile.TemporaryDirectory(prefix="engram-bench-") as workdir:
                shared = Shared(self.embedder, self.counter, config.recipe, Path(workdir), self.llm, config.store)

                def work(item: tuple[Conversation, list[Question]]) -> None:
                    self._conversation(item[0], item[1], shared, files, progress)

                if config.workers == 1:
                    for item in todo:
                        work(item)
                else:
                    with ThreadPoolExecutor(max_workers=config.workers) as pool:
                        list(pool.map(work, todo))
        finally:
            progress.close()
            flush = getattr(getattr(self.embedder, "inner", None), "flush", None)
            if callable(flush):
                flush()  # keep the vectors computed so far, even when interrupted
        chosen = {q.id for q in selected}
        records = [r for r in files.questions if r["question_id"] in chosen and r["system"] in config.systems]
        needed = set(by_conversation)
        ingests = [
            r for r in files.ingests if r["conversation_id"] in needed and r["system"] in config.systems
        ]
        document = summarize(records, ingests, config.benchmark, config.systems)
        document["run"] = self._run_info(dataset, selected, started_at, time.perf_counter() - wall, pending)
        now = {key: document["run"][key] for key in ("started_at", "command", "wall_seconds", "cpu_seconds")}
        document["run"]["history"] = [*files.history, {**now, "questions_run": pending}]
        files.write_run({"fingerprint": self.fingerprint(dataset), **document["run"]})
        write_reports(config.out, document)
        return document

    def _conversation(
        self,
        conversation: Conversation,
        questions: list[Question],
        shared: Shared,
        files: ResultFiles,
        progress: Progress,
    ) -> None:
        info = prepare(conversation, questions, self.counter)
        wanted = [s for s in self.config.systems if any((s, q.id) not in files.done for q in questions)]
        systems: dict[str, System] = {}
        embed_seconds = self._embed_haystack(conversation) if wanted else 0.0
        try:
            for name in wanted:
                system = make_system(name, shared)
                systems[name] = system
                stats = system.ingest(conversation)
                if name in EMBEDDING_SYSTEMS:  # each would have had to embed the haystack itself
                    stats = replace(stats, seconds=stats.seconds + embed_seconds)
                with self._timing_lock:
                    self.timing["ingest_s"] += stats.seconds
                files.add_ingest(
                    {
                        "kind": "ingest",
                        "system": name,
                        "conversation_id": conversation.id,
                        "haystack_tokens": info.haystack_tokens,
                        "embed_seconds": embed_seconds if name in EMBEDDING_SYSTEMS else 0.0,
                        **asdict(stats),
                    }
                )
            for question in questions:
                names = [name for name in systems if (name, question.id) not in files.done]
                if not names:
                    continue
                started = time.perf_counter()
                at = reference_time(question, info.last_time)
                # What every system's search embeds, in one call: timed apart, then found in the cache
                wanted = [text for name in names for text in systems[name].query_texts(question.question, reference_time=at)]
                embed_started = time.perf_counter()
                if wanted:
                    self.embedder.embed(list(dict.fromkeys(wanted)))
                embed_ms = (time.perf_counter() - embed_started) * 1000
                for name in names:
                    record = self._question(systems[name], question, info, at)
                    record["query_embed_ms"] = embed_ms
                    files.add_question(record)
                with self._timing_lock:
                    self.timing["questions_s"] += time.perf_counter() - started
                progress.advance()
        finally:
            for system in systems.values():
                system.close()

    def _embed_haystack(self, conversation: Conversation) -> float:
        """Embed every turn of a haystack in one call; returns the seconds it took.

        One call lets the embedder sort all texts by length, so a batch pads short user turns
        to other short turns rather than to a long answer: about twice as fast on LongMemEval
        as embedding session by session, the way ``Memory.add`` calls would. The vectors land
        in the shared cache, where Engram's ``add`` and the dense baseline find them.
        """
        texts = [turn.embedding_text() for turn in conversation_turns(conversation)]
        started = time.perf_counter()
        if texts:
            self.embedder.embed(texts)
        seconds = time.perf_counter() - started
        with self._timing_lock:
            self.timing["embed_s"] = self.timing.get("embed_s", 0.0) + seconds
        return seconds

    def _question(
        self, system: System, question: Question, info: ConversationInfo, at: datetime | None
    ) -> dict[str, Any]:
        config = self.config
        user_only = config.benchmark == "longmemeval"
        started = time.perf_counter()
        ranked = system.search(question.question, k=config.depth, reference_time=at, user_only=user_only)
        search_ms = (time.perf_counter() - started) * 1000
        metrics = retrieval_record(
            benchmark=config.benchmark,
            ranked=ranked,
            gold_turns=question.evidence_ids,
            gold_sessions=question.evidence_sessions,
            turn_to_session=info.turn_session,
            ks=config.ks,
        )
        budget: dict[str, float | None] = {}
        excerpted: dict[str, int] = {}
        tokens: dict[str, int] = {}
        context_ms: dict[str, float] = {}
        shown: dict[int, Shown] = {}
        for size in config.budgets:
            started = time.perf_counter()
            shown[size] = system.context(question.question, budget_tokens=size, reference_time=at)
            context_ms[str(size)] = (time.perf_counter() - started) * 1000
            budget[str(size)] = budget_record(shown[size].message_ids, question.evidence_ids)
            tokens[str(size)] = shown[size].tokens
            excerpted[str(size)] = len(shown[size].excerpt_ids.intersection(question.evidence_ids))
        late = sum(
            1 for turn in question.evidence_ids if at is not None and info.turn_time.get(turn, at) > at
        )
        record: dict[str, Any] = {
            "kind": "question",
            "system": system.name,
            "question_id": question.id,
            "conversation_id": question.conversation_id,
            "category": question.category,
            "abstention": question.abstention,
            "gold_turns": len(question.evidence_ids),
            "gold_sessions": len(question.evidence_sessions),
            "gold_after_reference": late,
            "reference_time": at.isoformat() if at else None,
            **metrics,
            "budget": budget,
            "gold_as_excerpt": excerpted,
            "context_tokens": tokens,
            "search_ms": search_ms,
            "context_ms": context_ms,
            "ranked": ranked[: max(config.ks)],
        }
        if self.qa is not None:
            context = shown.get(config.qa_budget) or system.context(
                question.question, budget_tokens=config.qa_budget, reference_time=at
            )
            record["qa"] = self.qa.score(question, context.text)
        return record

    def _run_info(
        self, dataset: Dataset, selected: Sequence[Question], started_at: datetime, wall: float, pending: int
    ) -> dict[str, Any]:
        from engram.bench.metrics import stemming

        config = self.config
        inner = getattr(self.embedder, "inner", None)
        conversations = {q.conversation_id for q in selected}
        return {
            "benchmark": config.benchmark,
            "data": {
                "path": str(config.data),
                "sha256": dataset.sha256,
                "questions": len(selected),
                "questions_in_file": len(dataset.questions),
                "conversations": len(conversations),
                "turns": sum(
                    len(s.messages)
                    for c in dataset.conversations
                    if c.id in conversations
                    for s in c.sessions
                ),
                "messages_cut": cut_messages(dataset, conversations),
            },
            "code": code_version(),
            "machine": machine(),
            "config": {
                "systems": list(config.systems),
                "ks": list(config.ks),
                "budgets": list(config.budgets),
                "recipe": config.recipe,
                "embedder": config.embedder,
                "embedding_model": self.embedder.model_id,
                "token_counter": getattr(self.counter, "name", type(self.counter).__name__),
                "limit": config.limit,
                "workers": config.workers,
                "search_depth": config.depth,
                "context_candidates": CONTEXT_CANDIDATES,
                "longmemeval_retrieval_over": "user turns only (official corpus)",
                "context_over": "all turns",
                "qa": self.qa.describe() if self.qa is not None else None,
                "qa_budget": config.qa_budget if self.qa is not None else None,
                "engram_llm": repr(self.llm) if self.llm is not None else None,
                "token_f1_stemming": stemming(),
                "embedding_cache": str(config.embedding_cache) if config.embedding_cache else None,
                "embedding_batches": "per haystack, one length-sorted call (shared cache)",
                **config.extra,
            },
            "command": config.command,
            "started_at": started_at.isoformat(timespec="seconds"),
            "wall_seconds": wall,
            "cpu_seconds": cpu_seconds(),
            "load_average": load_average(),
            "questions_run_now": pending,
            "timing": dict(self.timing),
            "peak_rss_bytes": peak_rss_bytes(),
            "embedder": {
                # texts the model computed: misses of the shared cache not found on disk either
                "texts_embedded": getattr(inner, "misses", getattr(self.embedder, "misses", None)),
                "cache_hits": getattr(self.embedder, "hits", None),
                "disk_cache_loaded": getattr(inner, "loaded", None),
                "disk_cache_hits": getattr(inner, "hits", None),
            },
        }


def run_benchmark(config: BenchConfig, *, qa: Any = None, embedder: Embedder | None = None) -> dict[str, Any]:
    """Run a benchmark and write ``questions.jsonl``, ``summary.json``, ``report.md`` and plots.

    Args:
        config: what to run.
        qa: a :class:`engram.bench.qa.QAScorer` to answer and judge, or None (LLM-free).
        embedder: override the embedder ``config.embedder`` names (tests).

    Returns:
        The summary document (also written to ``summary.json``).
    """
    return Runner(config, qa=qa, embedder=embedder).run()
