"""SQL helpers shared by the SQLite store's modules: turn rows, scope and filter conditions,
FTS5 queries."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from engram.model import Scope, SearchFilters, Turn
from engram.model.timeutil import from_micros, to_micros
from engram.store.base import Match, UserScope

TURN_COLUMNS = (
    "seq, id, tenant, user_id, agent_id, session_id, role, name, content, content_hash, "
    "ts, recorded_at, metadata"
)
#: What a :class:`~engram.store.base.Match` reads of a turn (seq first, like TURN_COLUMNS).
MATCH_COLUMNS = "seq, id, role, name, ts"
SQLITE_MAX_VARS = 900  # stay under SQLite's bound-parameter limit in IN (...) lists
#: FTS5's bm25 constant k1: one query term adds less than ``(k1 + 1) × IDF`` to a row's score.
BM25_K1 = 1.2
#: FTS5's bm25 constant b (length normalisation).
BM25_B = 0.75


@lru_cache(maxsize=1024)
def scope_key(tenant: str, user_id: str) -> str:
    """A single FTS token naming a (tenant, user): lets the full-text index filter by user.

    Cached: every turn a write stores, and every full-text query, names one of a few users."""
    digest = hashlib.sha256(f"{tenant}\x00{user_id}".encode()).hexdigest()
    return "u" + str(int(digest[:15], 16))


def scope_where(scope: UserScope, *, by_key: bool = False) -> tuple[str, list[Any]]:
    """The SQL condition and parameters that limit a table to one user (and agent, if named).

    ``by_key``: the query names its rows by id or seq; the scope columns are kept off the
    indexes (see :func:`filter_sql`).
    """
    plus = "+" if by_key else ""
    where = f"{plus}tenant=? AND {plus}user_id=?"
    if scope.agent_id is None:
        return where, [scope.tenant, scope.user_id]
    return f"{where} AND agent_id=?", [scope.tenant, scope.user_id, scope.agent_id]


def filter_sql(
    scope: UserScope, filters: SearchFilters, until: datetime, *, by_key: bool = False
) -> tuple[str, list[Any]]:
    """SQL conditions on alias ``t`` for a scope, filters and the reference time.

    ``by_key``: the query names its rows by id or seq, so the scope and time columns are kept
    off the indexes (``+``); otherwise SQLite walks every turn of the user to check a few ids.
    """
    clauses = ["+t.tenant = ?", "+t.user_id = ?", "+t.ts <= ?"] if by_key else ["t.tenant = ?", "t.user_id = ?", "t.ts <= ?"]
    params: list[Any] = [scope.tenant, scope.user_id, to_micros(until)]
    if not filters.include_archived:
        clauses.append("t.archived_at IS NULL")
    if scope.agent_id is not None:
        clauses.append("t.agent_id = ?")
        params.append(scope.agent_id)
    if filters.session_ids:
        clauses.append(f"t.session_id IN ({','.join('?' * len(filters.session_ids))})")
        params.extend(filters.session_ids)
    if filters.roles:
        clauses.append(f"t.role IN ({','.join('?' * len(filters.roles))})")
        params.extend(filters.roles)
    if filters.since is not None:
        clauses.append("t.ts >= ?")
        params.append(to_micros(filters.since))
    if filters.until is not None:
        clauses.append("t.ts <= ?")
        params.append(to_micros(filters.until))
    for key, value in (filters.metadata or {}).items():
        path = f'$."{key}"'
        if value is None:  # a null value or no such key (SearchFilters.metadata)
            clauses.append("coalesce(json_type(t.metadata, ?), 'null') = 'null'")
            params.append(path)
        else:
            clauses.append("json_extract(t.metadata, ?) = ?")
            params += [path, int(value) if isinstance(value, bool) else value]
    return " AND ".join(clauses), params


def turn_from_row(row: Sequence[Any], held: Mapping[str, Turn] | None = None) -> Turn:
    """A turn from a row of :data:`TURN_COLUMNS`; the caller's own object when ``held`` (by id)
    has the row's turn, not built again: the same id and seq are the same row, whose columns
    never change after its insert (``turns_immutable``)."""
    if held and (turn := held.get(row[1])) is not None and turn.seq == row[0]:
        return turn
    seq, tid, tenant, user_id, agent_id, session_id, role, name, content, chash, ts, rec, meta = row
    return Turn(
        id=tid,
        scope=Scope.trusted(tenant, user_id, agent_id, session_id),
        role=role,
        content=content,
        timestamp=from_micros(ts),
        recorded_at=from_micros(rec),
        content_hash=chash,
        name=name,
        metadata=json.loads(meta),
        seq=seq,
    )


def match_from_row(row: Sequence[Any], score: float) -> Match:
    """A match from a row of :data:`MATCH_COLUMNS`."""
    _seq, tid, role, name, ts = row
    return Match(tid, score, role, name, from_micros(ts))


def chunks(items: list[Any], size: int = SQLITE_MAX_VARS) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size``, for ``IN (...)`` lists."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


def match_expression(
    scope: UserScope, columns: str, terms: Sequence[str], common: Collection[str] = ()
) -> str:
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
