"""``engram import``: Engram JSONL exports and the LoCoMo / LongMemEval benchmark files."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from engram.cli import render
from engram.cli.base import Settings, json_option, pass_settings, progress
from engram.errors import EngramError, ValidationError
from engram.formats import jsonl
from engram.formats.dataset import Conversation
from engram.formats.validate import CheckedImport, check_conversations
from engram.model.limits import MAX_BATCH_MESSAGES
from engram.portable import AHEAD_BATCHES, IMPORT_BATCH, AddCall, WindowProgress

FORMATS = ("jsonl", "locomo", "longmemeval")


@dataclass
class ImportSummary:
    """What an import wrote."""

    format: str
    path: str
    conversations: int = 0
    sessions: int = 0
    turns: int = 0
    added: int = 0
    duplicates: int = 0
    elapsed_s: float = 0.0
    users: list[str] = field(default_factory=list)
    sha256: str | None = None

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "path": self.path,
            "conversations": self.conversations,
            "sessions": self.sessions,
            "turns": self.turns,
            "added": self.added,
            "duplicates": self.duplicates,
            "elapsed_s": round(self.elapsed_s, 3),
            "turns_per_s": round(self.turns_per_s, 1),
            "users": self.users,
            "sha256": self.sha256,
        }

    def show(self) -> None:
        users = ", ".join(self.users[:5]) + (f" … ({len(self.users)} in all)" if len(self.users) > 5 else "")
        where = f"{self.conversations} conversation(s), {self.sessions} session(s), " if self.sessions else ""
        click.echo(
            f"imported {where}{self.turns} turn(s): {self.added} added, {self.duplicates} duplicate(s) "
            f"in {self.elapsed_s:.1f} s ({self.turns_per_s:.0f} turns/s)"
        )
        if users:
            click.echo(f"users: {users}")


def ingest(
    memory: Any,
    conversations: Sequence[Conversation],
    *,
    summary: ImportSummary,
    user_id: str | None = None,
    update: Callable[[int], None] = lambda _n: None,
    checked: CheckedImport | None = None,
) -> ImportSummary:
    """Add every session of ``conversations``, as ``Memory.add`` would; one user per conversation.

    Sessions are written in batches of about :data:`~engram.portable.IMPORT_BATCH` turns
    (one transaction for the turns, one unit of work per user for the facts and episodes);
    the texts of :data:`~engram.portable.AHEAD_BATCHES` batches are embedded ahead of their
    writes, shortest first, at the model's bulk rate instead of a session's. Every
    message is validated first (:func:`~engram.formats.validate.check_conversations`), so a
    bad record stops the import before anything is written, and the turns it parsed are the ones
    written (each message is parsed once). A failure while writing (a full
    disk, a busy store) is reported with what was stored; running the same import again
    resumes, since turns already stored are skipped.

    Args:
        memory: the :class:`engram.Memory` to write to.
        conversations: from a benchmark loader or the bundled sample.
        summary: filled in and returned.
        user_id: store every conversation under this user instead of its own id.
        update: called with a number of messages as the import advances (the embedding moves it
            in proportion to the texts embedded, :class:`~engram.portable.WindowProgress`).
        checked: what the caller's :func:`~engram.formats.validate.check_conversations` of
            ``conversations`` gave (for this memory's tenant and ``user_id``); else it is run here.

    Raises:
        ValidationError: a record is bad; nothing was written.
        EngramError: writing failed; the message says what was stored before.
    """
    if checked is None or (checked.tenant, checked.user_id, checked.batch) != (
        memory.tenant,
        user_id,
        MAX_BATCH_MESSAGES,
    ):
        checked = check_conversations(conversations, tenant=memory.tenant, user_id=user_id, batch=MAX_BATCH_MESSAGES)
    started = time.perf_counter()
    Batch = list[tuple[str, str, AddCall]]  # (conversation id, session id, call)
    batches: list[Batch] = [[]]
    for number, conversation in enumerate(conversations):
        user = user_id or conversation.id
        summary.conversations += 1
        summary.users.append(user)
        for position, session in enumerate(conversation.sessions):
            summary.sessions += 1
            # the chunks ``Memory.add`` would get, so the turn ids are the same as theirs
            for start in range(0, len(session.messages), MAX_BATCH_MESSAGES):
                chunk = session.messages[start : start + MAX_BATCH_MESSAGES]
                turns = checked.take(number, position, start)
                call = AddCall(chunk, user, session.id, session.timestamp, turns=turns)
                batches[-1].append((conversation.id, session.id, call))
                if sum(len(call.messages) for _, _, call in batches[-1]) >= IMPORT_BATCH:
                    batches.append([])

    def where(first: Batch, last: Batch) -> str:
        (conversation, session, _), (last_conversation, last_session, _) = first[0], last[-1]
        span = f" to conversation {last_conversation!r}, session {last_session!r}"
        return f"in conversation {conversation!r}, session {session!r}" + (
            span if (last_conversation, last_session) != (conversation, session) else ""
        )

    batches = [batch for batch in batches if batch]
    for first in range(0, len(batches), AHEAD_BATCHES):
        window = batches[first : first + AHEAD_BATCHES]
        calls = [[call for _, _, call in batch] for batch in window]
        shown = WindowProgress(update, sum(len(call.messages) for batch in calls for call in batch))
        try:
            ready = memory._embed_ahead(
                [turn for batch in calls for call in batch for turn in call.turns or ()], progress=shown.embedded
            )
        except EngramError as exc:
            raise _partial(exc, summary.turns, where(window[0], window[-1])) from None
        done = 0
        for batch, batch_calls in zip(window, calls, strict=True):
            try:
                result = memory._add_many(batch_calls, ready=ready)
            except EngramError as exc:
                raise _partial(exc, summary.turns, where(batch, batch)) from None
            written = sum(len(call.messages) for call in batch_calls)
            summary.turns += written
            summary.added += result.added
            summary.duplicates += result.duplicates
            done += written
            shown.written(done)
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _partial(exc: EngramError, stored: int, where: str) -> EngramError:
    """``exc`` with what was imported before it and how to resume, in its message."""
    done = f"{stored} turn(s) were stored before it" if stored else "nothing was stored"
    exc.args = (f"{exc} ({where}; {done}; run the same import again to resume: stored turns are skipped)",)
    return exc


def _select(
    conversations: list[Conversation], wanted: Sequence[str], limit: int | None, what: str
) -> list[Conversation]:
    if wanted:
        by_id = {conversation.id: conversation for conversation in conversations}
        missing = [conversation_id for conversation_id in wanted if conversation_id not in by_id]
        if missing:
            known = ", ".join(list(by_id)[:10]) + (" …" if len(by_id) > 10 else "")
            raise ValidationError(f"no {what} {', '.join(map(repr, missing))} in the file; it has {known}")
        conversations = [by_id[conversation_id] for conversation_id in dict.fromkeys(wanted)]
    return conversations[:limit] if limit is not None else conversations


def _import_jsonl(settings: Settings, path: str) -> ImportSummary:
    with click.open_file(path, "r", encoding="utf-8") as source:
        lines = source.readlines()
    # checked before the store is opened, so that a refused file does not even create it
    checked = jsonl.check_lines(lines, tenant=settings.tenant)
    summary = ImportSummary("jsonl", path)
    written = 0

    def count(n: int) -> None:
        nonlocal written
        written += n

    with progress(len(checked.turns), "importing", enabled=not settings.json) as update:
        try:
            result = settings.memory(create=True)._import_checked(checked, progress=update, written=count)
        except EngramError as exc:
            if not written:
                raise  # the file is checked whole before anything is written
            raise _partial(exc, written, f"importing {path}") from None
    summary.turns, summary.added, summary.duplicates = len(result.turns), result.added, result.duplicates
    summary.elapsed_s = result.elapsed_ms / 1000
    summary.users = sorted({turn.scope.user_id for turn in result.turns})
    summary.conversations = len(summary.users)
    return summary


@click.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(FORMATS))
@click.argument("path", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--user",
    "user_id",
    metavar="USER",
    help="Store the conversation under this user id (locomo/longmemeval; needs exactly "
    "one conversation, e.g. with --conversation).",
)
@click.option(
    "--conversation",
    "conversations",
    multiple=True,
    metavar="ID",
    help="Only this conversation: a LoCoMo sample_id or a LongMemEval question_id (repeatable).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Only the first N conversations (LoCoMo) or questions (LongMemEval).",
)
@json_option
@pass_settings
def import_command(
    settings: Settings,
    fmt: str,
    path: str,
    user_id: str | None,
    conversations: tuple[str, ...],
    limit: int | None,
) -> None:
    """Import PATH in FORMAT: an Engram JSONL export, LoCoMo or LongMemEval.

    \b
    jsonl        an `engram export` file ('-' for stdin); vectors are reused when the
                 embedding model matches, otherwise the text is embedded again.
    locomo       e.g. locomo10.json: each conversation becomes a user (its sample_id),
                 each session a session (session_1, ...).
    longmemeval  e.g. longmemeval_s.json(.gz): each question's haystack becomes a user
                 (the question_id).

    Importing the same file again adds nothing (turn ids are stable). A progress bar with
    ETA is drawn on stderr when it is a terminal.

    \b
    Examples:
      engram import jsonl backup.jsonl
      engram import locomo locomo10.json --conversation conv-26 --user alice
      engram import longmemeval longmemeval_s.json.gz --limit 5
    """
    if fmt == "jsonl":
        if user_id or conversations or limit:
            raise click.UsageError("--user, --conversation and --limit do not apply to jsonl imports")
        summary = _import_jsonl(settings, path)
    else:
        if path == "-":
            raise click.UsageError(f"{fmt} files are read from a path, not stdin")
        from engram.formats import load_locomo, load_longmemeval

        dataset = (load_locomo if fmt == "locomo" else load_longmemeval)(Path(path))
        what = "conversation" if fmt == "locomo" else "question"
        selected = _select(dataset.conversations, conversations, limit, what)
        if user_id is not None and len(selected) != 1:
            raise click.UsageError(
                f"--user needs exactly one conversation, but {len(selected)} are selected: "
                "add --conversation ID"
            )
        # checked before the store is opened, so that a refused file does not even create it
        checked = check_conversations(selected, tenant=settings.tenant, user_id=user_id, batch=MAX_BATCH_MESSAGES)
        total = sum(len(session.messages) for conversation in selected for session in conversation.sessions)
        summary = ImportSummary(fmt, path, sha256=dataset.sha256)
        with progress(total, f"importing {fmt}", enabled=not settings.json) as update:
            memory = settings.memory(create=True)
            ingest(memory, selected, summary=summary, user_id=user_id, update=update, checked=checked)
    if settings.json:
        render.emit_json(summary.as_dict())
    else:
        summary.show()
