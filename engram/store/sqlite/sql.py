"""SQL helpers shared by the SQLite store's modules: scope conditions and FTS5 queries."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from engram.store.base import UserScope


def scope_key(tenant: str, user_id: str) -> str:
    """A single FTS token naming a (tenant, user): lets the full-text index filter by user."""
    digest = hashlib.sha256(f"{tenant}\x00{user_id}".encode()).hexdigest()
    return "u" + str(int(digest[:15], 16))


def scope_where(scope: UserScope) -> tuple[str, list[Any]]:
    """The SQL condition and parameters that limit a table to one user (and agent, if named)."""
    if scope.agent_id is None:
        return "tenant=? AND user_id=?", [scope.tenant, scope.user_id]
    return "tenant=? AND user_id=? AND agent_id=?", [scope.tenant, scope.user_id, scope.agent_id]


def match_expression(scope: UserScope, columns: str, terms: Sequence[str]) -> str:
    """An FTS5 query: the user's scope token AND any of ``terms`` (quoted) in ``columns``."""
    phrase = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
    return f'scope_key : "{scope_key(scope.tenant, scope.user_id)}" AND {columns} : ({phrase})'
