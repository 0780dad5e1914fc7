"""The everyday commands: each parses its options, makes one library call and renders the result."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import IO, Any

import click

from engram.cli import render
from engram.cli.base import TIMESTAMP, Settings, json_option, pass_settings
from engram.errors import NotFoundError, ValidationError
from engram.model.limits import MIN_EXCERPT_TOKENS, ROLES
from engram.model.options import CONTEXT, SEARCH
from engram.read.retrieve import DEFAULT_RECIPE, RECIPES

USER = click.option("--user", "user_id", required=True, metavar="USER", help="Whose memory (user id).")
AGENT = click.option("--agent", "agent_id", metavar="AGENT", help="Only this agent's memories of the user.")
AS_OF = click.option(
    "--as-of",
    "as_of",
    type=TIMESTAMP,
    help="Ask as of this time (reference time): later turns are invisible. Default: now.",
)

RECIPE = click.option(
    "--recipe",
    type=click.Choice(list(RECIPES)),
    help=f"Retrieval recipe. Default: the configured one ($ENGRAM_RETRIEVAL, else {DEFAULT_RECIPE}).",
)


def _metadata(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc.msg}") from exc
    if not isinstance(parsed, dict):
        raise click.BadParameter('must be a JSON object, e.g. \'{"topic": "travel"}\'')
    return parsed


def _read_messages(source: IO[str]) -> Any:
    """The chat-format messages of ``--file`` (validated by the library, not here)."""
    name = getattr(source, "name", "the file")
    try:
        return json.load(source)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{name} is not JSON: {exc.msg} (line {exc.lineno})") from exc


@click.command("add")
@USER
@click.option(
    "--session",
    "session_id",
    required=True,
    metavar="SESSION",
    help="The conversation the message belongs to.",
)
@AGENT
@click.option("--role", type=click.Choice(ROLES), help="Role of the message (default: user).")
@click.option("--name", metavar="NAME", help="The speaker's name, e.g. Alice.")
@click.option(
    "--timestamp", type=TIMESTAMP, help="When the message was said (ISO 8601 or Unix seconds). Default: now."
)
@click.option("--metadata", callback=_metadata, metavar="JSON", help="A JSON object stored with the turn(s).")
@click.option(
    "--file",
    "file",
    type=click.File("r", encoding="utf-8"),
    help="A JSON file ('-' for stdin) holding a list of chat-format messages "
    "({role, content, name?, timestamp?, metadata?, id?}).",
)
@click.argument("text", required=False)
@json_option
@pass_settings
def add_command(
    settings: Settings,
    user_id: str,
    session_id: str,
    agent_id: str | None,
    role: str | None,
    name: str | None,
    timestamp: datetime | None,
    metadata: dict[str, Any] | None,
    file: IO[str] | None,
    text: str | None,
) -> None:
    """Store one message (TEXT, or '-' for stdin) or the messages of --file.

    Adding the same message again (same scope, speaker, text and --timestamp) stores nothing
    new: it is reported as a duplicate.

    \b
    Examples:
      engram add --user alice --session s1 "I moved to Lisbon last week"
      echo "Lisbon is sunny" | engram add --user alice --session s1 -
      engram add --user alice --session s2 --file messages.json
    """
    if file is not None:
        if text is not None or role is not None or name is not None:
            raise click.UsageError("give either TEXT (with --role/--name) or --file, not both")
        messages: Any = _read_messages(file)
    else:
        if text is None or text == "-":
            if text is None and sys.stdin.isatty():
                raise click.UsageError("give the message as TEXT, '-' to read stdin, or --file")
            text = sys.stdin.read().rstrip("\r\n")
        messages = {"role": role or "user", "content": text}
        if name is not None:
            messages["name"] = name
    result = settings.memory(create=True).add(
        messages,
        user_id=user_id,
        session_id=session_id,
        agent_id=agent_id,
        timestamp=timestamp,
        metadata=metadata,
    )
    if settings.json:
        render.emit_json(render.add_dict(result))
    else:
        render.show_add(result)


@click.command("search")
@click.argument("query")
@USER
@AGENT
@click.option("--k", "-k", "k", default=SEARCH.k, show_default=True, help="How many hits.")
@click.option(
    "--session", "sessions", multiple=True, metavar="SESSION", help="Only this session (repeatable)."
)
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES), help="Only this role (repeatable).")
@click.option("--since", type=TIMESTAMP, help="Only turns said at or after this time.")
@click.option("--until", type=TIMESTAMP, help="Only turns said at or before this time.")
@AS_OF
@RECIPE
@click.option("--archived", "include_archived", is_flag=True, help="Also turns that forgetting archived.")
@click.option("--explain", is_flag=True, help="Show every ranking signal of each hit.")
@json_option
@pass_settings
def search_command(
    settings: Settings,
    query: str,
    user_id: str,
    agent_id: str | None,
    k: int,
    sessions: tuple[str, ...],
    roles: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    as_of: datetime | None,
    recipe: str | None,
    include_archived: bool,
    explain: bool,
) -> None:
    """Find the turns that answer QUERY (hybrid BM25 + vector search, fused by rank).

    \b
    Example:
      engram search "where does alice live?" --user alice --k 5 --explain
    """
    filters = {
        key: value
        for key, value in {
            "session_ids": sessions,
            "roles": roles,
            "since": since,
            "until": until,
            "include_archived": include_archived,
        }.items()
        if value
    }
    result = settings.memory().search(
        query,
        user_id=user_id,
        agent_id=agent_id,
        k=k,
        filters=filters or None,
        reference_time=as_of,
        explain=explain,
        config=recipe,
    )
    if settings.json:
        render.emit_json(render.search_dict(result))
    else:
        render.show_search(result, explain=explain)


@click.command("context")
@click.argument("query")
@USER
@AGENT
@click.option(
    "--session",
    "session_id",
    metavar="SESSION",
    help="The current session: its latest turns come first, verbatim (working memory).",
)
@click.option("--budget", default=CONTEXT.budget_tokens, show_default=True, help="Token budget of the context.")
@click.option(
    "--excerpt-tokens",
    type=click.IntRange(min=MIN_EXCERPT_TOKENS),
    default=CONTEXT.excerpt_tokens,
    show_default=True,
    help="Show longer retrieved turns as excerpts (the user's own words: 4x longer).",
)
@click.option("--whole", is_flag=True, help="Show every retrieved turn whole, never as an excerpt.")
@AS_OF
@RECIPE
@json_option
@pass_settings
def context_command(
    settings: Settings,
    query: str,
    user_id: str,
    agent_id: str | None,
    session_id: str | None,
    budget: int,
    excerpt_tokens: int,
    whole: bool,
    as_of: datetime | None,
    recipe: str | None,
) -> None:
    """Print a prompt-ready memory for QUERY that fits in --budget tokens.

    Each line carries a citation id (W1 for working memory, M1 for retrieved memories);
    --json maps them to turn ids.

    \b
    Example:
      engram context "what should I pack?" --user alice --session s3 --budget 500
    """
    result = settings.memory().context(
        query,
        user_id=user_id,
        session_id=session_id,
        agent_id=agent_id,
        budget_tokens=budget,
        reference_time=as_of,
        excerpt_tokens=None if whole else excerpt_tokens,
        config=recipe,
    )
    if settings.json:
        render.emit_json(render.context_dict(result))
    else:
        render.show_context(result)


@click.command("get")
@click.argument("turn_id", metavar="ID")
@USER
@AGENT
@json_option
@pass_settings
def get_command(settings: Settings, turn_id: str, user_id: str, agent_id: str | None) -> None:
    """Show one turn by its ID (exit 3 when the user has no such turn)."""
    turn = settings.memory().get(turn_id, user_id=user_id, agent_id=agent_id)
    if settings.json:
        render.emit_json(render.turn_dict(turn))
    else:
        render.show_turn(turn)


@click.command("list")
@USER
@AGENT
@click.option("--session", "session_id", metavar="SESSION", help="Only this session.")
@click.option("--limit", default=100, show_default=True, help="Turns per page.")
@click.option("--cursor", metavar="CURSOR", help="Continue after a previous page (its next_cursor).")
@json_option
@pass_settings
def list_command(
    settings: Settings,
    user_id: str,
    agent_id: str | None,
    session_id: str | None,
    limit: int,
    cursor: str | None,
) -> None:
    """List a user's turns in chronological order, one page at a time."""
    page = settings.memory().list(
        user_id=user_id, session_id=session_id, agent_id=agent_id, limit=limit, cursor=cursor
    )
    if settings.json:
        render.emit_json(render.page_dict(page))
    else:
        render.show_page(page)


@click.command("delete")
@click.argument("turn_ids", metavar="ID...", nargs=-1, required=True)
@USER
@click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation (required when not on a terminal)."
)
@json_option
@pass_settings
def delete_command(settings: Settings, turn_ids: tuple[str, ...], user_id: str, yes: bool) -> None:
    """Delete turns everywhere they are stored (row, full-text index, vectors, caches).

    Exits 3 when some ID was not found (the others are still deleted).
    """
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("not on a terminal: pass --yes to delete without confirmation")
        if not click.confirm(f"Delete {len(turn_ids)} turn(s) of {user_id!r}?", err=True):
            raise click.Abort()
    receipt = settings.memory().delete(turn_ids, user_id=user_id)
    if settings.json:
        render.emit_json(render.receipt_dict(receipt))
    else:
        render.show_receipt(receipt)
    if receipt.not_found_ids:
        raise NotFoundError(f"no turn {', '.join(receipt.not_found_ids)} for user {user_id!r}")


@click.command("export")
@click.argument("dest", metavar="[PATH|-]", default="-", type=click.File("w", encoding="utf-8", atomic=True))
@click.option("--user", "user_id", metavar="USER", help="Only this user's turns (default: the whole tenant).")
@click.option("--no-vectors", is_flag=True, help="Leave the embeddings out (smaller; re-embedded on import).")
@json_option
@pass_settings
def export_command(settings: Settings, dest: IO[str], user_id: str | None, no_vectors: bool) -> None:
    """Write the tenant's turns (or one user's) as Engram JSONL to PATH or stdout.

    The file is lossless: `engram import jsonl PATH` restores it into any store.
    """
    count = settings.memory().export(dest, user_id=user_id, with_vectors=not no_vectors)
    to_stdout = getattr(dest, "name", "-") in ("-", "<stdout>")
    if settings.json and not to_stdout:
        render.emit_json({"turns": count, "path": dest.name})
    elif not settings.json:
        render.note(f"exported {count} turn(s) to {'stdout' if to_stdout else dest.name}")


@click.command("stats")
@click.option("--user", "user_id", metavar="USER", help="Only this user (default: the whole tenant).")
@json_option
@pass_settings
def stats_command(settings: Settings, user_id: str | None) -> None:
    """Show counts and sizes of the store, or of one user in it."""
    stats = settings.memory().stats(user_id=user_id)
    if settings.json:
        render.emit_json(render.stats_dict(stats))
    else:
        render.show_stats(stats)


COMMANDS = [
    add_command,
    search_command,
    context_command,
    get_command,
    list_command,
    delete_command,
    export_command,
    stats_command,
]
