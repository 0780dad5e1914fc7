"""The first-person patterns of fact extraction, one :class:`Rule` per way of stating a fact.

Sentences reach these rules normalised (contractions expanded: "I'm" is "I am", "don't" is
"do not"; a lone "i" is "I"). Each rule's regex finds the statement and names the value
``v``; its builder (:mod:`engram.write.builders`, :mod:`engram.write.free_values` for plans and
preferences) checks and normalises the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engram.write import builders as b
from engram.write import free_values as fv
from engram.write import patterns as p
from engram.write.builders import Builder

__all__ = ["RULES", "Rule", "make_rule"]


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


@dataclass(frozen=True, slots=True)
class Rule:
    """One way of stating a fact.

    Attributes:
        attribute: the slot family ("lives_in", "family", "preference", ...).
        pattern: the regex over a normalised sentence; group ``v`` is the value.
        build: checks and normalises a match into values.
        confidence: base confidence of what it finds.
        triggers: lower-case words one of which a sentence must hold for the rule to run.
        dated: the verb is an event a time mention can date ("I moved last May"), not a state.
        ends: the statement says the value stopped holding ("I no longer work at Google").
        past: a past state ("I lived in Paris"): kept only when a time mention or a range
            ("from 2015 to 2018") dates it, as a closed version, never the current value.
        first_person: the sentence must hold "I", "my", "we"...; off for the few rules that
            look at the rest of the message ("He's a greyhound named Biscuit" after "I adopted
            a dog").
    """

    attribute: str
    pattern: re.Pattern[str]
    build: Builder
    confidence: float
    triggers: frozenset[str]
    dated: bool = False
    ends: bool = False
    past: bool = False
    first_person: bool = True


A = p.ADVERBS
_REL = "(?P<rel>" + "|".join(sorted(p.RELATIONS, key=len, reverse=True)) + ")"
_SPECIES = (
    "(?P<sp>" + "|".join(sorted(p.PET_SPECIES, key=len, reverse=True)) + r")(?:\s+(?:puppy|pup|dog|kitten|cat|mix))?"
)
_POSSESSION = "(?P<obj>" + "|".join(sorted(p.POSSESSIONS, key=len, reverse=True)) + ")"


def make_rule(
    attribute: str,
    pattern: str,
    build: Builder,
    confidence: float,
    *,
    triggers: str | frozenset[str],
    dated: bool = False,
    ends: bool = False,
    past: bool = False,
    first_person: bool = True,
) -> Rule:
    words = frozenset(triggers.split()) if isinstance(triggers, str) else triggers
    compiled = re.compile(pattern, re.I)
    return Rule(attribute, compiled, build, confidence, words, dated or ends or past, ends, past, first_person)


_SHIFTS = r"(?:\s+(?:mornings|evenings|nights|weekends|days|part-time|full-time|part\s+time|full\s+time))?"
_WORK = rf"(?:work|am\s+{A}working|have\s+{A}been\s+working|have\s+{A}worked){_SHIFTS}"
_NEW_JOB = r"(?:a|an|my|the)\s+(?:new\s+|first\s+|full-time\s+|part-time\s+)?(?:job|position|role|gig)"
_I_OR_WE = r"\b(?P<s>I|we)\s+"
_JOB_WORDS = frozenset(re.findall(r"[^\W\d_]+", " ".join(p.JOB_TITLES)))
_RELATION_WORDS = frozenset(p.RELATIONS)
_PET_WORDS = frozenset(re.findall(r"[^\W\d_]+", " ".join(p.PET_SPECIES)))
_POSSESSION_WORDS = frozenset(re.findall(r"[^\W\d_]+", " ".join(p.POSSESSIONS)))
_PREFERENCE_WORDS = _words(
    "love like enjoy adore prefer hate dislike detest stand into fan obsessed passionate loved liked enjoyed hated"
    " gone longer lost stopped"
)

RULES: tuple[Rule, ...] = (
    make_rule("name", r"\bmy\s+name(?:'s|\s+is)\s+(?P<v>.+)", b.name("'s name is {}"), 0.9, triggers="name"),
    make_rule(
        "nickname",
        r"(?:^\W*|\b(?:can|everyone|everybody|people|friends|just|but|please|so|mostly)\s+)call\s+me\s+(?P<v>.+)",
        b.name("goes by {}", "nickname"),
        0.8,
        triggers="call",
    ),
    make_rule("nickname", rf"\bI\s+{A}go\s+by\s+(?P<v>.+)", b.name("goes by {}", "nickname"), 0.8, triggers="go"),
    make_rule(
        "lives_in",
        _I_OR_WE + rf"{A}(?:live|am\s+{A}living|are\s+{A}living|have\s+{A}(?:been\s+living|lived)"
        rf"|am\s+{A}based|are\s+{A}based|reside)\s+{A}in\s+(?P<v>.+)",
        b.place("lives_in", "lives in {}"),
        0.9,
        triggers="live living lived based reside",
    ),
    make_rule(
        "lives_in",
        _I_OR_WE + rf"{A}(?:have\s+{A})?(?:moved|relocated)\s+{A}(?:back\s+)?(?:here\s+)?to\s+(?P<v>.+)",
        b.place("lives_in", "lives in {}"),
        0.85,
        dated=True,
        triggers="moved relocated",
    ),
    make_rule(
        "hometown",
        rf"\bI\s+am\s+{A}from\s+(?P<v>.+)",
        b.place("hometown", "is from {}"),
        0.85,
        triggers="from",
    ),
    make_rule(
        "hometown",
        r"\bI\s+(?:grew\s+up|was\s+(?:born(?:\s+and\s+raised)?|raised))\s+in\s+(?P<v>.+)",
        b.place("hometown", "grew up in {}"),
        0.85,
        triggers="grew born raised",
    ),
    make_rule(
        "hometown",
        _I_OR_WE
        + rf"{A}(?:have\s+)?(?:moved|came|emigrated|immigrated)\s+(?:here\s+|over\s+)?from\s+(?P<v>.+)",
        b.place("hometown", "moved from {}"),
        0.7,
        triggers="from",
    ),
    make_rule(
        "hometown",
        r"\bmy\s+(?:home\s*town|home\s+country)\s+is\s+(?P<v>.+)",
        b.place("hometown", "is from {}"),
        0.85,
        triggers="hometown home",
    ),
    make_rule(
        "occupation",
        rf"\bI\s+{A}{_WORK}\s+as\s+(?P<v>.+)",
        b.job(creative=True, predicate="works as"),
        0.85,
        triggers="work working worked",
    ),
    make_rule(
        "occupation",
        rf"\bI\s+(?:am|have\s+been)\s+{A}(?P<v>an?\s+.+)",
        b.job(creative=False, predicate="is"),
        0.8,
        triggers=_JOB_WORDS,
    ),
    make_rule(
        "occupation",
        rf"\bI\s+{A}(?:have\s+{A})?(?:(?:got|landed|accepted|took|started|began|found)\s+{_NEW_JOB}"
        r"|started\s+working|began\s+working)\s+as\s+(?P<v>.+)",
        b.job(creative=True, predicate="works as"),
        0.85,
        dated=True,
        triggers="job position role gig working",
    ),
    make_rule(
        "occupation",
        rf"\bI\s+{A}(?:have\s+{A})?(?:became|become)\s+(?P<v>an?\s+.+)",
        b.job(creative=False, predicate="is"),
        0.75,
        dated=True,
        triggers="became become",
    ),
    make_rule(
        "occupation",
        r"\bmy\s+(?:new\s+)?(?:job|profession|occupation)\s+is\s+(?:being\s+)?(?P<v>.+)",
        b.job(creative=True, predicate="works as"),
        0.85,
        triggers="job profession occupation",
    ),
    make_rule(
        "employer",
        rf"\bI\s+{A}{_WORK}\s+(?:as\s+(?:an?\s+)?[\w-]+(?:\s+[\w-]+)?\s+)?(?:at|for)\s+(?P<v>.+)",
        b.place("employer", "works at {}"),
        0.85,
        triggers="work working worked",
    ),
    make_rule(
        "employer",
        rf"\bI\s+{A}(?:have\s+{A})?(?:(?:got|landed|accepted|took|started|began|found)\s+{_NEW_JOB}"
        r"(?:\s+as\s+(?:an?\s+)?[\w-]+(?:\s+[\w-]+)?)?\s+(?:at|with)|started\s+working\s+(?:at|for)"
        r"|(?:got|was)\s+hired\s+(?:at|by)|started\s+at)\s+(?P<v>.+)",
        b.place("employer", "works at {}"),
        0.8,
        dated=True,
        triggers="job position role gig working hired started",
    ),
    make_rule(
        "employer",
        rf"\bI\s+{A}(?:have\s+{A})?joined\s+(?P<v>.+)",
        b.joined,
        0.65,
        dated=True,
        triggers="joined",
    ),
    make_rule(
        "family",
        rf"\b(?:my|our)\s+{p.RELATION_MODIFIERS}{_REL}(?P<sep>'s\s+name\s+is|\s+(?:is\s+)?(?:named|called)|,)?\s+(?P<v>.+)",
        b.family,
        0.85,
        triggers=_RELATION_WORDS,
    ),
    make_rule(
        "family",
        rf"\bI\s+{A}have\s+(?:a|an|one|two|three|four|\d)\s+{p.RELATION_MODIFIERS}{_REL}\s+(?:named|called)\s+(?P<v>.+)",
        b.family,
        0.85,
        triggers=_RELATION_WORDS,
    ),
    make_rule(
        "pet",
        _I_OR_WE + rf"{A}(?:have\s+{A})?(?P<verb>have|own|got|adopted|rescued|bought|brought\s+home)\s+"
        rf"(?P<det>an?|another|one|two|three|four|[234]|our|my)\s+(?:first\s+|own\s+)?{p.PET_ADJECTIVES}{_SPECIES}\b"
        r"(?P<rest>.*)",
        b.pet_acquired,
        0.85,
        dated=True,
        triggers=_PET_WORDS,
    ),
    make_rule(
        "pet",
        rf"\b(?:my|our)\s+{p.PET_ADJECTIVES}{_SPECIES}(?P<sep>'s\s+name\s+is|\s+(?:is\s+)?(?:named|called)|,)?\s+(?P<v>.+)",
        b.pet_named,
        0.85,
        triggers=_PET_WORDS,
    ),
    make_rule(
        "owns",
        _I_OR_WE
        + rf"{A}(?:have\s+{A})?(?P<verb>bought|purchased|got|own|have)\s+(?P<det>an?|my\s+(?:first|own)"
        rf"|our\s+(?:first|own)|myself\s+an?|ourselves\s+an?)\s+(?P<adj>{p.POSSESSION_ADJECTIVES}){_POSSESSION}\b"
        r"(?P<rest>.*)",
        b.owns,
        0.75,
        dated=True,
        triggers=_POSSESSION_WORDS,
    ),
    make_rule(
        "plan",
        _I_OR_WE + rf"(?:am|are)\s+{A}planning\s+(?:to|on)\s+(?P<v>.+)",
        fv.plan(),
        0.75,
        triggers="planning",
    ),
    make_rule(
        "plan",
        _I_OR_WE + rf"(?:am|are)\s+{A}planning\s+(?P<v>an?\s+.+)",
        fv.plan(noun=True),
        0.7,
        triggers="planning",
    ),
    make_rule(
        "plan",
        _I_OR_WE + rf"{A}(?:plan|intend)\s+to\s+(?P<v>.+)",
        fv.plan(),
        0.75,
        triggers="plan intend",
    ),
    make_rule(
        "plan",
        _I_OR_WE + rf"(?:am|are)\s+{A}(?:going\s+to|gonna)\s+(?P<v>.+)",
        fv.plan(going=True),
        0.65,
        triggers="going gonna",
    ),
    make_rule(
        "preference",
        rf"\bI\s+{A}(?P<verb>love|like|enjoy|adore|prefer|hate|dislike|detest|cannot\s+stand|am\s+{A}into"
        rf"|am\s+{A}(?:a\s+)?(?:huge\s+|big\s+|massive\s+)?fan\s+of|am\s+{A}obsessed\s+with"
        rf"|am\s+{A}passionate\s+about|have\s+{A}always\s+(?:loved|liked|enjoyed|hated)|have\s+{A}gone\s+off"
        rf"|(?:do\s+not|no\s+longer)\s+{A}(?:like|enjoy|love)|am\s+{A}not\s+(?:a\s+)?(?:big\s+|huge\s+)?fan\s+of"
        rf"|am\s+{A}no\s+longer\s+into|have\s+{A}(?:lost\s+interest\s+in|stopped\s+(?:liking|enjoying)))"
        r"\s+(?P<v>.+)",
        fv.preference,
        0.75,
        triggers=_PREFERENCE_WORDS,
    ),
    make_rule(
        "favorite",
        r"\bmy\s+(?:all[\s-]time\s+|absolute\s+|personal\s+|new\s+|current\s+)?(?:favou?rite|fave)\s+"
        r"(?P<cat>[a-z]+(?:\s+of)?(?:\s+[a-z]+)?)\s+(?:is|are|has\s+to\s+be|has\s+always\s+been)\s+(?P<v>.+)",
        b.favorite,
        0.85,
        triggers="favorite favourite fave",
    ),
    make_rule(
        "relationship_status",
        _I_OR_WE + rf"(?:am|are|have\s+{A}been|have\s+{A}got(?:ten)?|{A}got)\s+{A}"
        r"(?P<st>married|engaged|divorced|separated|widowed)\b(?!\s+(?:to\s+(?:my|the|this)\s+(?:job|work)|in|with|by|for)\b)",
        b.status,
        0.85,
        dated=True,
        triggers="married engaged divorced separated widowed",
    ),
    make_rule(
        "relationship_status",
        rf"\bI\s+am\s+{A}(?:an?\s+(?=widow))?(?P<st>single|widow(?:er|ed)?)\b(?![-\w])"
        r"(?!\s+(?:mom|mother|dad|father|parent|mum)\b)",
        b.status,
        0.8,
        triggers="single widow widower widowed",
    ),
)
