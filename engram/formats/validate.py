"""Check a whole loaded dataset against what ``Memory.add`` accepts, before anything is written.

The loaders check the shape of a file; ``Memory.add`` checks each message (lengths, names,
metadata, identifiers). An import that found a bad message only when adding it would leave the
conversations before it stored, so importers run :func:`check_conversations` first: it
applies the same pure validation (:func:`engram.model.messages.parse_messages`) to every
batch an import would add, and names the first bad record. The turns it parsed are kept
(:class:`CheckedImport`), so the import writes them without parsing each message again. Pure:
no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from engram.errors import ValidationError
from engram.formats.dataset import Conversation, Session
from engram.model.limits import MAX_BATCH_MESSAGES
from engram.model.messages import parse_messages
from engram.model.scope import Scope
from engram.model.timeutil import now
from engram.model.turn import NewTurn

_MESSAGE_INDEX = re.compile(r"messages\[(\d+)\]")


@dataclass(slots=True)
class CheckedImport:
    """What :func:`check_conversations` parsed: each ``add`` call's turns, to write as they are.

    Kept only for a session with a time: each of its turns has an explicit event time. A
    session without one is parsed again when written, so that its turns take the time of
    their write, as an ``add`` then would give them (the turn ids are the same either way).
    """

    tenant: str
    user_id: str | None
    batch: int
    #: By (conversation's position, session's position, first message's position).
    turns: dict[tuple[int, int, int], list[NewTurn]] = field(default_factory=dict)

    def take(self, conversation: int, session: int, start: int) -> list[NewTurn] | None:
        """The parsed turns of that call (once: they are let go), or None to parse it again."""
        return self.turns.pop((conversation, session, start), None)


def check_conversations(
    conversations: Sequence[Conversation],
    *,
    tenant: str,
    user_id: str | None = None,
    batch: int = MAX_BATCH_MESSAGES,
) -> CheckedImport:
    """Validate every message an import of ``conversations`` would add, as it would add them.

    Args:
        conversations: the conversations to import, in order.
        tenant: the tenant they go to.
        user_id: the user every conversation goes to, instead of its own id.
        batch: how many messages one ``add`` call takes.

    Returns:
        the parsed turns of each call, for the import to write.

    Raises:
        ValidationError: naming the conversation (its position and id), the session, the
            message (its position and id) and what is wrong; nothing has been written.
    """
    moment = now()
    checked = CheckedImport(tenant, user_id, batch)
    for number, conversation in enumerate(conversations, start=1):
        where = f"conversation {number} of {len(conversations)} ({conversation.id!r})"
        for position, session in enumerate(conversation.sessions):
            for start in range(0, len(session.messages), batch):
                try:
                    scope = Scope(tenant, user_id or conversation.id, None, session.id)
                    turns = parse_messages(
                        session.messages[start : start + batch], scope, timestamp=session.timestamp, now=moment
                    )
                    if session.timestamp is not None:
                        checked.turns[(number - 1, position, start)] = turns
                except ValidationError as exc:
                    problem = _locate(str(exc), session, start)
                    raise ValidationError(
                        f"{where}, session {session.id!r}: {problem}. Nothing was imported: fix the file "
                        "(or leave that conversation out with --conversation / --limit) and run it again"
                    ) from exc
    return checked


def _locate(message: str, session: Session, start: int) -> str:
    """``messages[3].content is empty`` → ``message 3 (id 'D1:4'): content is empty``, counted in the session."""
    match = _MESSAGE_INDEX.search(message)
    if match is None:
        return message
    index = start + int(match.group(1))
    record = session.messages[index] if index < len(session.messages) else {}
    named = f" (id {record['id']!r})" if record.get("id") else ""
    rest = message[match.end() :].lstrip(".: ")
    return f"{message[: match.start()]}message {index}{named}: {rest}".strip()
