"""Turns: the lossless record of every message. Immutable; the source of all other memory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engram.errors import ValidationError
from engram.model.chat import MESSAGE_KEY, message_of
from engram.model.limits import MAX_CONTENT_BYTES, MAX_METADATA_BYTES, ROLES
from engram.model.scope import Scope


@dataclass(frozen=True, slots=True)
class Turn:
    """One stored message.

    Attributes:
        id: stable id, derived from the turn's scope and identity (see :func:`turn_id`).
        scope: tenant, user, agent and session the turn belongs to (session always set).
        role: ``user``, ``assistant``, ``system`` or ``tool``.
        content: the message text, exactly as given.
        name: the speaker's name, if given.
        timestamp: when the message was said (event time, UTC).
        recorded_at: when Engram stored it (UTC).
        metadata: caller-supplied JSON object, stored as given.
        content_hash: sha256 of ``content``; embeddings are cached by it.
        seq: the store's insertion order; breaks ties between equal timestamps.
    """

    id: str
    scope: Scope
    role: str
    content: str
    timestamp: datetime
    recorded_at: datetime
    content_hash: str
    name: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    seq: int = 0

    @property
    def session_id(self) -> str:
        """The session the turn was said in."""
        assert self.scope.session_id is not None
        return self.scope.session_id

    @property
    def speaker(self) -> str:
        """The speaker's name, or the role when no name was given."""
        return self.name or self.role

    def embedding_text(self) -> str:
        """The text that is embedded and indexed: the speaker's name with what was said."""
        return f"{self.name}: {self.content}" if self.name else self.content

    def to_message(self) -> dict[str, Any]:
        """The message exactly as it was added (without Engram's ``timestamp``/``metadata``).

        A plain message is ``{"role", "content"}`` (and ``name``); a tool call, a tool result,
        content parts or a Responses API item come back verbatim (:mod:`engram.model.chat`).
        """
        return message_of(self.role, self.content, self.name, self.metadata)


@dataclass(frozen=True, slots=True)
class NewTurn:
    """A validated message, ready to be stored (what :func:`parse_messages` returns)."""

    id: str
    scope: Scope
    role: str
    content: str
    timestamp: datetime
    content_hash: str
    name: str | None
    metadata: Mapping[str, Any]
    recorded_at: datetime | None = None  # set when importing: keeps the original record time

    def embedding_text(self) -> str:
        """Same as :meth:`Turn.embedding_text`."""
        return f"{self.name}: {self.content}" if self.name else self.content


def content_hash(text: str) -> str:
    """sha256 hex of the UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: ``json.dumps`` with these options builds an encoder a call: one built once writes the same text.
_ID_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def metadata_json(metadata: Mapping[str, Any]) -> str:
    """A turn's metadata as a store keeps it: compact JSON, other than ASCII kept as it is."""
    return _COMPACT_JSON.encode(dict(metadata))


def turn_id(scope: Scope, *parts: object) -> str:
    """A stable turn id: ``t_`` and 20 hex digits of a hash over the scope and ``parts``."""
    payload = _ID_JSON.encode([scope.tenant, scope.user_id, scope.agent_id, scope.session_id, *parts])
    return "t_" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def check_text(value: object, what: str) -> str:
    """Validate message text: a non-blank string of valid UTF-8 within the size limit."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{what} is not valid UTF-8 (byte {exc.start})") from exc
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, not {type(value).__name__}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{what} is not valid UTF-8 (lone surrogate at character {exc.start})") from exc
    if not value.strip():
        raise ValidationError(f"{what} is empty")
    if size > MAX_CONTENT_BYTES:
        raise ValidationError(
            f"{what} is {size:,} bytes; the limit is {MAX_CONTENT_BYTES:,} bytes (1 MiB) per message. "
            "Split longer documents into several messages."
        )
    if "\x00" in value:
        raise ValidationError(f"{what} contains a NUL character")
    return value


def check_metadata(value: object, what: str = "metadata", *, decoded: bool = False) -> dict[str, Any]:
    """Validate a metadata object: a JSON-serialisable dict within the size limit.

    Returns a copy through JSON (string keys, lists for tuples), unless ``decoded``: the value
    was just decoded from JSON text and is no one else's (an import's line), so that copy would
    equal it; it is returned as it is.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{what} must be a JSON object, not {type(value).__name__}")
    try:
        encoded = _COMPACT_JSON.encode(dict(value))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is not JSON-serialisable: {exc}") from exc
    try:
        size = len(encoded.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{what} is not valid UTF-8") from exc
    if MESSAGE_KEY in value:  # a message's kept parts: bounded like content, not like metadata
        kept = _COMPACT_JSON.encode(value[MESSAGE_KEY]).encode("utf-8")
        size -= len(kept)
        if len(kept) > MAX_CONTENT_BYTES + 64:
            raise ValidationError(f"{what}.{MESSAGE_KEY} is {len(kept):,} bytes; the limit is {MAX_CONTENT_BYTES:,}")
    if size > MAX_METADATA_BYTES:
        raise ValidationError(f"{what} is {size:,} bytes; the limit is {MAX_METADATA_BYTES:,}")
    if decoded and type(value) is dict:
        return value
    result: dict[str, Any] = json.loads(encoded)
    return result


def check_role(value: object, what: str = "role") -> str:
    """Validate a role."""
    if value not in ROLES:
        raise ValidationError(f"{what} {value!r} is not one of {', '.join(ROLES)}")
    return str(value)
