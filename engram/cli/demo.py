"""``engram demo``: import the bundled sample conversation and show what memory gives back."""

from __future__ import annotations

import json
import shlex
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import click

from engram.cli import render
from engram.cli.base import Settings, json_option, progress
from engram.cli.importers import ImportSummary, ingest
from engram.formats.dataset import Conversation, Session
from engram.model.timeutil import iso_or_none, parse_timestamp

SAMPLE = "sample_conversation.json"


@dataclass(frozen=True)
class SampleQuestion:
    """A question about the sample, asked at a point in its timeline."""

    question: str
    reference_time: datetime
    answer: str


def load_sample() -> tuple[Conversation, list[SampleQuestion]]:
    """The bundled sample: Sam's conversation (one minute per turn) and questions about it."""
    raw = json.loads(resources.files("engram").joinpath("data", SAMPLE).read_text(encoding="utf-8"))
    sessions = []
    for session in raw["sessions"]:
        start = parse_timestamp(session["timestamp"])
        messages = [
            {**message, "timestamp": start + timedelta(minutes=index)}
            for index, message in enumerate(session["messages"])
        ]
        sessions.append(Session(session["id"], start, messages))
    questions = [
        SampleQuestion(item["question"], parse_timestamp(item["reference_time"]), item.get("answer", ""))
        for item in raw["questions"]
    ]
    return Conversation(raw["user_id"], sessions), questions


def next_steps(db: Path | str | None, user_id: str, conversation: Conversation) -> list[str]:
    """CLI commands worth trying on the demo store (``db`` ``None``: the store was temporary,
    so the commands name ``demo.db``, which ``engram demo --db demo.db`` keeps)."""
    target = db if db is not None else Path("demo.db")
    base = f"engram --db {shlex.quote(str(target))}"
    last = conversation.sessions[-1]
    steps = [] if db is not None else [f"{base} demo   # keep a demo store to try the rest on"]
    return [
        *steps,
        f'{base} search "Where does {user_id.title()} live now?" --user {user_id} --explain',
        f'{base} context "What pet did Sam get?" --user {user_id} --budget 300 --as-of 2024-07-20',
        f"{base} list --user {user_id} --session {last.id}",
        f'{base} add --user {user_id} --session today "I started learning Spanish"',
        f"{base} stats",
        f"{base} export {user_id}.jsonl --user {user_id}",
    ]


@click.command("demo")
@click.option(
    "--db",
    "demo_db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Store to import the sample into (kept). Default: the global --db when given on the "
    "command line, else a temporary store, deleted when the demo ends.",
)
@click.option("--budget", default=300, show_default=True, help="Token budget of each context shown.")
@json_option
@click.pass_context
def demo_command(ctx: click.Context, demo_db: Path | None, budget: int) -> None:
    """Start here: load a sample conversation and ask memory questions about it.

    Imports the bundled sample (Sam talks with an assistant over six sessions in 2024: moves
    from Portland to Denver, changes job, adopts a dog, swaps espresso for matcha), then for
    each sample question prints the context `engram context` builds at the question's date,
    and finally some commands to try next. Nothing leaves the machine. Without a store named,
    the demo works in a temporary folder and deletes it when it ends, however it ends (an
    error, Ctrl-C).
    """
    settings = ctx.find_object(Settings)
    assert settings is not None
    temporary: tempfile.TemporaryDirectory[str] | None = None
    if demo_db is not None:
        settings.use_db(demo_db)
    elif not settings.db_given:
        temporary = tempfile.TemporaryDirectory(prefix="engram-demo-")
        settings.use_db(Path(temporary.name) / "demo.db")
    try:
        _run(settings, budget, kept=temporary is None)
    finally:
        if temporary is not None:
            settings.close()  # the store's files go with their folder
            temporary.cleanup()


def _run(settings: Settings, budget: int, *, kept: bool) -> None:
    conversation, questions = load_sample()
    user_id = conversation.id
    if not settings.json:
        note = "" if kept else " (temporary: deleted when the demo ends)"
        click.echo(f"Engram demo: store {settings.db}{note}\n")
    memory = settings.memory(create=True)
    turns = sum(len(session.messages) for session in conversation.sessions)
    summary = ImportSummary("sample", SAMPLE)
    with progress(turns, "importing the sample conversation", enabled=not settings.json) as update:
        ingest(memory, [conversation], summary=summary, update=update)
    answers = [
        (
            item,
            memory.context(
                item.question, user_id=user_id, budget_tokens=budget, reference_time=item.reference_time
            ),
        )
        for item in questions
    ]
    steps = next_steps(settings.db if kept else None, user_id, conversation)
    if settings.json:
        render.emit_json({**_as_json(settings.db, summary, answers, steps), "kept": kept})
        return
    summary.show()
    for number, (item, context) in enumerate(answers, start=1):
        click.echo()
        click.secho(f"Q{number}. {item.question}", bold=True)
        click.echo(f"asked {render.when(item.reference_time)}; expected: {item.answer}")
        click.secho(
            f"context ({context.tokens}/{context.budget_tokens} tokens, {context.took_ms:.0f} ms):", dim=True
        )
        click.echo("  " + context.text.replace("\n", "\n  "))
    click.echo()
    click.secho("What to try next:", bold=True)
    for step in steps:
        click.echo(f"  {step}")


def _as_json(
    db: Path | str, summary: ImportSummary, answers: list[tuple[SampleQuestion, Any]], steps: list[str]
) -> dict[str, Any]:
    return {
        "db": str(db),
        "import": summary.as_dict(),
        "questions": [
            {
                "question": item.question,
                "reference_time": iso_or_none(item.reference_time),
                "expected": item.answer,
                "context": render.context_dict(context),
            }
            for item, context in answers
        ],
        "next": steps,
    }
