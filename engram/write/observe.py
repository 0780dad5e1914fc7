"""World state from observations (KARMA's short-term object states, Mem4Nav's places). Pure.

An observation says something about any subject, not only a person: "the red mug is on the
kitchen shelf", "the kitchen shelf is in the kitchen", "the oven is off". It becomes a fact
(subject / attribute / value, kind ``world``) in a single-valued slot, so a new location of
the mug closes the old one: ``facts(subject="red mug")`` answers now and ``as_of`` any time,
and its versions are the history of moves. A place is a subject like any other, so "the
kitchen shelf is in the kitchen" makes places contain places (see :func:`place_chain`).

:func:`parse_observation` reads the common sentence shapes; callers that know the structure
pass it and skip the parsing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from engram.errors import ValidationError
from engram.model.fact import FactVersion
from engram.model.world import Observed
from engram.write.reconcile import Candidate

#: The attribute of where a subject is.
LOCATION = "location"
#: Prepositions that place a subject, as said ("on" the shelf, "in" the kitchen).
_PLACING = r"on top of|inside|in|on|at|under|underneath|beneath|behind|next to|near|beside|by|in front of"
_ARTICLE = r"(?:the|a|an|my|our|your|his|her|their)\s+"
_THING = rf"(?:{_ARTICLE})?(?P<subject>[\w][\w' -]*?)"
_PLACE = rf"(?:{_ARTICLE})?(?P<place>[\w][\w' -]*?)"
_PATTERNS = (
    re.compile(rf"^{_THING}\s+(?:is|was|are|were|sits|lies|stands|is now|is still|has been)\s+(?:now\s+)?(?P<prep>{_PLACING})\s+{_PLACE}$", re.I),
    re.compile(
        rf"^(?:i|we|you|he|she|they|the agent|the robot|someone)?\s*(?:put|placed|moved|left|dropped|carried|set)\s+{_THING}\s+(?P<prep>{_PLACING}|to|into|onto)\s+{_PLACE}$",
        re.I,
    ),
    re.compile(rf"^{_THING}\s+(?:was|were|has been|got)\s+(?:put|placed|moved|left|dropped|carried|set)\s+(?P<prep>{_PLACING}|to|into|onto)\s+{_PLACE}$", re.I),
)
#: How a placing verb's preposition reads in a statement of where something is.
_SAID_AS = {"to": "at", "into": "in", "onto": "on"}
_STATE = re.compile(
    rf"^{_THING}\s+(?:is|was|are|were|is now)\s+(?P<state>open|closed|locked|unlocked|on|off|empty|full|broken|clean|dirty|wet|dry|hot|cold|lit|dark)$",
    re.I,
)


def normalise(name: str) -> str:
    """A subject or place as it is keyed: lower case, single spaces, no leading article."""
    name = " ".join(name.strip().strip(".!,;").split()).casefold()
    return re.sub(rf"^{_ARTICLE}", "", name)


def structured(
    subject: str, attribute: str, value: str, *, where: str | None = None, statement: str | None = None
) -> list[Observed]:
    """Observations from given structure; ``where`` adds the subject's location.

    Raises:
        ValidationError: a part is empty.
    """
    subject, attribute, value = normalise(subject), attribute.strip(), value.strip()
    if not subject or not attribute or not value:
        raise ValidationError("an observation needs a subject, an attribute and a value")
    if attribute == LOCATION:
        value = normalise(value)
    said = statement or (
        f"the {subject} is at the {value}" if attribute == LOCATION else f"the {subject}'s {attribute} is {value}"
    )
    out = [Observed(subject, attribute, value, said, where)]
    if where is not None and attribute != LOCATION:
        place = normalise(where)
        out.append(Observed(subject, LOCATION, place, statement or f"the {subject} is at the {place}"))
    return out


def parse_observation(text: str) -> list[Observed]:
    """The observations a text states, sentence by sentence ("the mug is on the shelf. The oven is off.")."""
    out: list[Observed] = []
    for sentence in re.split(r"(?<=[.!;])\s+|\n+", text):
        sentence = sentence.strip().rstrip(".!;").strip()
        if not sentence:
            continue
        for pattern in _PATTERNS:
            match = pattern.match(sentence)
            if match:
                subject, place = normalise(match["subject"]), normalise(match["place"])
                if subject and place and subject != place:
                    prep = _SAID_AS.get(match["prep"].casefold(), match["prep"].casefold())
                    out.append(Observed(subject, LOCATION, place, f"the {subject} is {prep} the {place}"))
                break
        else:
            state = _STATE.match(sentence)
            if state:
                subject, value = normalise(state["subject"]), state["state"].casefold()
                out.append(Observed(subject, "state", value, f"the {subject} is {value}"))
    return out


def observation_candidates(
    observed: Sequence[Observed],
    *,
    tenant: str,
    user_id: str,
    agent_id: str | None,
    at: datetime,
    turn_id: str,
) -> list[Candidate]:
    """Fact candidates (kind ``world``, single-valued: a new value replaces the old) for ``observed``."""
    return [
        Candidate(
            tenant=tenant,
            user_id=user_id,
            agent_id=agent_id,
            subject=o.subject,
            attribute=o.attribute,
            value=o.value,
            statement=o.statement,
            kind="world",
            multi=False,
            valid_from=at,
            confidence=0.9,
            source="rules",
            source_turn_id=turn_id,
        )
        for o in observed
    ]


def place_chain(subject: str, locations: Mapping[str, FactVersion]) -> list[str]:
    """Where ``subject`` is, innermost first: ["kitchen shelf", "kitchen", "house"].

    ``locations`` maps each subject to its location fact at the time asked about.
    """
    chain: list[str] = []
    seen = {normalise(subject)}
    current = locations.get(normalise(subject))
    while current is not None and current.value not in seen:
        chain.append(current.value)
        seen.add(current.value)
        current = locations.get(current.value)
    return chain


def seen_in(place: str, locations: Mapping[str, FactVersion]) -> list[tuple[FactVersion, list[str]]]:
    """What is in ``place`` or in a place inside it, with the path from the thing's own place to it.

    Most recently seen first.
    """
    target = normalise(place)
    found: list[tuple[FactVersion, list[str]]] = []
    for subject, fact in locations.items():
        chain = place_chain(subject, locations)
        if target in chain:
            found.append((fact, chain[: chain.index(target) + 1]))
    return sorted(found, key=lambda pair: pair[0].valid_from, reverse=True)
