"""Facts: long-term semantic memory, with bi-temporal versions and provenance.

A fact is a (subject, attribute, value) statement, e.g. ("Sam", "lives_in", "Denver"). Its
*slot* is (subject, attribute) for single-valued attributes and (subject, attribute, value)
for multi-valued ones (pets, family members). A new value in a slot closes the old version:

* ``valid_from`` / ``valid_to``: when it was true in the world (``valid_to`` ``None`` = still);
* ``recorded_at`` / ``superseded_at``: when Engram learned it, and when a newer version
  replaced it (``None`` = current knowledge).

Nothing is deleted on change: ``history`` shows every version, ``as_of`` answers for any date.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

#: Kinds of facts about people, for the profile's sections (``instruction``: what the user told
#: the assistant to do from now on, :mod:`engram.write.instructions`).
PERSON_KINDS = ("identity", "location", "work", "family", "pet", "possession", "plan", "preference", "instruction", "other")
#: Every kind: also ``lesson`` (what an agent learned from its runs) and ``world`` (the state of
#: things an agent observed; see :mod:`engram.agents`).
KINDS = (*PERSON_KINDS, "lesson", "world")


def slot_key(tenant: str, user_id: str, subject: str, attribute: str, value: str | None) -> str:
    """The identity of a fact slot (``value`` only for multi-valued attributes)."""
    parts = [tenant, user_id, subject.casefold(), attribute.casefold(), (value or "").casefold()]
    return "k_" + hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class FactVersion:
    """One version of a fact.

    Attributes:
        id: the version's id (``f_…``).
        slot: the slot this is a version of (see :func:`slot_key`).
        tenant, user_id, agent_id: whose memory.
        subject: who or what it is about ("Sam", or "user" when unnamed).
        attribute: the slot's attribute ("lives_in", "pet", "preference:sushi", ...).
        value: the value ("Denver").
        statement: a sentence a reader can use ("Sam lives in Denver").
        kind: one of :data:`KINDS`.
        multi: whether several values coexist (pets) or a new one replaces the old (city).
        valid_from, valid_to: when it was true in the world.
        recorded_at, superseded_at: when Engram learned it and when it was replaced.
        superseded_by: the version that replaced it.
        confidence: 0..1; grows when the fact is said again.
        source: "rules", "llm" or "manual".
        source_turn_ids: the turns it came from (provenance).
        mentions: how many times it was stated.
        pinned: never fades.
        archived_at: when forgetting archived it.
    """

    id: str
    slot: str
    tenant: str
    user_id: str
    agent_id: str | None
    subject: str
    attribute: str
    value: str
    statement: str
    kind: str
    multi: bool
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    superseded_at: datetime | None
    superseded_by: str | None
    confidence: float
    source: str
    source_turn_ids: tuple[str, ...]
    mentions: int = 1
    recalls: int = 0
    last_recalled: datetime | None = None
    importance: float = 0.6
    pinned: bool = False
    archived_at: datetime | None = None
    seq: int = 0

    @property
    def current(self) -> bool:
        """True for the latest known version that is still true (not closed, not replaced)."""
        return self.valid_to is None and self.superseded_at is None

    def true_at(self, moment: datetime) -> bool:
        """Whether this version was true in the world at ``moment``."""
        return self.valid_from <= moment and (self.valid_to is None or moment < self.valid_to)

    def known_at(self, moment: datetime) -> bool:
        """Whether Engram held this version as its knowledge at ``moment`` (transaction time)."""
        return self.recorded_at <= moment and (self.superseded_at is None or moment < self.superseded_at)
