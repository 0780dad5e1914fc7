"""World state an agent observes (KARMA, Mem4Nav in ``SEEDS.md``): pure data, no I/O.

Observations become facts of kind ``world`` (see :mod:`engram.write.observe`); these types
are what the world-state reads return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engram.model.fact import FactVersion


@dataclass(frozen=True, slots=True)
class Observed:
    """One observation, structured: ``subject``'s ``attribute`` is ``value`` ("red mug",
    "location", "kitchen shelf"); ``where``, for another attribute, the subject's place."""

    subject: str
    attribute: str
    value: str
    statement: str
    where: str | None = None


@dataclass(frozen=True, slots=True)
class ObservationResult:
    """What :meth:`engram.Memory.observe` stored: the turn, what it read, the facts it changed."""

    turn_id: str
    observed: list[Observed]
    facts: list[FactVersion]


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """Where a subject is (or was, as of a time): its place and the places that contain it.

    Attributes:
        subject: the subject asked about, as keyed ("red mug").
        places: innermost first: ``["kitchen shelf", "kitchen", "house"]``; empty when unknown.
        since: when it was last seen there.
        fact: the location fact.
    """

    subject: str
    places: list[str]
    since: datetime | None
    fact: FactVersion | None


@dataclass(frozen=True, slots=True)
class Sighting:
    """Something last seen in a place (directly or in a place inside it).

    Attributes:
        subject: what was seen ("red mug").
        path: from its own place out to the place asked about: ``["kitchen shelf", "kitchen"]``.
        since: when it was seen there.
        fact: the location fact.
    """

    subject: str
    path: list[str]
    since: datetime
    fact: FactVersion
