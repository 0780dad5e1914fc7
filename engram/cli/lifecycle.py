"""The lifecycle commands: facts, profile, episodes, consolidate, forget, pin. Thin, like the rest."""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import datetime

import click

from engram.cli import render
from engram.cli.base import Settings, json_option, pass_settings
from engram.cli.commands import AGENT, AS_OF, USER
from engram.model.fact import KINDS


@click.command("facts")
@USER
@AGENT
@AS_OF
@click.option("--subject", metavar="NAME", help="Only facts about this person.")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind of fact.")
@click.option(
    "--history", "include_history", is_flag=True, help="Every version, not just those true --as-of."
)
@click.option("--id", "fact_id", metavar="FACT_ID", help="Show every version of this fact (its history).")
@click.option("--archived", "include_archived", is_flag=True, help="Include facts that forgetting archived.")
@json_option
@pass_settings
def facts_command(
    settings: Settings,
    user_id: str,
    agent_id: str | None,
    as_of: datetime | None,
    subject: str | None,
    kind: str | None,
    include_history: bool,
    fact_id: str | None,
    include_archived: bool,
) -> None:
    """Show the facts memory holds about a user, as of now or any date (--as-of).

    Each fact has versions: when it was true (valid) and when memory learned or replaced it.
    """
    memory = settings.memory()
    if fact_id is not None:
        facts = memory.history(fact_id, user_id=user_id)
    else:
        facts = memory.facts(
            user_id=user_id,
            agent_id=agent_id,
            as_of=as_of,
            subject=subject,
            kind=kind,
            include_history=include_history,
            include_archived=include_archived,
        )
    if settings.json:
        render.emit_json({"facts": [render.fact_dict(f) for f in facts]})
        return
    if not facts:
        render.note("no facts")
        return
    rows = [
        [
            f.id,
            f"{f.valid_from:%Y-%m-%d}",
            f"{f.valid_to:%Y-%m-%d}" if f.valid_to else ("now" if f.current else "-"),
            f.kind,
            f.statement,
        ]
        for f in facts
    ]
    render.table(("id", "from", "to", "kind", "statement"), rows)


@click.command("profile")
@USER
@AGENT
@AS_OF
@json_option
@pass_settings
def profile_command(settings: Settings, user_id: str, agent_id: str | None, as_of: datetime | None) -> None:
    """Show the profile: per person, name, location, work, relationships, preferences, plans."""
    profile = settings.memory().profile(user_id=user_id, agent_id=agent_id, as_of=as_of)
    if settings.json:
        render.emit_json(render.profile_dict(profile))
        return
    if not profile.people:
        render.note("no profile yet: nothing memory holds about this user states a fact")
    for person in profile.people:
        click.echo(click.style(person.subject, bold=True))
        for section, entries in person.sections.items():
            click.echo(f"  {section}:")
            for entry in entries:
                click.echo(
                    f"    {entry.statement} (since {entry.since:%Y-%m-%d}, confidence {entry.confidence:.2f})"
                )


@click.command("episodes")
@USER
@AGENT
@click.option("--session", "session_id", metavar="SESSION", help="Only this session.")
@click.option("--limit", default=100, show_default=True, help="Episodes per page.")
@click.option("--cursor", metavar="CURSOR", help="Continue after a previous page (its next_cursor).")
@click.option("--archived", "include_archived", is_flag=True, help="Include archived episodes.")
@json_option
@pass_settings
def episodes_command(
    settings: Settings,
    user_id: str,
    agent_id: str | None,
    session_id: str | None,
    limit: int,
    cursor: str | None,
    include_archived: bool,
) -> None:
    """List episodes (mid-term memory): spans of a session about one topic, with summaries."""
    page = settings.memory().episodes(
        user_id=user_id,
        agent_id=agent_id,
        session_id=session_id,
        limit=limit,
        cursor=cursor,
        include_archived=include_archived,
    )
    if settings.json:
        render.emit_json({"items": [render.episode_dict(e) for e in page], "next_cursor": page.next_cursor})
        return
    rows = [[e.id, f"{e.start:%Y-%m-%d %H:%M}", e.session_id, str(len(e.turn_ids)), e.summary] for e in page]
    render.table(("id", "start", "session", "turns", "summary"), rows)
    if page.next_cursor:
        render.note(f"next page: --cursor {page.next_cursor}")


@click.command("consolidate")
@USER
@click.option("--no-decay", is_flag=True, help="Skip forgetting (archiving faded memories).")
@json_option
@pass_settings
def consolidate_command(settings: Settings, user_id: str, no_decay: bool) -> None:
    """Run the batched sleep-time work: catch up, LLM extraction (if configured), merge, link, decay."""
    report = settings.memory().consolidate(user_id=user_id, decay=not no_decay).as_dict()
    if settings.json:
        render.emit_json(report)
        return
    for key, value in report.items():
        if key != "archived_ids":  # the ids are in --json
            click.echo(f"{key:>22}: {value}")


@click.command("forget")
@USER
@click.option("--session", "session_id", metavar="SESSION", help="Forget this session only.")
@click.argument("ids", metavar="[ID...]", nargs=-1)
@click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation (required when not on a terminal)."
)
@json_option
@pass_settings
def forget_command(
    settings: Settings, user_id: str, session_id: str | None, ids: tuple[str, ...], yes: bool
) -> None:
    """Delete memories everywhere: the whole user, one --session, or these turn/episode/fact IDs.

    Rows, indexes, vectors, episodes, facts and links go, and the bytes are scrubbed from the file.
    """
    what = (
        f"{len(ids)} memor{'y' if len(ids) == 1 else 'ies'}"
        if ids
        else f"session {session_id!r}"
        if session_id
        else "EVERYTHING"
    )
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("not on a terminal: pass --yes to forget without confirmation")
        if not click.confirm(f"Forget {what} of {user_id!r}? This cannot be undone.", err=True):
            raise click.Abort()
    receipt = settings.memory().forget(user_id=user_id, session_id=session_id, ids=list(ids) if ids else None)
    if settings.json:
        render.emit_json(asdict(receipt))
        return
    click.echo(
        f"forgot {len(receipt.turn_ids)} turn(s), {len(receipt.episode_ids)} episode(s), "
        f"{len(receipt.fact_ids)} fact(s), {receipt.links} link(s)"
    )


@click.command("pin")
@click.argument("ids", metavar="ID...", nargs=-1, required=True)
@USER
@click.option("--unpin", is_flag=True, help="Let the memories fade again.")
@click.option("--restore", is_flag=True, help="Bring archived memories back instead.")
@json_option
@pass_settings
def pin_command(settings: Settings, ids: tuple[str, ...], user_id: str, unpin: bool, restore: bool) -> None:
    """Pin memories (turns t_…, episodes e_…, facts f_…) so they never fade; or --unpin, --restore."""
    memory = settings.memory()
    if restore:
        done = memory.restore(ids, user_id=user_id)
    elif unpin:
        done = memory.unpin(ids, user_id=user_id)
    else:
        done = memory.pin(ids, user_id=user_id)
    if settings.json:
        render.emit_json({"ids": done})
    else:
        click.echo(
            f"{'restored' if restore else 'unpinned' if unpin else 'pinned'} {len(done)} of {len(ids)}"
        )


LIFECYCLE_COMMANDS = [
    facts_command,
    profile_command,
    episodes_command,
    consolidate_command,
    forget_command,
    pin_command,
]
