"""SQL helpers shared by the SQLite store's modules: scope conditions and FTS5 queries."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Sequence
from typing import Any

from engram.store.base import UserScope

#: FTS5's bm25 constant k1: one query term adds less than ``(k1 + 1) × IDF`` to a row's score.
BM25_K1 = 1.2


def scope_key(tenant: str, user_id: str) -> str:
    """A single FTS token naming a (tenant, user): lets the full-text index filter by user."""
    digest = hashlib.sha256(f"{tenant}\x00{user_id}".encode()).hexdigest()
    return "u" + str(int(digest[:15], 16))


def scope_where(scope: UserScope) -> tuple[str, list[Any]]:
    """The SQL condition and parameters that limit a table to one user (and agent, if named)."""
    if scope.agent_id is None:
        return "tenant=? AND user_id=?", [scope.tenant, scope.user_id]
    return "tenant=? AND user_id=? AND agent_id=?", [scope.tenant, scope.user_id, scope.agent_id]


def any_term(columns: str, terms: Sequence[str], common: Collection[str] = ()) -> str:
    """An FTS5 query for rows holding any of ``terms`` (quoted) in ``columns``.

    A term in ``common`` counts only together with another term of ``common``: the query
    then finds the rows holding a term not in ``common``, or at least two of ``common``
    (so ``common`` must leave a term outside it, or hold two).
    """
    rare = [_quoted(term) for term in terms if term not in common]
    shared = [term for term in terms if term in common]
    pairs = [
        f"({_quoted(term)} AND ({' OR '.join(_quoted(other) for other in shared[i + 1 :])}))"
        for i, term in enumerate(shared[:-1])
    ]
    return f"{columns} : ({' OR '.join(rare + pairs)})"


def match_expression(scope: UserScope, columns: str, terms: Sequence[str], common: Collection[str] = ()) -> str:
    """An FTS5 query: the user's scope token AND :func:`any_term` of ``terms`` in ``columns``."""
    return f'scope_key : "{scope_key(scope.tenant, scope.user_id)}" AND {any_term(columns, terms, common)}'


def bm25_bound(matching: int, rows: int) -> float:
    """A bound above what one query term adds to a row's FTS5 bm25 score, whatever the weights.

    Args:
        matching: the rows the term is in.
        rows: at least the rows in the index (FTS5 takes the IDF from both, clamped above 0).
    """
    idf = math.log((rows - matching + 0.5) / (matching + 0.5))
    return (BM25_K1 + 1) * max(idf, 1e-6) * (1 + 1e-9)  # a hair above, against rounding


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'
