"""``engram bench``: run LoCoMo, LongMemEval or BEAM with their official scoring rules.

Examples::

    engram bench locomo --data ../shared/data/locomo10.json --out bench/locomo
    engram bench longmemeval --data ../shared/data/longmemeval_s_dev.json.gz --systems engram,bm25,dense
    engram bench beam --data ../shared/data/beam/500K --limit 40

Question answering runs when a reader is configured: ``--reader-url`` and ``--reader-model``
(or ``ENGRAM_BENCH_READER_URL`` / ``ENGRAM_BENCH_READER_MODEL``), the key from
``ENGRAM_BENCH_READER_KEY`` (never from the command line, never written to a report). The
judge defaults to the reader (``--judge-model``, ``ENGRAM_BENCH_JUDGE_*``).

Also runnable without the main CLI: ``python -m engram.bench.cli locomo --data ...``.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engram.bench.report import fmt, main_k
from engram.bench.systems import parse_systems
from engram.errors import EngramError, ValidationError
from engram.read import retrieve as _retrieve

RECIPES = _retrieve.RECIPES
#: Engram's default recipe, the one ``Memory()`` uses.
DEFAULT_RECIPE: str = getattr(_retrieve, "DEFAULT_RECIPE", "hybrid")

ENV_READER_URL = "ENGRAM_BENCH_READER_URL"
ENV_READER_MODEL = "ENGRAM_BENCH_READER_MODEL"
ENV_READER_KEY = "ENGRAM_BENCH_READER_KEY"
ENV_JUDGE_URL = "ENGRAM_BENCH_JUDGE_URL"
ENV_JUDGE_MODEL = "ENGRAM_BENCH_JUDGE_MODEL"
ENV_JUDGE_KEY = "ENGRAM_BENCH_JUDGE_KEY"


def parse_ints(value: str, option: str) -> tuple[int, ...]:
    """``"5,10,20"`` → ``(5, 10, 20)``: sorted, without repeats, all positive."""
    try:
        numbers = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError as exc:
        raise ValidationError(
            f"{option} must be comma-separated integers, e.g. 5,10,20 (got {value!r})"
        ) from exc
    if not numbers or numbers[0] < 1:
        raise ValidationError(f"{option} must name positive integers (got {value!r})")
    return tuple(numbers)


def _options(command: Callable[..., Any], *, folder: bool = False) -> Callable[..., Any]:
    options = [
        click.option(
            "--data",
            "data",
            required=True,
            type=click.Path(exists=True, dir_okay=folder, file_okay=not folder, path_type=Path),
            help="The benchmark folder (a split, e.g. beam/500K)." if folder else "The benchmark file (.json or .json.gz).",
        ),
        click.option(
            "--out",
            "out",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Output folder [default: bench-results/<benchmark>]. A rerun resumes.",
        ),
        click.option("--limit", type=int, default=None, help="Only the first N questions."),
        click.option("--k", "ks", default="5,10,20", show_default=True, help="Cut-offs for recall and nDCG."),
        click.option(
            "--budgets",
            default="500,1000,2000,4000",
            show_default=True,
            help="Context budgets (tokens) for evidence-in-budget.",
        ),
        click.option(
            "--systems",
            default="engram,bm25,dense",
            show_default=True,
            help="Systems side by side: engram, bm25, dense, mem0 (optional extra).",
        ),
        click.option(
            "--config",
            "recipe",
            default=DEFAULT_RECIPE,
            show_default=True,
            type=click.Choice(sorted(RECIPES)),
            help="Engram's named retrieval recipe.",
        ),
        click.option(
            "--embedder",
            default="onnx",
            show_default=True,
            type=click.Choice(["onnx", "hashing"]),
            help="onnx: the default model; hashing: a fast deterministic test embedder.",
        ),
        click.option(
            "--workers",
            type=int,
            default=1,
            show_default=True,
            help="Conversations processed in parallel (threads).",
        ),
        click.option(
            "--embedding-cache",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Keep vectors in this folder between runs (the report says how many were reused).",
        ),
        click.option("--fresh", is_flag=True, help="Discard earlier results in --out instead of resuming."),
        click.option(
            "--store",
            default=None,
            metavar="URL",
            help="A postgresql:// database: adds the engram-postgres system (Engram on PostgreSQL, "
            "one tenant per conversation) next to engram on SQLite, in the same run.",
        ),
        click.option(
            "--reader-url",
            envvar=ENV_READER_URL,
            default=None,
            help=f"OpenAI-compatible base URL of the QA reader [env {ENV_READER_URL}].",
        ),
        click.option(
            "--reader-model",
            envvar=ENV_READER_MODEL,
            default=None,
            help=f"Reader model [env {ENV_READER_MODEL}]; key from {ENV_READER_KEY}.",
        ),
        click.option(
            "--judge-url", envvar=ENV_JUDGE_URL, default=None, help="Judge base URL [default: reader's]."
        ),
        click.option(
            "--judge-model", envvar=ENV_JUDGE_MODEL, default=None, help="Judge model [default: reader's]."
        ),
        click.option(
            "--qa-budget",
            type=int,
            default=2000,
            show_default=True,
            help="Context budget (tokens) the reader answers from.",
        ),
        click.option(
            "--engram-llm",
            is_flag=True,
            help="Give Engram the LLM of ENGRAM_LLM_BASE_URL / _MODEL / _API_KEY (cost is reported per turn).",
        ),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group("bench")
def bench() -> None:
    """Run public long-term-memory benchmarks with their official scoring rules.

    Every run writes per-question records (resumable), summary.json, report.md and PNG plots
    to --out, with the data file's sha256, the code version, the settings and the machine.
    """


@bench.command("locomo")
@_options
def locomo(**options: Any) -> None:
    """LoCoMo: evidence recall per category (1-4; 5 adversarial apart), budgets, cost, QA."""
    _run("locomo", options)


@bench.command("longmemeval")
@_options
def longmemeval(**options: Any) -> None:
    """LongMemEval: session/turn recall and nDCG per question type, budgets, cost, QA."""
    _run("longmemeval", options)


def _folder_options(command: Callable[..., Any]) -> Callable[..., Any]:
    return _options(command, folder=True)


@bench.command("beam")
@_folder_options
def beam(**options: Any) -> None:
    """BEAM: evidence recall per ability (abstention apart), budgets, cost (a split folder, e.g. beam/500K)."""
    _run("beam", options)


def _qa_scorer(benchmark: str, options: dict[str, Any]) -> Any:
    url, model = options["reader_url"], options["reader_model"]
    if not url and not model:
        return None
    if benchmark == "beam":
        raise ValidationError("question answering is not available for BEAM yet (its judge uses rubrics)")
    if not (url and model):
        raise ValidationError("question answering needs both --reader-url and --reader-model")
    from engram.bench.qa import ChatClient, Endpoint, QAScorer

    reader = ChatClient(Endpoint(url, model, os.environ.get(ENV_READER_KEY) or None))
    judge_url = options["judge_url"] or url
    judge_model = options["judge_model"] or model
    if (judge_url, judge_model) == (url, model):
        judge = reader
    else:
        key = os.environ.get(ENV_JUDGE_KEY) or os.environ.get(ENV_READER_KEY) or None
        judge = ChatClient(Endpoint(judge_url, judge_model, key))
    return QAScorer(benchmark, reader, judge)


def _engram_llm() -> Any:
    """The LLM of Engram's settings (``ENGRAM_LLM_*`` or the settings file), built as every door builds it."""
    from engram.build import build_llm
    from engram.settings import load_settings

    llm = build_llm(load_settings().llm)
    if llm is None:
        raise ValidationError("--engram-llm needs ENGRAM_LLM_BASE_URL and ENGRAM_LLM_MODEL (or [llm] in $ENGRAM_CONFIG)")
    return llm


def _run(benchmark: str, options: dict[str, Any]) -> None:
    from engram.bench.runner import BenchConfig, Runner

    config = BenchConfig(
        benchmark=benchmark,
        data=options["data"],
        out=options["out"] or Path("bench-results") / benchmark,
        systems=_with_store(parse_systems(options["systems"]), options["store"]),
        ks=parse_ints(options["ks"], "--k"),
        budgets=parse_ints(options["budgets"], "--budgets"),
        recipe=options["recipe"],
        embedder=options["embedder"],
        limit=options["limit"],
        workers=options["workers"],
        fresh=options["fresh"],
        qa_budget=options["qa_budget"],
        embedding_cache=options["embedding_cache"],
        store=options["store"],
        progress=not options["quiet"],
        command=_command_line(),
    )
    qa = _qa_scorer(benchmark, options)
    llm = _engram_llm() if options["engram_llm"] else None
    try:
        document = Runner(config, qa=qa, llm=llm).run()
    finally:
        if qa is not None:
            qa.close()
        if llm is not None and hasattr(llm, "close"):
            llm.close()
    _print_summary(document, config.out)


def _with_store(systems: list[str], store: str | None) -> tuple[str, ...]:
    """The systems, with ``engram-postgres`` added when ``--store`` names a database."""
    from engram.store.opening import is_store_url

    if store is None:
        return tuple(systems)
    if not is_store_url(store):
        raise ValidationError(f"--store takes a postgresql:// URL, not {store!r}")
    return tuple(systems) if "engram-postgres" in systems else (*systems, "engram-postgres")


def _command_line() -> str:
    """The command as typed (best effort), for the report."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("cli.py", "__main__.py")):
        argv[0:1] = ["python", "-m", "engram.bench.cli"]
    elif argv:
        argv[0] = Path(argv[0]).name
    return shlex.join(argv)


def _print_summary(document: dict[str, Any], out: Path) -> None:
    run = document["run"]
    ks = run["config"]["ks"]
    k = main_k(ks)
    budget = run["config"]["budgets"][len(run["config"]["budgets"]) // 2]
    click.echo(f"{run['benchmark']}: {run['data']['questions']} questions in {run['wall_seconds']:.0f} s")
    for name, summary in document["systems"].items():
        o = summary["overall"]
        click.echo(
            f"  {name:<7} recall_all@{k} {fmt(o.get(f'recall_all@{k}'))}  recall_any@{k} "
            f"{fmt(o.get(f'recall_any@{k}'))}  ndcg_any@{ks[0]} {fmt(o.get(f'ndcg_any@{ks[0]}'))}  "
            f"budget_recall@{budget} {fmt(o.get(f'budget_recall@{budget}'))}  search p50 "
            f"{fmt(o.get('search_p50_ms'))} ms"
        )
    cut = run["data"].get("messages_cut")
    if cut:
        click.echo(
            f"  {cut} messages cut to the limit: evidence in their tail cannot be found until long "
            "messages are chunked"
        )
    click.echo(f"report: {out / 'report.md'}")


def main(args: list[str] | None = None) -> int:
    """Run the ``bench`` group as a program, mapping Engram errors to exit codes."""
    try:
        bench.main(args=args, prog_name="engram bench", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("interrupted", err=True)
        return 130
    except EngramError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
