"""Reconcile a candidate fact with what memory holds: add, supersede, reinforce or no-op.

Pure. A slot's versions form a timeline in valid time. A candidate that arrives says "value V
was true from time T". Placing it on the timeline:

* the version true at T has the same value → **reinforce** it (one more mention, higher
  confidence, one more source turn);
* the next version (after T) has the same value → **reinforce** it and move its start back
  to T (we learned it was true earlier);
* otherwise → **add** a version from T, ending where the next version starts; the version
  true at T, if any, is **superseded**: closed at T, marked replaced now, linked to the new one.

Two kinds of candidate say more than "V from T":

* **ends** ("I don't live in Chicago anymore", "Rex passed away"): the version true at T is
  **ended**: closed at T, with no successor. In a single-valued slot only when its value is
  the one named (or none is named: "I quit my job"); in a multi-valued slot the slot is the
  value's own. An ``ends`` candidate never adds a version, and one that matches no open
  version is a no-op.
* a **closed span** (``valid_to`` given: "I lived in Paris from 2015 to 2018"), a statement
  about the past, made late: it goes in its place on the timeline, ending at ``valid_to`` or
  where the next version starts, whichever is first; it never closes what is current. When it
  falls inside another value's version, that version is cut at T and its value **resumes** at
  ``valid_to`` (a version of the same value, with the same sources), so what held before and
  after the span, and what is current, stay as they were.

Multi-valued slots hold one value per slot (the value is part of the slot), so they only
ever add, reinforce or end. History is never rewritten except a version's end (valid_to) and
its replacement marks; nothing is deleted.

A version closed by its successor names it (``superseded_by``); a version closed by a
statement (an ``ends`` candidate, a closed span) has no successor. :func:`rechain` keeps the
latter's end when versions are forgotten.
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
    #: When the value stopped holding, for a statement about the past ("from 2015 to 2018");
    #: ``None``: not said (it holds until a later version replaces it).
    valid_to: datetime | None = None

    @property
    def slot(self) -> str:
        """The slot this candidate belongs to."""
        return slot_key(self.tenant, self.user_id, self.subject, self.attribute, self.value if self.multi else None)


@dataclass(frozen=True, slots=True)
class Operation:
    """One change to the fact table: ``add`` a version, or change an existing one (``supersede``:
    closed by a successor; ``end``: closed by a statement; ``reinforce``: said again)."""

    action: Literal["add", "supersede", "reinforce", "end"]
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
    Returns an empty list when the candidate adds nothing (the same source said it before, an
    ``ends`` that matches no open version, a span that ends before it starts).
    """
    timeline = sorted(
        (v for v in versions if v.superseded_by is None or v.valid_to is not None),
        key=lambda v: (v.valid_from, v.seq),
    )
    at, until = candidate.valid_from, candidate.valid_to
    before = [v for v in timeline if v.valid_from <= at]
    after = [v for v in timeline if v.valid_from > at]
    holding = before[-1] if before else None
    following = after[0] if after else None
    if candidate.ends:
        return _end(candidate, holding)
    if until is not None and until <= at:
        return []  # a span that ends before it starts: nothing can be placed

    if holding is not None and _same(holding.value, candidate.value):
        if candidate.source_turn_id in holding.source_turn_ids:
            return []  # the same turn read twice: nothing new
        reinforced = _reinforced(holding, candidate)
        if until is not None and holding.valid_to is None:  # "I lived there until ...": it ended
            reinforced = replace(reinforced, valid_to=until)
        return [Operation("reinforce", reinforced)]
    if (
        following is not None
        and holding is None
        and _same(following.value, candidate.value)
        and (until is None or until >= following.valid_from)  # a span that reaches it: the same stay
    ):
        return [Operation("reinforce", _reinforced(following, candidate, valid_from=at))]

    end = following.valid_from if following is not None else None
    if until is not None and (end is None or until < end):
        end = until
    replaced_by = following.id if following is not None and end == following.valid_from else None
    new = _version(candidate, valid_from=at, valid_to=end, superseded_by=replaced_by, now=now)
    operations = [Operation("add", new)]
    if holding is not None and (holding.valid_to is None or holding.valid_to > at):
        if until is not None and (holding.valid_to is None or holding.valid_to > until):
            resumed = _resumed(holding, at=until, now=now)  # a past span inside another value's version
            operations.append(Operation("add", resumed))
            new = replace(new, superseded_by=resumed.id)
            operations[0] = Operation("add", new)
        closed = replace(holding, valid_to=at, superseded_at=now, superseded_by=new.id)
        operations.append(Operation("supersede", closed))
    return operations


#: The relations a partner named alone may be held under ("Jake and I broke up").
_PARTNERS = frozenset({"family:partner", "family:boyfriend", "family:girlfriend", "family:wife", "family:husband"})


def addressed(candidate: Candidate, held: Sequence[FactVersion | Candidate]) -> list[Candidate]:
    """The ``ends`` candidates that an end naming its value by a name alone stands for.

    Extraction cannot always tell the whole value of a multi-valued slot: "Rex passed away" says
    ``pet named Rex`` (of whatever species), "Jake and I broke up" ``family:partner = Jake``
    (whatever the relation), "My boyfriend and I broke up" ``family:boyfriend`` with no value
    (whichever one). Each becomes an end of every ``held`` value it names: same subject, same
    attribute (any partner relation for ``family:partner``), same name (any, for no value);
    none when nothing held matches. Any other candidate is returned as it is.
    """
    value = " ".join(candidate.value.casefold().split())
    by_name = not value or value.startswith("pet named ") or candidate.attribute == "family:partner"
    if not (candidate.ends and candidate.multi and by_name):
        return [candidate]
    attributes = _PARTNERS if candidate.attribute == "family:partner" else {candidate.attribute}
    name = _name(value)
    found: dict[tuple[str, str], Candidate] = {}
    for fact in held:
        if (
            fact.subject.casefold() == candidate.subject.casefold()
            and fact.attribute in attributes
            and (not name or _name(fact.value) == name)
            and not (isinstance(fact, Candidate) and fact.ends)
        ):
            found[(fact.attribute, _name(fact.value))] = replace(candidate, attribute=fact.attribute, value=fact.value)
    return list(found.values())


def _name(value: str) -> str:
    """The name a value holds: "dog named Rex" -> "rex", "Jake" -> "jake"."""
    value = " ".join(value.casefold().split())
    return value.split(" named ", 1)[1] if " named " in value else value


def _end(candidate: Candidate, holding: FactVersion | None) -> list[Operation]:
    """Close the version true at the candidate's time, if it is the one the candidate names."""
    at = candidate.valid_from
    if holding is None or (holding.valid_to is not None and holding.valid_to <= at):
        return []  # nothing holds then: nothing to end
    if candidate.value.strip() and not _same(holding.value, candidate.value):
        return []  # another value holds: the statement is about something memory does not hold
    return [Operation("end", replace(holding, valid_to=at))]


def _version(
    candidate: Candidate, *, valid_from: datetime, valid_to: datetime | None, superseded_by: str | None, now: datetime
) -> FactVersion:
    return FactVersion(
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
        valid_from=valid_from,
        valid_to=valid_to,
        recorded_at=now,
        superseded_at=None,
        superseded_by=superseded_by,
        confidence=candidate.confidence,
        source=candidate.source,
        source_turn_ids=(candidate.source_turn_id,),
        importance=candidate.importance,
    )


def _resumed(holding: FactVersion, *, at: datetime, now: datetime) -> FactVersion:
    """``holding``'s value again from ``at`` to where ``holding`` ended (the rest of its span)."""
    raw = f"{holding.slot}\x00{holding.value.casefold()}\x00{at.isoformat()}\x00resumed"
    return replace(
        holding,
        id="f_" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:20],
        valid_from=at,
        recorded_at=now,
        seq=0,
    )


def rechain(versions: Sequence[FactVersion], *, now: datetime) -> list[FactVersion]:
    """Re-link a slot's timeline after versions were forgotten; returns the versions that changed.

    Each remaining version that a successor closed ends where the next begins and is replaced
    by it; the last one is open again (a move that is forgotten reopens the home before it).
    A version a statement closed (no successor: "I don't live there anymore", a past span)
    keeps its end. Merged duplicates (empty spans) stay as they are.
    """
    live = sorted((v for v in versions if v.valid_to is None or v.valid_to > v.valid_from), key=lambda v: (v.valid_from, v.seq))
    changed: list[FactVersion] = []
    for current, following in zip(live, [*live[1:], None], strict=False):
        end = current.valid_to
        if end is not None and current.superseded_by is None and (following is None or end <= following.valid_from):
            continue  # closed by a statement, not by a successor
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
