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
    rf"\s*(?:{p.PUNCTUATION_BREAK}|\s-\s|\s+(?:and|because|but|so|which|with|since|as|if|while|when|after"
    r"|before|until|though|although|or|together)\b)",
    re.I,
)
_PREFERENCE_BREAK = re.compile(
    rf"\s*(?:{p.PUNCTUATION_BREAK}|\"|\s-\s|\s+(?:and|because|but|so|which|who|when|since|as|if|while|than"
    r"|like|anymore|any\s+more|too|very|so\s+much|a\s+lot|as\s+well|more|with|for|especially|even|right"
    r"|now|these\s+days|nowadays|though|or|that)\b)",
    re.I,
)
_PARTICLES = _words("up out down off over on in back away around")
_PRONOUNS = _words("it him her them that this those these there you your yours")
_REVERSAL = re.compile(r"no\s+longer|gone\s+off|stopped|lost\s+interest", re.I)
_PLAN_TAIL = _words("on in at by for during until from to this next last the around about")
_PLACE_STARTS = _words("the a an my our")
_GERUND = re.compile(r"^\w+ing\b")
#: Prepositions a value may not end on: its object was cut ("listening to [\"The Daily Boost\"]").
_PREPOSITIONS = _words("to of with about for at from into onto by")
#: Words that restrict a noun: the preference may be in what follows ("recipes that balance ...").
_RESTRICTIVE = _words("that which who with where")
#: Words that pair with a later "and"/"or": cut there, the value is half of it ("both work [and play]").
_COMBINING = _words("combining combined combine mixing mixed pairing paired balancing")
_PAIRED = _words("both either between neither")
#: Words that may open a clause before "I plan": the plan is the sentence's, not a relative clause's.
_PLAN_OPENERS = p.CLAUSE_OPENERS | p.TIME_WORDS | _words(
    "next tomorrow tonight later week month year summer winter spring fall autumn soon first eventually"
)


def plan(*, going: bool = False, noun: bool = False) -> Builder:
    """Plans: "planning to visit Paris", "going to Tokyo next month" (``going``: only with a
    future time mention), "planning a trip to Lisbon" (``noun``: a known kind of plan)."""

    def build(match: re.Match[str], ctx: Context) -> list[Found]:
        if going and not any(m.direction == "future" and m.start > match.start() for m in ctx.mentions):
            return []
        if _plan_in_relative_clause(ctx.sentence, match.start()):
            return []  # "The town I'm planning to visit is Oakdale", "a print that I plan to frame"
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
        if all(word.lower() in p.GENERIC_PLAN_WORDS for word in words) or _incomplete_plan(words, cut):
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
    if _half_of_pair(words, cut):
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
    if words and words[-1].lower() in _PREPOSITIONS:
        return []  # "listening to [\"The Daily Boost\"]": what is listened to was cut
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
        or all(word in p.TIME_WORDS for word in lowered)  # "I prefer Saturday mornings [for running]"
        or lowered[0] == "like"  # "I like like most people": a filler
        or (all(word[0].isupper() for word in words) and feeling in ("loves", "likes") and "fan" not in verb)
        or (cut is not None and _truncated(value, cut, lowered, prefer=verb == "prefer"))
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


def _truncated(value: str, cut: re.Match[str], lowered: list[str], *, prefer: bool) -> bool:
    """Whether cutting at ``cut`` left half a phrase.

    "a safe, inviting place" cut at the comma ends on an adjective; "action and sci-fi movies"
    cut at "and" loses the noun both words qualify; "sharing that with others" cut at "that"
    loses the object. What one prefers of a bare kind of thing is the restriction: "I prefer
    recipes [that balance nutrition and flavor]", "cooking meals [that accommodate all
    restrictions]", "properties [with low HOA fees]" (not "tackling challenging problems [that
    ...]"); combining needs what with: "combining journaling [with art therapy]"; and a
    phrasal verb alone its "with": "curling up [with a good book]" (but "camping trips [with
    my family]" is whole).
    """
    word = cut.group(0).strip().lower()
    if word in _RESTRICTIVE and (
        (prefer and (len(lowered) == 1 or (word != "with" and len(lowered) == 2 and lowered[0].endswith("ing"))))
        or not _COMBINING.isdisjoint(lowered)
        or (len(lowered) == 2 and lowered[0].endswith("ing") and lowered[1] in _PARTICLES)
    ):
        return True
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


def _plan_in_relative_clause(sentence: str, start: int) -> bool:
    """Whether "I plan" at ``start`` is inside a relative clause: "the stream I'm planning to fish at",
    "a print that I plan to frame", "which I plan to solve"; not after "and", "now", "next week"."""
    before = re.search(r"([A-Za-z']+)\s+$", sentence[:start])
    if before is None:
        return False
    word = before.group(1).lower()
    return word not in _PLAN_OPENERS and not (word.endswith("ly") and word not in ("only", "early"))


def _half_of_pair(words: list[str], cut: re.Match[str] | None) -> bool:
    """Whether the value stops at the "and"/"or" of a pair it opened: "use their laptop for both work"."""
    return (
        cut is not None
        and cut.group(0).strip().lower() in ("and", "or")
        and not _PAIRED.isdisjoint(word.lower() for word in words)
    )


def _incomplete_plan(words: list[str], cut: re.Match[str] | None) -> bool:
    """Whether the plan lacks what it acts on or names nothing without the conversation.

    A lone verb must be a whole activity ("travel", "ski"), not "dedicate [this Friday to ...]"
    or "start [with a meditation session]"; "one" as the object ("invest in one soon") and a
    bare definite description ("make the sauce", "focus on the paint job": which sauce?) name
    nothing alone, unless it is a general place or part of one's home ("explore the city",
    "tackle the bathroom") or more words say which ("the app on AWS", "the object counting
    feature").
    """
    lowered = [word.lower() for word in words]
    if len(lowered) == 1:
        return lowered[0] not in p.COMPLETE_VERBS
    if lowered[-1] == "time":
        return True  # "spend quality time [with close friends]": with whom, on what?
    if _half_of_pair(words, cut):
        return True
    if "one" in lowered[1:] or "ones" in lowered[1:]:
        at = lowered.index("one") if "one" in lowered else lowered.index("ones")
        if at + 1 == len(lowered) or lowered[at + 1] != "of":
            return True
    if "the" in lowered[1:3]:
        described = [w for w in words[lowered.index("the", 1) + 1 :] if w.lower() not in ("soon", "again")]
        return (
            0 < len(described) <= 2
            and all(w.isalpha() and w.islower() for w in described)
            and described[-1] not in p.GENERIC_THE_OBJECTS | p.HOME_OBJECTS
        )
    return False
