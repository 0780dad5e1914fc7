"""Reconcile a candidate fact with what memory holds: add, supersede, reinforce or no-op.

Pure. A slot's versions form a timeline in valid time. A candidate that arrives says "value V
was true from time T". Placing it on the timeline:

* the version true at T has the same value → **reinforce** it (one more mention, higher
  confidence, one more source turn);
* the next version (after T) has the same value → **reinforce** it and move its start back
  to T (we learned it was true earlier);
* otherwise → **add** a version from T, ending where the next version starts; the version
  true at T, if any, is **superseded**: closed at T, marked replaced now, linked to the new one.

Multi-valued slots hold one value per slot (the value is part of the slot), so they only
ever add or reinforce. History is never rewritten except a version's end (valid_to) and its
replacement marks; nothing is deleted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from engram.model.fact import FactVersion, slot_key


@dataclass(frozen=True, slots=True)
class Candidate:
    """A fact as extraction found it, with where it came from."""

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
    confidence: float
    source: str
    source_turn_id: str
    importance: float = 0.6
    #: The value stopped holding at ``valid_from`` (see :class:`engram.write.extract.FactCandidate`).
    ends: bool = False

    @property
    def slot(self) -> str:
        """The slot this candidate belongs to."""
        return slot_key(self.tenant, self.user_id, self.subject, self.attribute, self.value if self.multi else None)


@dataclass(frozen=True, slots=True)
class Operation:
    """One change to the fact table: ``add`` a version, or ``update`` an existing one."""

    action: Literal["add", "supersede", "reinforce"]
    version: FactVersion


def version_id(candidate: Candidate) -> str:
    """A stable id for the version a candidate creates."""
    raw = f"{candidate.slot}\x00{candidate.value.casefold()}\x00{candidate.valid_from.isoformat()}"
    return "f_" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:20]


def _same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _reinforced(version: FactVersion, candidate: Candidate, *, valid_from: datetime | None = None) -> FactVersion:
    sources = version.source_turn_ids
    if candidate.source_turn_id not in sources:
        sources = (*sources, candidate.source_turn_id)
    return replace(
        version,
        mentions=version.mentions + 1,
        confidence=round(1 - (1 - version.confidence) * (1 - candidate.confidence * 0.5), 4),
        source_turn_ids=sources,
        valid_from=valid_from or version.valid_from,
        importance=max(version.importance, candidate.importance),
    )


def reconcile(candidate: Candidate, versions: Sequence[FactVersion], *, now: datetime) -> list[Operation]:
    """The operations that bring the slot's ``versions`` up to date with ``candidate``.

    ``versions`` are the slot's versions that are not replaced by corrections, in any order.
    Returns an empty list when the candidate adds nothing (the same source said it before).
    """
    timeline = sorted(
        (v for v in versions if v.superseded_by is None or v.valid_to is not None),
        key=lambda v: (v.valid_from, v.seq),
    )
    at = candidate.valid_from
    before = [v for v in timeline if v.valid_from <= at]
    after = [v for v in timeline if v.valid_from > at]
    holding = before[-1] if before else None
    following = after[0] if after else None

    if holding is not None and _same(holding.value, candidate.value):
        if candidate.source_turn_id in holding.source_turn_ids:
            return []  # the same turn read twice: nothing new
        return [Operation("reinforce", _reinforced(holding, candidate))]
    if following is not None and _same(following.value, candidate.value) and holding is None:
        return [Operation("reinforce", _reinforced(following, candidate, valid_from=at))]

    new = FactVersion(
        id=version_id(candidate),
        slot=candidate.slot,
        tenant=candidate.tenant,
        user_id=candidate.user_id,
        agent_id=candidate.agent_id,
        subject=candidate.subject,
        attribute=candidate.attribute,
        value=candidate.value,
        statement=candidate.statement,
        kind=candidate.kind,
        multi=candidate.multi,
        valid_from=at,
        valid_to=following.valid_from if following is not None else None,
        recorded_at=now,
        superseded_at=None,
        superseded_by=None,
        confidence=candidate.confidence,
        source=candidate.source,
        source_turn_ids=(candidate.source_turn_id,),
        importance=candidate.importance,
    )
    operations = [Operation("add", new)]
    if holding is not None and (holding.valid_to is None or holding.valid_to > at):
        closed = replace(holding, valid_to=at, superseded_at=now, superseded_by=new.id)
        operations.append(Operation("supersede", closed))
    return operations


def rechain(versions: Sequence[FactVersion], *, now: datetime) -> list[FactVersion]:
    """Re-link a slot's timeline after versions were forgotten; returns the versions that changed.

    Each remaining version ends where the next begins and is replaced by it; the last one is
    open again (a move that is forgotten reopens the home before it). Merged duplicates
    (empty spans) stay as they are.
    """
    live = sorted((v for v in versions if v.valid_to is None or v.valid_to > v.valid_from), key=lambda v: (v.valid_from, v.seq))
    changed: list[FactVersion] = []
    for current, following in zip(live, [*live[1:], None], strict=False):
        if following is None:  # current again: and a current fact is never archived
            wanted = replace(current, valid_to=None, superseded_by=None, superseded_at=None, archived_at=None)
        else:
            wanted = replace(
                current,
                valid_to=following.valid_from,
                superseded_by=following.id,
                superseded_at=current.superseded_at or now,
            )
        if wanted != current:
            changed.append(wanted)
    return changed
