"""The profile: a typed view over a person's current facts (LD-Agent's persona, MemoryBank's portrait)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engram.model.fact import FactVersion

#: Profile sections, in display order, and the fact kinds each shows.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("identity", ("identity",)),
    ("location", ("location",)),
    ("work", ("work",)),
    ("relationships", ("family", "pet")),
    ("possessions", ("possession",)),
    ("preferences", ("preference",)),
    ("plans", ("plan",)),
    ("instructions", ("instruction",)),
    ("other", ("other",)),
)


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    """One line of a profile: a current fact with its confidence, age and sources."""

    attribute: str
    value: str
    statement: str
    confidence: float
    since: datetime
    source_turn_ids: tuple[str, ...]
    fact_id: str


@dataclass(frozen=True, slots=True)
class PersonProfile:
    """What memory holds about one person, by section."""

    subject: str
    sections: dict[str, list[ProfileEntry]] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        """The person's stated name, if any."""
        for entry in self.sections.get("identity", []):
            if entry.attribute == "name":
                return entry.value
        return None

    def lines(self) -> list[str]:
        """The profile as short statements, section by section."""
        return [entry.statement for _, entries in self.sections.items() for entry in entries]


@dataclass(frozen=True, slots=True)
class Profile:
    """The profile of a user's memory as of a time: one :class:`PersonProfile` per subject.

    In a one-user assistant there is one subject (the user); in a conversation between named
    people (LoCoMo) each speaker gets their own.
    """

    user_id: str
    as_of: datetime
    people: list[PersonProfile]

    def person(self, subject: str) -> PersonProfile | None:
        """The profile of ``subject`` (case-insensitive), if memory has one."""
        for person in self.people:
            if person.subject.casefold() == subject.casefold():
                return person
        return None


def build_profile(user_id: str, facts: list[FactVersion], as_of: datetime) -> Profile:
    """Group facts true at ``as_of`` into per-person sections, most mentioned people first. Pure."""
    by_subject: dict[str, dict[str, list[ProfileEntry]]] = {}
    weight: dict[str, int] = {}
    kind_to_section = {kind: name for name, kinds in SECTIONS for kind in kinds}
    for fact in sorted(facts, key=lambda f: (f.valid_from, f.seq)):
        if not fact.true_at(as_of) or (fact.superseded_at is not None and fact.superseded_at <= as_of):
            continue
        section = kind_to_section.get(fact.kind, "other")
        sections = by_subject.setdefault(fact.subject, {})
        sections.setdefault(section, []).append(
            ProfileEntry(
                attribute=fact.attribute,
                value=fact.value,
                statement=fact.statement,
                confidence=fact.confidence,
                since=fact.valid_from,
                source_turn_ids=fact.source_turn_ids,
                fact_id=fact.id,
            )
        )
        weight[fact.subject] = weight.get(fact.subject, 0) + fact.mentions
    order = [name for name, _ in SECTIONS]
    people = [
        PersonProfile(subject, {name: sections[name] for name in order if name in sections})
        for subject, sections in sorted(by_subject.items(), key=lambda item: -weight[item[0]])
    ]
    return Profile(user_id=user_id, as_of=as_of, people=people)
