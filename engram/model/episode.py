"""Episodes: mid-term memory, a contiguous span of one session's turns about one topic.

Cut at session boundaries, long time gaps and topic shifts (EM-LLM's event segmentation);
each has an extractive summary, keyphrases, entities, a time span and a *heat* (MemoryOS:
how often and how recently it was useful).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engram.model.scope import Scope


@dataclass(frozen=True, slots=True)
class Episode:
    """One episode.

    Attributes:
        id: stable id (``e_…``): derived from the session and its first turn, so segmenting
            the same turns again keeps it.
        scope: tenant, user, agent and session.
        turn_ids: the turns it spans, in order.
        start: time of its first turn.
        end: time of its last turn.
        summary: extractive summary (its most central sentences).
        keyphrases: what it is about.
        entities: the names it mentions.
        visits: how often it was retrieved into a context.
        last_visit: when it was last retrieved.
        heat: MemoryOS heat at ``updated_at``: visits, length and recency combined.
        pinned: never fades.
        archived_at: when forgetting archived it (left out of default retrieval).
    """

    id: str
    scope: Scope
    turn_ids: tuple[str, ...]
    start: datetime
    end: datetime
    summary: str
    keyphrases: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    visits: int = 0
    last_visit: datetime | None = None
    heat: float = 0.0
    pinned: bool = False
    archived_at: datetime | None = None
    importance: float = 0.5
    seq: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def session_id(self) -> str:
        """The session it belongs to."""
        assert self.scope.session_id is not None
        return self.scope.session_id

    def key_text(self) -> str:
        """What the episode is indexed by: summary, keyphrases and entities."""
        return " ".join([self.summary, *self.keyphrases, *self.entities])
