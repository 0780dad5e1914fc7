"""Rules for life events that change a state without naming it the usual way.

Issue 10: "We finally settled into our new place in Boston" is a move, "I got promoted to
engineering manager" a new title, "I retired last year" the end of a job, "Rex passed away" or
"We gave Peanut to my cousin" the end of a pet, "Jake and I broke up" the end of a partner, "I
legally changed my name to Alex" a new name.

An end statement often names its value by a name alone, without the species or the relation:
such a candidate's value is ``pet named Rex`` (any species) or its attribute is
``family:partner`` (any partner relation), and an empty value stands for every value of the slot
("My boyfriend and I broke up"); reconciliation ends the held version that matches
(:func:`engram.write.reconcile.addressed`), and nothing when none does. A name at the start of a
sentence, not the speaker's, only ever ends what memory holds of that name: it never adds a fact.
"""

from __future__ import annotations

import re

from engram.write import builders as b
from engram.write import patterns as p
from engram.write.builders import Context, Found
from engram.write.rules import Rule, make_rule

__all__ = ["LIFE_RULES"]

A = p.ADVERBS
_I_OR_WE = r"\b(?P<s>I|we)\s+"
#: A capitalised word, whatever the pattern's flags: a name.
_NAME = r"(?-i:(?P<v>[A-Z][\w'-]*))"
_SPECIES = "(?P<sp>" + "|".join(sorted(p.PET_SPECIES, key=len, reverse=True)) + ")"
_HOME = r"(?:place|home|house|apartment|flat|condo|townhouse|townhome)"
_PARTNER = r"(?P<rel>boyfriend|girlfriend|partner|fianc[eé]e?|wife|husband)"
_BROKE_UP = r"(?:broke\s+up|split\s+up|split|separated|got\s+divorced|divorced|called\s+it\s+quits)"
#: What may follow an event that takes no object ("I retired", "we broke up"): the clause ends,
#: or a time or a reason follows; not an object ("I retired my old laptop", "we broke up the fight").
_NO_OBJECT = re.compile(
    r"\s*(?:$|[.!?,;:)]|-|(?:now|early|from|after|last|this|in|on|at|a\s+(?:few|couple)|\d+|one|two|three|four"
    r"|five|six|seven|eight|nine|ten|recently|officially|already|and|but|so|because|since|when|years?"
    r"|months?|weeks?|ago|back|yesterday|earlier|for\s+good)\b)",
    re.I,
)
_FICTION = re.compile(r"\bin\s+(?:the|that|this|a)\s+(?:movie|film|book|show|series|game|episode|story|novel|dream)\b", re.I)
#: A pet left with someone for a while is not given away.
_FOR_A_WHILE = re.compile(
    r"\b(?:for\s+the\s+(?:weekend|week|day|night|holidays?|summer|month)|while|until|back"
    r"|to\s+(?:watch|look\s+after|mind|babysit|pet-?sit))\b",
    re.I,
)


def _pet(match: re.Match[str]) -> list[Found]:
    """The pet an end statement names: "pet named Rex", or "dog named Rex" when the species is said."""
    name = match.group("v")
    if name.lower() in p.NOT_PROPER:
        return []
    word = match.groupdict().get("sp")
    species = p.PET_SPECIES[word.lower()] if word else "pet"
    value = f"{species} named {name}"
    return [Found("pet", value, f"has {p.article(species)} named {name}")]


def pet_gone(match: re.Match[str], ctx: Context) -> list[Found]:
    """ "Rex passed away", "we had to put Max down": the pet of that name ends; not "Rex died in the movie"."""
    return [] if _FICTION.search(ctx.sentence, match.end()) else _pet(match)


def pet_given(match: re.Match[str], ctx: Context) -> list[Found]:
    """ "We gave Peanut to my cousin", "I had to rehome Luna"; not "I gave Peanut a bath" or
    "to my mom for the weekend"."""
    rest = match.group("rest")
    verb = match.group("verb").lower()
    if "home" not in verb and not re.match(r"\s+(?:away|to\s|up\s+for\s+adoption)", rest, re.I):
        return []
    if "home" in verb and not _NO_OBJECT.match(rest):
        return []
    return [] if _FOR_A_WHILE.search(rest) else _pet(match)


def retired(match: re.Match[str], ctx: Context) -> list[Found]:
    """ "I retired last year", "I'm retired now": the job ends, whatever it was."""
    if not _NO_OBJECT.match(match.group("rest")):
        return []  # "I retired my old laptop"
    return [Found("occupation", "", "works"), Found("employer", "", "works for an employer")]


def broke_up(match: re.Match[str], ctx: Context) -> list[Found]:
    """ "Jake and I broke up": the partner named Jake; "my boyfriend and I broke up": the
    boyfriend; "we broke up": every partner."""
    if not _NO_OBJECT.match(match.group("rest")):
        return []  # "Jake and I split the bill", "we broke up the fight"
    name = match.groupdict().get("v") or ""
    if name.lower() in p.NOT_PROPER:
        return []
    word = (match.groupdict().get("rel") or "partner").lower()
    relation = p.RELATIONS.get(word, "partner")
    named = f" named {name}" if name else ""
    return [Found(f"family:{relation}", name, f"has {p.article(relation)}{named}")]


_PLACE_LIVES = b.place("lives_in", "lives in {}")
_NEW_NAME = b.name("'s name is {}")

LIFE_RULES: tuple[Rule, ...] = (
    # a move stated by the new home
    make_rule(
        "lives_in",
        _I_OR_WE + rf"{A}(?:have\s+{A})?(?:settled|moved)\s+{A}into\s+(?:(?:a|our|my|the)\s+)?"
        rf"(?:(?:new|own|first|little|tiny|lovely)\s+){{0,2}}{_HOME}\s+in\s+(?P<v>.+)",
        _PLACE_LIVES, 0.8, dated=True, triggers="settled moved",
    ),
    make_rule(
        "lives_in", _I_OR_WE + rf"{A}(?:(?:am|are|have|have\s+got|got)\s+{A})?settled\s+(?:down\s+)?in\s+(?P<v>.+)",
        _PLACE_LIVES, 0.8, dated=True, triggers="settled",
    ),
    # a new title, the end of work
    make_rule(
        "occupation", rf"\bI\s+{A}(?:have\s+{A})?(?:got|was|been|have\s+been)\s+{A}promoted\s+to\s+(?P<v>.+)",
        b.job(creative=True, predicate="works as"), 0.8, dated=True, triggers="promoted",
    ),
    make_rule(
        "occupation", r"^\W*(?:they|[A-Z][\w&'-]*)\s+(?:have\s+|has\s+|just\s+|finally\s+)?promoted\s+me\s+to\s+(?P<v>.+)",
        b.job(creative=True, predicate="works as"), 0.75, dated=True, triggers="promoted",
    ),
    make_rule(
        "occupation", rf"\bI\s+{A}(?:have\s+{A}(?:been\s+{A})?)?(?:am\s+{A})?retired\b(?P<rest>.*)",
        retired, 0.8, ends=True, triggers="retired",
    ),
    # a pet gone, named alone
    make_rule(
        "pet",
        rf"(?:^\W*|\b(?:sadly|unfortunately|so|and|but|that|then)\s*,?\s+){_NAME}\s+(?:has\s+|had\s+)?(?:passed\s+away|died"
        r"|was\s+put\s+(?:down|to\s+sleep)|crossed\s+the\s+rainbow\s+bridge)\b",
        pet_gone, 0.75, ends=True, triggers="passed died put rainbow", first_person=False,
    ),
    make_rule(
        "pet", _I_OR_WE + rf"{A}(?:had\s+to\s+)?put\s+{_NAME}\s+(?:down|to\s+sleep)\b",
        pet_gone, 0.75, ends=True, triggers="put",
    ),
    make_rule(
        "pet",
        _I_OR_WE + rf"{A}(?:have\s+{A})?(?P<verb>gave|had\s+to\s+give|rehomed|re-homed|had\s+to\s+re-?home)\s+"
        rf"(?:(?:my|our)\s+{p.PET_ADJECTIVES}{_SPECIES}\s+)?{_NAME}(?P<rest>.*)",
        pet_given, 0.75, ends=True, triggers="gave give rehomed re rehome",
    ),
    # a partner gone
    make_rule(
        "family", rf"(?:^\W*|\b(?:so|and|but|then)\s+){_NAME}\s+and\s+I\s+{A}(?:have\s+)?{_BROKE_UP}\b(?P<rest>.*)",
        broke_up, 0.8, ends=True, triggers="broke split separated divorced quits",
    ),
    make_rule(
        "family", rf"\bmy\s+{_PARTNER}\s+and\s+I\s+{A}(?:have\s+)?{_BROKE_UP}\b(?P<rest>.*)",
        broke_up, 0.8, ends=True, triggers="broke split separated divorced quits",
    ),
    make_rule(
        "family",
        rf"\bI\s+{A}(?:have\s+)?(?:broke|split)\s+up\s+with\s+(?:my\s+{_PARTNER}|{_NAME})\b(?P<rest>.*)",
        broke_up, 0.8, ends=True, triggers="broke split",
    ),
    make_rule(
        "family", rf"(?:^\W*|\b(?:so|and|but|then)\s+)we\s+{A}(?:have\s+)?(?:broke|split)\s+up\b(?P<rest>.*)",
        broke_up, 0.7, ends=True, triggers="broke split",
    ),
    # a new name
    make_rule(
        "name", rf"\bI\s+{A}(?:have\s+{A})?(?:legally\s+{A})?changed\s+my\s+(?:first\s+|legal\s+)?name\s+to\s+(?P<v>.+)",
        _NEW_NAME, 0.85, dated=True, triggers="changed",
    ),
)  # fmt: skip
