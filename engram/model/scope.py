"""Scopes: who a memory belongs to. Every read and write names one; nothing means "all"."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from engram.errors import ValidationError
from engram.model.limits import MAX_ID_CHARS

DEFAULT_TENANT = "default"


def check_id(value: object, what: str, *, required: bool = True) -> str | None:
    """Validate an identifier and return it.

    Identifiers are non-empty strings of at most ``MAX_ID_CHARS`` printable characters with no
    surrounding white space. ``None`` is accepted only when ``required`` is false.
    """
    if value is None:
        if required:
            raise ValidationError(f"{what} is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, not {type(value).__name__}")
    if not value or value.strip() != value:
        raise ValidationError(f"{what} must be non-empty with no leading or trailing spaces")
    if len(value) > MAX_ID_CHARS:
        raise ValidationError(f"{what} is longer than {MAX_ID_CHARS} characters")
    # a printable string holds no character of a C category: only others are looked at one by one
    if not value.isprintable() and any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ValidationError(f"{what} contains control or unassigned characters")
    return value


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a memory lives: tenant → user → optional agent → optional session.

    A tenant is the isolation boundary (one API key, one tenant). ``agent_id`` narrows memory
    to one agent of a user; ``session_id`` to one conversation.
    """

    tenant: str
    user_id: str
    agent_id: str | None = None
    session_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.tenant, "tenant")
        check_id(self.user_id, "user_id")
        check_id(self.agent_id, "agent_id", required=False)
        check_id(self.session_id, "session_id", required=False)

    @classmethod
    def trusted(
        cls, tenant: str, user_id: str, agent_id: str | None = None, session_id: str | None = None
    ) -> Scope:
        """A scope from values validated before (rows read back from a store): no checks."""
        scope = object.__new__(cls)
        object.__setattr__(scope, "tenant", tenant)
        object.__setattr__(scope, "user_id", user_id)
        object.__setattr__(scope, "agent_id", agent_id)
        object.__setattr__(scope, "session_id", session_id)
        return scope

    def with_session(self, session_id: str | None) -> Scope:
        """The same scope narrowed to ``session_id``."""
        return Scope(self.tenant, self.user_id, self.agent_id, session_id)
