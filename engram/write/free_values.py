"""Builders of free-text values: plans ("planning to visit Paris") and preferences ("I love hiking").

Their values are phrases, not names from a closed list, so most of the work is where a phrase
ends: a value must be the whole of what the sentence plans or likes, not a fragment cut inside
a name ("St. George's"), a bare verb whose object was cut ("plans to dedicate") or a phrase that
names nothing by itself ("the museum"). When unsure, nothing is extracted.
"""

from __future__ import annotations

import re

from engram.text.stopwords import STOPWORDS
from engram.text.timeexpr import TimeMention
from engram.write import patterns as p
from engram.write.builders import Builder, Context, Found, cut_at_mention

__all__ = ["plan", "preference"]


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


_PLAN_BREAK = re.compile(
    r"\s*(?:[,;:()!?.]|\s-\s|\s+(?:and|because|but|so|which|with|since|as|if|while|when|after|before"
    r"|until|though|although|or|together)\b)",
    re.I,
)
_PREFERENCE_BREAK = re.compile(
    r"\s*(?:[,;:()!?.\"]|\s-\s|\s+(?:and|because|but|so|which|who|when|since|as|if|while|than|like"
    r"|anymore|any\s+more|too|very|so\s+much|a\s+lot|as\s+well|more|with|for|especially|even|right"
    r"|now|these\s+days|nowadays|though|or|that)\b)",
    re.I,
)
_PARTICLES = _words("up out down off over on in back away around")
_PRONOUNS = _words("it him her them that this those these there you your yours")
_REVERSAL = re.compile(r"no\s+longer|gone\s+off|stopped|lost\s+interest", re.I)
_PLAN_TAIL = _words("on in at by for during until from to this next last the around about")
_PLACE_STARTS = _words("the a an my our")
_GERUND = re.compile(r"^\w+ing\b")


def plan(*, going: bool = False, noun: bool = False) -> Builder:
    """Plans: "planning to visit Paris", "going to Tokyo next month" (``going``: only with a
    future time mention), "planning a trip to Lisbon" (``noun``: a known kind of plan)."""

    def build(match: re.Match[str], ctx: Context) -> list[Found]:
        if going and not any(m.direction == "future" and m.start > match.start() for m in ctx.mentions):
            return []
        if noun:
            return _planned_thing(match, ctx.mentions)
        value = cut_at_mention(match, ctx.mentions)
        cut = _PLAN_BREAK.search(value)
        raw_words = (value[: cut.start()] if cut else value).split()
        while raw_words and raw_words[-1].lower() in _PLAN_TAIL:
            raw_words.pop()  # "visit grandma on [Saturday]"
        if going and raw_words and (raw_words[0][0].isupper() or raw_words[0].lower() in _PLACE_STARTS):
            raw_words = ["go", "to", *raw_words]  # "going to Tokyo": a trip
        words = p.third_person(_strip_stopwords(raw_words))
        if not words or len(words) > 7 or _PRONOUNS.intersection(w.lower() for w in raw_words):
            return []
        if all(word.lower() in p.GENERIC_PLAN_WORDS for word in words):
            return []
        value = " ".join(words)
        linker = "on" if _GERUND.match(value) else "to"
        return [Found("plan", value, f"plans {linker} {value}")]

    return build


def _planned_thing(match: re.Match[str], mentions: list[TimeMention]) -> list[Found]:
    value = cut_at_mention(match, mentions)
    cut = _PLAN_BREAK.search(value)
    words = p.strip_article(value[: cut.start()] if cut else value).split()
    while words and words[-1].lower() in _PLAN_TAIL:
        words.pop()
    head = next((index for index, word in enumerate(words) if word.lower() in p.PLANNED_THINGS), None)
    if head is None or head > 2 or len(words) > 7 or _PRONOUNS.intersection(w.lower() for w in words):
        return []
    thing = " ".join(p.third_person(words) or [])
    return [Found("plan", thing, f"plans {p.article(thing)}")] if thing else []


_FEELINGS = (
    ("hates", r"hate|detest|cannot"),
    ("dislikes", r"no\s+longer|gone\s+off|stopped|lost|do\s+not|not\s+"),
    ("loves", r"love|adore|obsessed|passionate"),
    ("likes", r""),
)


def preference(match: re.Match[str], ctx: Context) -> list[Found]:
    """Likes and dislikes of a short, general object: "hiking", "live music", not "it" or "your painting"."""
    if _in_relative_clause(ctx.sentence, match.start()):
        return []
    verb = " ".join(match.group("verb").lower().split())
    feeling = next(name for name, pattern in _FEELINGS if re.search(pattern, verb))
    value = cut_at_mention(match, ctx.mentions)
    cut = _PREFERENCE_BREAK.search(value)
    words = (value[: cut.start()] if cut else value).split()
    if _PRONOUNS.intersection(word.lower() for word in words):
        return []
    words = _strip_stopwords(words)
    generic_the = len(words) == 2 and words[0].lower() == "the" and words[1].lower() in p.GENERIC_THE_OBJECTS
    words = words[1:] if generic_the else words
    lowered = [word.lower() for word in words]
    if (
        not words
        or len(words) > 4
        or lowered[0] in p.PRONOUN_STARTS
        or lowered[0] in STOPWORDS
        or lowered[-1] in p.VAGUE_OBJECTS
        or lowered in ([gerund] for gerund in p.VAGUE_GERUNDS)
        or all(word in p.GENERIC_PLAN_WORDS or word.isdigit() for word in lowered)
        or (all(word[0].isupper() for word in words) and feeling in ("loves", "likes") and "fan" not in verb)
        or (cut is not None and _truncated(value, cut, lowered))
    ):
        return []
    converted = p.third_person(lowered)
    if converted is None:
        return []
    thing = " ".join(converted)
    written = f"the {thing}" if generic_the else thing
    if feeling != "dislikes":
        predicate = f"{feeling} {written}"
    else:
        reversal = _REVERSAL.search(verb) or re.match(
            r"\s*(?:anymore|any\s+more)\b", value[cut.start() :] if cut else ""
        )
        predicate = f"no longer likes {written}" if reversal else f"does not like {written}"
    return [Found(f"preference:{thing}", feeling, predicate)]


def _in_relative_clause(sentence: str, start: int) -> bool:
    """Whether the subject at ``start`` follows a noun in the same clause: "the things I love"."""
    before = re.search(r"([A-Za-z']+)\s+$", sentence[:start])
    return before is not None and before.group(1).lower() not in p.CLAUSE_OPENERS


def _strip_stopwords(words: list[str]) -> list[str]:
    """Leading adverbs ("also cheese pizza") and trailing function words ("bowling itself") removed."""
    while words and re.fullmatch(p.ADVERBS, words[0].lower() + " "):
        words = words[1:]
    while words and words[-1].lower() in STOPWORDS and words[-1].lower() not in _PARTICLES:
        words = words[:-1]
    return words


def _truncated(value: str, cut: re.Match[str], lowered: list[str]) -> bool:
    """Whether cutting at ``cut`` left half a phrase.

    "a safe, inviting place" cut at the comma ends on an adjective; "action and sci-fi movies"
    cut at "and" loses the noun both words qualify; "sharing that with others" cut at "that"
    loses the object.
    """
    if cut.group(0).strip() == "," and len(lowered) >= 2 and lowered[-2] in ("a", "an", "the"):
        return True
    if cut.group(0).strip().lower() == "that":  # "stories that ..." qualifies; "sharing that" is an object
        before = value[: cut.start()].split()
        return not before or before[-1].lower() in STOPWORDS or before[-1].lower().endswith("ing")
    if cut.group(0).strip().lower() in ("and", "or") and len(lowered) == 1:
        following = value[cut.end() :]
        next_cut = _PREFERENCE_BREAK.search(following)
        return len((following[: next_cut.start()] if next_cut else following).split()) >= 2
    return False
