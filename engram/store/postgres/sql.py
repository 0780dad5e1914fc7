"""SQL helpers of the PostgreSQL store: scope and filter conditions, shared row mappers.

Rows are read in the SQLite store's column order and built by its mappers (one mapping of
rows to turns, episodes and facts for both backends).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np

from engram.model import SearchFilters
from engram.model.timeutil import to_micros
from engram.store.base import UserScope
from engram.store.sqlite.lifecycle import _EPISODE_COLUMNS as EPISODE_COLUMNS
from engram.store.sqlite.lifecycle import _FACT_COLUMNS as FACT_COLUMNS
from engram.store.sqlite.lifecycle import _episode as episode_from_row
from engram.store.sqlite.lifecycle import _fact as fact_from_row
from engram.store.sqlite.sql import MATCH_COLUMNS, TURN_COLUMNS, match_from_row, turn_from_row

__all__ = [
    "EPISODE_COLUMNS",
    "FACT_COLUMNS",
    "MATCH_COLUMNS",
    "TURN_COLUMNS",
    "episode_from_row",
    "fact_from_row",
    "filter_sql",
    "match_from_row",
    "prefixed",
    "scope_where",
    "turn_from_row",
    "vector_value",
]


def prefixed(columns: str, alias: str) -> str:
    """``columns`` (a comma-separated list) each prefixed with ``alias.``."""
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))


def scope_where(scope: UserScope, alias: str = "") -> tuple[str, list[Any]]:
    """The condition and parameters limiting a table to one user (and agent, if named)."""
    a = f"{alias}." if alias else ""
    where = f"{a}tenant = %s AND {a}user_id = %s"
    if scope.agent_id is None:
        return where, [scope.tenant, scope.user_id]
    return f"{where} AND {a}agent_id = %s", [scope.tenant, scope.user_id, scope.agent_id]


def filter_sql(scope: UserScope, filters: SearchFilters, until: datetime) -> tuple[str, list[Any]]:
    """Conditions on alias ``t`` for a scope, filters and the reference time (the SQLite store's rules)."""
    clauses = ["t.tenant = %s", "t.user_id = %s", "t.ts <= %s"]
    params: list[Any] = [scope.tenant, scope.user_id, to_micros(until)]
    if not filters.include_archived:
        clauses.append("t.archived_at IS NULL")
    if scope.agent_id is not None:
        clauses.append("t.agent_id = %s")
        params.append(scope.agent_id)
    if filters.session_ids:
        clauses.append("t.session_id = ANY(%s)")
        params.append(list(filters.session_ids))
    if filters.roles:
        clauses.append("t.role = ANY(%s)")
        params.append(list(filters.roles))
    if filters.since is not None:
        clauses.append("t.ts >= %s")
        params.append(to_micros(filters.since))
    if filters.until is not None:
        clauses.append("t.ts <= %s")
        params.append(to_micros(filters.until))
    for key, value in (filters.metadata or {}).items():
        if value is None:  # a null value or no such key (SearchFilters.metadata)
            clauses.append("coalesce(t.metadata::jsonb -> %s, 'null'::jsonb) = 'null'::jsonb")
            params.append(key)
        else:
            clauses.append("t.metadata::jsonb -> %s = %s::jsonb")
            params += [key, json.dumps(value)]
    return " AND ".join(clauses), params


def vector_value(vector: np.ndarray) -> Any:
    """A pgvector value of ``vector`` (float32)."""
    from pgvector import Vector

    return Vector(np.ascontiguousarray(vector, dtype=np.float32))
