"""The records the store protocol (:mod:`engram.store.base`) passes: scopes, light matches,
a turn's notes and chunk vectors, memory states and forget receipts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from engram.model import Turn


@dataclass(frozen=True, slots=True)
class UserScope:
    """What a read is limited to: one user of one tenant, optionally one agent."""

    tenant: str
    user_id: str
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A turn found by one retriever, with that retriever's raw score (higher is better)."""

    turn: Turn
    score: float


@dataclass(frozen=True, slots=True)
class Match:
    """A turn found by one retriever, without its content: what fusion and the priors read.

    The read path fuses rankings of these and builds whole turns only for what it returns.

    Attributes:
        id: the turn's id.
        score: the retriever's raw score (higher is better).
        role: the turn's role.
        name: the speaker's name, if given.
        timestamp: when the turn was said (UTC).
    """

    id: str
    score: float
    role: str
    name: str | None
    timestamp: datetime

    @classmethod
    def of(cls, turn: Turn, score: float) -> Match:
        """The match of a whole turn."""
        return cls(turn.id, score, turn.role, turn.name, turn.timestamp)


@dataclass(frozen=True, slots=True)
class TurnNotes:
    """What the write path learned about a turn before storing it.

    Attributes:
        keys: extra index text (keyphrases, entities, resolved dates): fact-augmented keys.
        importance: 0..1 salience (the sensory filter); slows forgetting.
    """

    keys: str
    importance: float


@dataclass(frozen=True, slots=True)
class TurnChunks:
    """The chunk vectors of a long turn: one per window of its text after the first.

    A turn's own vector embeds the start of its text (what the embedder sees); a long turn also
    has these, so that any part of it can be found (:mod:`engram.providers.chunking`). A backend
    stores them with the turn, deletes them with it, scores the turn in :meth:`Store.vector_search`
    by the best of its own vector and its chunks', and answers :meth:`Store.cached_vectors` for
    their keys too. They are derived from the turn's text: an export leaves them out, an import
    embeds them again (the same windows, the same vectors).

    Attributes:
        keys: each window's embedding-text key (sha256 of the window's text), in text order.
        vectors: the windows' vectors, one row per key.
    """

    keys: Sequence[bytes]
    vectors: np.ndarray


@dataclass(frozen=True, slots=True)
class MemoryState:
    """What forgetting needs to know of one memory (a turn, episode or fact)."""

    id: str
    kind: str
    reinforced_at: datetime
    importance: float
    recalls: int
    pinned: bool
    archived_at: datetime | None


@dataclass(frozen=True, slots=True)
class ForgetReceipt:
    """What a forget removed, by kind, and which sessions it touched.

    ``scrub_pending`` is ``True`` when other connections' readers kept the forgotten bytes in
    the store's write-ahead log past the wait: they are gone from every query already, and
    the store removes them from the files as soon as the readers let go (next write, open,
    close, or ``finish_scrub``).
    """

    turn_ids: list[str]
    episode_ids: list[str]
    fact_ids: list[str]
    links: int
    sessions: list[str]
    slots: list[str] = field(default_factory=list)
    scrub_pending: bool = False
