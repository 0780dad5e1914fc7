"""Pure data: scopes, turns, results. No I/O happens in this package."""

from engram.model.results import (
    AddResult,
    ContextItem,
    ContextResult,
    DeleteReceipt,
    EpisodePage,
    Hit,
    Page,
    SearchFilters,
    SearchResult,
    Stats,
)
from engram.model.scope import DEFAULT_TENANT, Scope
from engram.model.turn import NewTurn, Turn

__all__ = [
    "DEFAULT_TENANT",
    "AddResult",
    "ContextItem",
    "ContextResult",
    "DeleteReceipt",
    "EpisodePage",
    "Hit",
    "NewTurn",
    "Page",
    "Scope",
    "SearchFilters",
    "SearchResult",
    "Stats",
    "Turn",
]
