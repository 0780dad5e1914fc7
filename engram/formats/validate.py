"""Check a whole loaded dataset against what ``Memory.add`` accepts, before anything is written.

The loaders check the shape of a file; ``Memory.add`` checks each message (lengths, names,
metadata, identifiers). An import that found a bad message only when adding it would leave the
conversations before it stored, so importers run :func:`check_conversations` first: it
applies the same pure validation (:func:`engram.model.messages.parse_messages`) to every
batch an import would add, and names the first bad record. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engram.errors import ValidationError
from engram.formats.dataset import Conversation, Session
from engram.model.limits import MAX_BATCH_MESSAGES
from engram.model.messages import parse_messages
from engram.model.scope import Scope
from engram.model.timeutil import now

_MESSAGE_INDEX = re.compile(r"messages\[(\d+)\]")


def check_conversations(
    conversations: Sequence[Conversation],
    *,
    tenant: str,
    user_id: str | None = None,
    batch: int = MAX_BATCH_MESSAGES,
) -> None:
    """Validate every message an import of ``conversations`` would add, as it would add them.

    Args:
        conversations: the conversations to import, in order.
        tenant: the tenant they go to.
        user_id: the user every conversation goes to, instead of its own id.
        batch: how many messages one ``add`` call takes.

    Raises:
        ValidationError: naming the conversation (its position and id), the session, the
            message (its position and id) and what is wrong; nothing has been written.
    """
    moment = now()
    for number, conversation in enumerate(conversations, start=1):
        where = f"conversation {number} of {len(conversations)} ({conversation.id!r})"
        for session in conversation.sessions:
            for start in range(0, len(session.messages), batch):
                try:
                    scope = Scope(tenant, user_id or conversation.id, None, session.id)
                    parse_messages(
                        session.messages[start : start + batch], scope, timestamp=session.timestamp, now=moment
                    )
                except ValidationError as exc:
                    problem = _locate(str(exc), session, start)
                    raise ValidationError(
                        f"{where}, session {session.id!r}: {problem}. Nothing was imported: fix the file "
                        "(or leave that conversation out with --conversation / --limit) and run it again"
                    ) from exc


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
