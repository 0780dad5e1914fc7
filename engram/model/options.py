"""The options of ``search`` and ``context``, defined once for every door.

:class:`SearchOptions` and :class:`ContextOptions` hold the defaults :meth:`engram.Memory.search`
and :meth:`engram.Memory.context` use. The REST request models, the MCP tools and the CLI
options take their defaults from these objects (and their recipe choices from
``engram.read.retrieve.RECIPES``), so a default cannot differ between the doors; a test holds
``Memory``'s signatures to the same values. Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from engram.model.limits import DEFAULT_EXCERPT_TOKENS
from engram.model.results import SearchFilters


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """How a search ranks and cuts (see :meth:`engram.Memory.search`).

    Attributes:
        k: how many hits.
        filters: conditions every hit must meet (none by default).
        explain: fill each hit's signals and list the candidates below the cut.
        config: a retrieval recipe name; ``None`` uses the memory's own.
    """

    k: int = 10
    filters: SearchFilters | None = None
    explain: bool = False
    config: str | None = None


@dataclass(frozen=True, slots=True)
class ContextOptions:
    """How a context is assembled (see :meth:`engram.Memory.context`).

    Attributes:
        budget_tokens: the most tokens the context may take.
        filters: conditions every retrieved turn must meet.
        working_share: the most of the budget the live session's latest turns may take.
        candidates: how many turns retrieval offers.
        facts_share: the most of the budget facts may take.
        include_profile: add the profile's facts that bear on the question: those of the kinds it
            asks about ("where ... live": location; "job": work; "profile", "about me": all).
        expand: add the turns around the strongest hits.
        reinforce: using a memory strengthens it.
        config: a retrieval recipe name; ``None`` uses the memory's own.
        excerpt_tokens: longer retrieved turns are shown as excerpts; ``None`` shows them whole.
    """

    budget_tokens: int = 2000
    filters: SearchFilters | None = None
    working_share: float = 0.5
    candidates: int = 50
    facts_share: float = 0.15
    include_profile: bool = True
    expand: bool = True
    reinforce: bool = True
    config: str | None = None
    excerpt_tokens: int | None = DEFAULT_EXCERPT_TOKENS


def defaults(options: type[SearchOptions] | type[ContextOptions]) -> dict[str, Any]:
    """Each option's name and default value."""
    instance = options()
    return {field.name: getattr(instance, field.name) for field in fields(instance)}


#: The defaults every door uses.
SEARCH = SearchOptions()
CONTEXT = ContextOptions()
