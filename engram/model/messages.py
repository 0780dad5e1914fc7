"""From chat-format messages to validated turns: the pure first step of the write path."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from engram.errors import ValidationError
from engram.model.chat import MESSAGE_KEY, describe
from engram.model.limits import MAX_BATCH_MESSAGES
from engram.model.scope import Scope, check_id
from engram.model.timeutil import parse_timestamp
from engram.model.turn import (
    NewTurn,
    check_metadata,
    check_role,
    check_text,
    content_hash,
    turn_id,
)


def parse_messages(
    messages: object,
    scope: Scope,
    *,
    timestamp: object = None,
    metadata: object = None,
    now: datetime,
) -> list[NewTurn]:
    """Validate chat-format messages and give each its stable id.

    Args:
        messages: a string (one user message), one message dict, or a list of message dicts
            with ``role`` and ``content`` and optionally ``name`` (the speaker), ``timestamp``,
            ``metadata`` and ``id`` (an idempotency key of the caller's). OpenAI's formats are
            accepted in full (tool calls, tool results, content parts, Responses API items;
            see :mod:`engram.model.chat`): the turn indexes their text and keeps the rest, so
            :meth:`Turn.to_message` gives each back exactly.
        scope: where the turns go; must name a session.
        timestamp: event time of messages that carry none; default ``now``.
        metadata: merged under each message's own metadata.
        now: the time of the call.

    Idempotency: a turn's id hashes its scope, role, name, content, its *explicit* event time
    (from the message or the call; a time filled in from ``now`` is left out) and its ordinal
    among identical messages of the call, or the caller's ``id`` when one is given. Adding the
    same messages again yields the same ids, which the store keeps once.

    Raises:
        ValidationError: naming the first bad message and field; nothing is written.
    """
    if scope.session_id is None:
        raise ValidationError("session_id is required to add messages")
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    elif isinstance(messages, Mapping):
        messages = [messages]
    if not isinstance(messages, Sequence) or isinstance(messages, (bytes, bytearray)):
        raise ValidationError("messages must be a list of {'role', 'content'} objects")
    if not messages:
        raise ValidationError("messages is empty: nothing to add")
    if len(messages) > MAX_BATCH_MESSAGES:
        raise ValidationError(
            f"{len(messages):,} messages in one call; the limit is {MAX_BATCH_MESSAGES:,}. "
            "Send them in several calls."
        )
    base_meta = check_metadata(metadata)
    if MESSAGE_KEY in base_meta:
        raise ValidationError(f"metadata: the key {MESSAGE_KEY!r} is reserved")
    call_time = parse_timestamp(timestamp) if timestamp is not None else None
    seen: Counter[tuple[Any, ...]] = Counter()
    turns: list[NewTurn] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, Mapping):
            raise ValidationError(f"{where} must be an object with 'role' and 'content'")
        described = describe(message, where)
        role = check_role(described.role, f"{where}.role")
        content = check_text(described.text, f"{where}.content")
        name = check_id(described.name, f"{where}.name", required=False)
        explicit = (
            parse_timestamp(message["timestamp"], f"{where}.timestamp")
            if message.get("timestamp") is not None
            else call_time
        )
        typed = "type" in message  # a Responses API item: its "id" and "metadata" are its own
        own_meta = check_metadata(message.get("metadata"), f"{where}.metadata") if not typed else {}
        if MESSAGE_KEY in own_meta:
            raise ValidationError(f"{where}.metadata: the key {MESSAGE_KEY!r} is reserved")
        meta = {**base_meta, **own_meta}
        if described.kept is not None:
            meta[MESSAGE_KEY] = described.kept
        # An item's own "id" is not an idempotency key: the Agents SDK gives several items one
        # placeholder id.
        caller_id = check_id(message.get("id"), f"{where}.id", required=False) if not typed else None
        if caller_id is not None:
            identity: tuple[Any, ...] = ("id", caller_id)
        else:
            key: tuple[Any, ...] = (role, name, content, explicit.isoformat() if explicit else None)
            if described.kept is not None:  # tool call ids, parts: two calls with one text differ
                key = (*key, json.dumps(described.kept, sort_keys=True, ensure_ascii=False))
            identity = (*key, seen[key])
            seen[key] += 1
        turns.append(
            NewTurn(
                id=turn_id(scope, *identity),
                scope=scope,
                role=role,
                content=content,
                timestamp=explicit or now,
                content_hash=content_hash(content),
                name=name,
                metadata=meta,
            )
        )
    return turns
