"""Agent memory commands: ``engram run ...`` (task runs, experience, lessons) and ``engram world
...`` (observations and where things are). Thin: parse, one library call, render."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from engram.agents import serialize
from engram.cli import render
from engram.cli.base import TIMESTAMP, Settings, json_option, pass_settings
from engram.cli.commands import AGENT, AS_OF, USER
from engram.errors import ValidationError
from engram.model.run import OUTCOMES, Step
from engram.read.retrieve import RECIPES

RUN_ID = click.argument("run_id", metavar="RUN_ID")
WHEN = click.option("--at", "timestamp", type=TIMESTAMP, help="When it happened. Default: now.")


def _json_arg(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{what} is not valid JSON: {exc.msg} (pass a JSON value, e.g. '{{\"q\": 1}}')") from exc


@click.group("run")
def run_group() -> None:
    """Record an agent's task runs and bring back their experience.

    \b
    engram run start "Book a flight to Paris" --user sam --agent travel   # prints the run id
    engram run step RUN_ID --user sam --agent travel --tool search --args '{"to": "CDG"}' --result "AF83"
    engram run finish RUN_ID success --user sam --agent travel
    engram run experience "Fly to Paris" --user sam --agent travel
    """


@run_group.command("start")
@click.argument("goal")
@USER
@AGENT
@click.option("--id", "run_id", metavar="RUN_ID", help="The run's id. Default: a new random one.")
@WHEN
@json_option
@pass_settings
def start_command(
    settings: Settings, goal: str, user_id: str, agent_id: str | None, run_id: str | None, timestamp: datetime | None
) -> None:
    """Start a run for GOAL; prints its id."""
    run = settings.memory(create=True).start_run(goal, user_id=user_id, agent_id=agent_id, run_id=run_id, timestamp=timestamp)
    if settings.json:
        render.emit_json({"run_id": run.id})
    else:
        click.echo(run.id)


@run_group.command("step")
@RUN_ID
@click.argument("content", required=False)
@USER
@AGENT
@click.option("--tool", metavar="NAME", help="A tool call: the tool's name.")
@click.option("--args", "args_json", metavar="JSON", help="The call's arguments, as JSON.")
@click.option("--result", "result_text", metavar="TEXT", help="The call's result (JSON is read as JSON).")
@click.option("--error", metavar="TEXT", help="Why the call failed.")
@click.option("--observation", is_flag=True, help="CONTENT is an observation, not a message.")
@click.option("--role", type=click.Choice(["user", "assistant", "system", "tool"]), help="The turn's role.")
@WHEN
@json_option
@pass_settings
def step_command(
    settings: Settings,
    run_id: str,
    content: str | None,
    user_id: str,
    agent_id: str | None,
    tool: str | None,
    args_json: str | None,
    result_text: str | None,
    error: str | None,
    observation: bool,
    role: str | None,
    timestamp: datetime | None,
) -> None:
    """Record a step of RUN_ID: a message (CONTENT), a tool call (--tool), an observation."""
    result: Any = result_text
    if result_text is not None:
        try:
            result = json.loads(result_text)
        except json.JSONDecodeError:
            result = result_text
    run = settings.memory().resume_run(run_id, user_id=user_id, agent_id=agent_id)
    step = run.record(
        content,
        role=role,
        tool=tool,
        args=_json_arg(args_json, "--args"),
        result=result,
        error=error,
        kind="observation" if observation else None,
        timestamp=timestamp,
    )
    if settings.json:
        render.emit_json(serialize.step_json(step))
    else:
        click.echo(f"#{step.index} {step.turn_id}")


@run_group.command("subgoal")
@RUN_ID
@click.argument("title")
@USER
@AGENT
@WHEN
@json_option
@pass_settings
def subgoal_command(
    settings: Settings, run_id: str, title: str, user_id: str, agent_id: str | None, timestamp: datetime | None
) -> None:
    """Open a subgoal TITLE in RUN_ID; prints its id."""
    scope = settings.memory().resume_run(run_id, user_id=user_id, agent_id=agent_id).subgoal(title, timestamp=timestamp)
    if settings.json:
        render.emit_json({"subgoal_id": scope.id})
    else:
        click.echo(scope.id)


@run_group.command("done")
@RUN_ID
@USER
@AGENT
@click.option("--outcome", type=click.Choice(OUTCOMES), default="success", show_default=True)
@click.option("--summary", metavar="TEXT", help="The line that stands for it. Default: made from its steps.")
@click.option("--subgoal", "subgoal_id", metavar="ID", help="Which subgoal. Default: the innermost open one.")
@WHEN
@json_option
@pass_settings
def done_command(
    settings: Settings,
    run_id: str,
    user_id: str,
    agent_id: str | None,
    outcome: str,
    summary: str | None,
    subgoal_id: str | None,
    timestamp: datetime | None,
) -> None:
    """Close a subgoal of RUN_ID with its outcome."""
    run = settings.memory().resume_run(run_id, user_id=user_id, agent_id=agent_id)
    closed = run.close_subgoal(outcome, summary=summary, subgoal_id=subgoal_id, timestamp=timestamp)
    if settings.json:
        render.emit_json(serialize.subgoal_json(closed))
    else:
        click.echo(f"[{closed.id}] {closed.title}: {closed.outcome} — {closed.summary}")


@run_group.command("finish")
@RUN_ID
@click.argument("outcome", type=click.Choice(OUTCOMES))
@USER
@AGENT
@click.option("--score", type=float, help="How well it went (any scale you use).")
@click.option("--cost", type=float, help="What it cost (tokens, money: any unit you use).")
@click.option("--summary", metavar="TEXT", help="One line about how it ended.")
@WHEN
@json_option
@pass_settings
def finish_command(
    settings: Settings,
    run_id: str,
    outcome: str,
    user_id: str,
    agent_id: str | None,
    score: float | None,
    cost: float | None,
    summary: str | None,
    timestamp: datetime | None,
) -> None:
    """End RUN_ID with OUTCOME; its lessons become facts about the agent."""
    run = settings.memory().resume_run(run_id, user_id=user_id, agent_id=agent_id)
    done = run.finish(outcome, score=score, cost=cost, summary=summary, timestamp=timestamp)
    if settings.json:
        render.emit_json(serialize.run_json(done, steps=False))
    else:
        click.echo(f"{done.id}: {done.outcome}, {len(done.steps)} steps")


@run_group.command("show")
@RUN_ID
@USER
@AGENT
@json_option
@pass_settings
def show_command(settings: Settings, run_id: str, user_id: str, agent_id: str | None) -> None:
    """Show a run's timeline: goal, subgoals, steps, outcome."""
    run = settings.memory().get_run(run_id, user_id=user_id, agent_id=agent_id)
    if settings.json:
        render.emit_json(serialize.run_json(run))
        return
    click.echo(f"{run.id} {render.when(run.started_at)} goal: {run.goal}")
    for _, kind, item in run.timeline():
        if isinstance(item, Step):
            click.echo(f"  #{item.index} {render.when(item.timestamp)} {item.content}")
        elif kind == "open":
            click.echo(f"  ▸ [{item.id}] {item.title}")
        else:
            click.echo(f"  ◂ [{item.id}] {item.outcome}: {item.summary}")
    click.echo(f"outcome: {run.outcome or 'unfinished'}" + (f" (score {run.score:g})" if run.score is not None else ""))


@run_group.command("list")
@USER
@AGENT
@click.option("--outcome", type=click.Choice([*OUTCOMES, "unfinished"]), help="Only runs that ended so.")
@click.option("--limit", default=100, show_default=True, help="Most runs shown.")
@json_option
@pass_settings
def list_command(settings: Settings, user_id: str, agent_id: str | None, outcome: str | None, limit: int) -> None:
    """List runs, most recently active first."""
    runs = settings.memory().runs(user_id=user_id, agent_id=agent_id, outcome=outcome, limit=limit)
    if settings.json:
        render.emit_json({"runs": [serialize.run_json(r, steps=False) for r in runs]})
        return
    rows = [[r.id, render.when(r.started_at), r.outcome or "unfinished", str(len(r.steps)), r.goal] for r in runs]
    render.table(("id", "started", "outcome", "steps", "goal"), rows)


@run_group.command("context")
@RUN_ID
@USER
@AGENT
@click.option("--budget", "budget_tokens", default=500, show_default=True, help="Token budget.")
@json_option
@pass_settings
def context_command(settings: Settings, run_id: str, user_id: str, agent_id: str | None, budget_tokens: int) -> None:
    """A run's working memory: the open subgoal verbatim, finished ones as one line each."""
    context = settings.memory().run_context(run_id, user_id=user_id, agent_id=agent_id, budget_tokens=budget_tokens)
    if settings.json:
        render.emit_json(serialize.run_context_json(context))
    else:
        click.echo(context.text)


@run_group.command("experience")
@click.argument("goal")
@USER
@AGENT
@click.option("--budget", "budget_tokens", default=800, show_default=True, help="Token budget.")
@click.option("-k", "k", default=5, show_default=True, help="Most past runs.")
@click.option("--recipe", type=click.Choice(list(RECIPES)), help="Retrieval recipe. Default: the store's.")
@AS_OF
@json_option
@pass_settings
def experience_command(
    settings: Settings,
    goal: str,
    user_id: str,
    agent_id: str | None,
    budget_tokens: int,
    k: int,
    recipe: str | None,
    as_of: datetime | None,
) -> None:
    """Past runs useful for GOAL, best first, with the steps that mattered and the lessons."""
    found = settings.memory().experience(
        goal, user_id=user_id, agent_id=agent_id, budget_tokens=budget_tokens, k=k, reference_time=as_of, config=recipe
    )
    if settings.json:
        render.emit_json(serialize.experience_json(found))
    else:
        click.echo(found.text or "no past runs")


@run_group.command("lessons")
@USER
@AGENT
@AS_OF
@click.option("--history", "include_history", is_flag=True, help="Every version, also those that no longer hold.")
@json_option
@pass_settings
def lessons_command(
    settings: Settings, user_id: str, agent_id: str | None, as_of: datetime | None, include_history: bool
) -> None:
    """The agent's lessons: tool calls that fail, and what to use instead."""
    lessons = settings.memory().lessons(user_id=user_id, agent_id=agent_id, as_of=as_of, include_history=include_history)
    if settings.json:
        render.emit_json({"lessons": [serialize.lesson_json(f) for f in lessons]})
        return
    for fact in lessons:
        click.echo(f"{fact.id} {fact.valid_from:%Y-%m-%d} ×{fact.mentions} {fact.statement}")


@click.group("world")
def world_group() -> None:
    """Record what an agent observes and ask where things are.

    \b
    engram world observe "The red mug is on the kitchen shelf" --user sam
    engram world where "red mug" --user sam --as-of 2024-06-01
    engram world seen-in kitchen --user sam
    """


@world_group.command("observe")
@click.argument("text", required=False)
@USER
@AGENT
@click.option("--subject", metavar="NAME", help="Structured: what is observed.")
@click.option("--attribute", default="location", show_default=True, help="Structured: which property.")
@click.option("--value", metavar="VALUE", help="Structured: its value (for location, the place).")
@click.option("--where", metavar="PLACE", help="Structured: also where the subject is.")
@WHEN
@json_option
@pass_settings
def observe_command(
    settings: Settings,
    text: str | None,
    user_id: str,
    agent_id: str | None,
    subject: str | None,
    attribute: str,
    value: str | None,
    where: str | None,
    timestamp: datetime | None,
) -> None:
    """Store an observation (TEXT, or --subject/--value); prints the facts it set."""
    result = settings.memory(create=True).observe(
        text, user_id=user_id, agent_id=agent_id, subject=subject, attribute=attribute, value=value, where=where, when=timestamp
    )
    if settings.json:
        render.emit_json(serialize.observation_json(result))
        return
    for fact in result.facts:
        click.echo(f"{fact.id} {fact.statement}")


@world_group.command("where")
@click.argument("subject")
@USER
@AS_OF
@json_option
@pass_settings
def where_command(settings: Settings, subject: str, user_id: str, as_of: datetime | None) -> None:
    """Where SUBJECT was last seen, with the places that contain it."""
    found = settings.memory().where(subject, user_id=user_id, as_of=as_of)
    if settings.json:
        render.emit_json(serialize.whereabouts_json(found))
    elif not found.places:
        render.note(f"{found.subject}: not seen anywhere")
    else:
        click.echo(f"{found.subject}: {' < '.join(found.places)} (since {render.when(found.since)})")


@world_group.command("seen-in")
@click.argument("place")
@USER
@AS_OF
@json_option
@pass_settings
def seen_in_command(settings: Settings, place: str, user_id: str, as_of: datetime | None) -> None:
    """What was last seen in PLACE (or in a place inside it)."""
    seen = settings.memory().seen_in(place, user_id=user_id, as_of=as_of)
    if settings.json:
        render.emit_json({"seen": [serialize.sighting_json(s) for s in seen]})
        return
    for sighting in seen:
        click.echo(f"{sighting.subject}: {' < '.join(sighting.path)} (since {render.when(sighting.since)})")


AGENT_COMMANDS = [run_group, world_group]
