"""Rules for state changes, past states, the everyday drink and facts stated across sentences.

Issue 10: "I don't live in Chicago anymore", "I no longer work at Google", "I quit my job at
X", "my dog Rex passed away", "I sold my car", "I switched from espresso to green tea" say a
value stopped holding (``ends``); "I lived in Paris from 2015 to 2018" and "back in 2019 I
worked at IBM" state a dated past version (``past``); "Checking in from Denver! I moved three
weeks ago" and "I adopted a dog! He's a greyhound named Biscuit" state one fact across two
sentences, which their builders find in the whole message (:class:`~engram.write.builders.Context`).

The ``drink`` slot is the speaker's everyday drink (a closed lexicon, :data:`patterns.DRINKS`),
single-valued: a switch replaces it.
"""

from __future__ import annotations

import re

from engram.write import builders as b
from engram.write import patterns as p
from engram.write.builders import Builder, Context, Found
from engram.write.rules import Rule, make_rule

__all__ = ["CHANGE_RULES"]

A = p.ADVERBS
_I_OR_WE = r"\b(?P<s>I|we)\s+"
_ANYMORE = r"\s+(?:anymore|any\s*more|any\s+longer)\b"
_UNTIL_CLAUSE_END = r"(?P<v>[^,;:.!?]+?)"
_SPECIES = "(?P<sp>" + "|".join(sorted(p.PET_SPECIES, key=len, reverse=True)) + r")(?:\s+(?:puppy|pup|dog|kitten|cat|mix))?"
_POSSESSION = "(?P<obj>" + "|".join(sorted(p.POSSESSIONS, key=len, reverse=True)) + ")"
_DRINK = "|".join(sorted((re.escape(d) for d in p.DRINKS), key=len, reverse=True))
_DRINK_WORDS = frozenset(w for d in p.DRINKS for w in d.split())
_A_DRINK = rf"{p.DRINK_MODIFIERS}(?:(?:cup|mug|glass|pot)\s+of\s+)?"
_HABIT = re.compile(
    r"^\s*(?:every|each|daily|in\s+the\s+mornings?|mornings|most\s+(?:days|mornings)|now|these\s+days|nowadays)\b",
    re.I,
)
_INSTEAD = re.compile(rf"^\s*instead\s+of\s+{p.DRINK_MODIFIERS}(?P<old>{_DRINK})\b", re.I)
_HERE = re.compile(
    r"\b(?:checking\s+in|writing|greetings|hello|hi|hey|waving|reporting\s+in|saying\s+hi)\s+from\s+(?P<v>[^!.?,;]+)"
    r"|\b(?:settled\s+in|settling\s+in|here\s+in)\s+(?P<w>[^!.?,;]+)",
    re.I,
)
_THESE_DAYS = re.compile(r"\b(?:these\s+days|nowadays|lately|now|at\s+the\s+moment)\b", re.I)
_RESIDENCE = re.compile(r"\b(?:live|lived|living|moved|relocated|home)\b", re.I)
_ACCEPTED = re.compile(
    r"\bI\s+(?:\w+\s+)?(?:got|accepted|took|landed)\s+(?:the\s+(?:job|offer|position|role)|it)\b|\bI\s+said\s+yes\b", re.I
)
_ACQUIRED = re.compile(
    rf"\b(?:I|we)\s+{A}(?:have\s+)?(?:adopted|got|rescued|brought\s+home|bought)\s+(?:a|an|my|our)\s+"
    rf"{p.PET_ADJECTIVES}(?P<sp>" + "|".join(sorted(p.PET_SPECIES, key=len, reverse=True)) + r")\b",
    re.I,
)


def _species(word: str) -> str:
    return p.PET_SPECIES[word.lower()]


def ended_pet(match: re.Match[str], ctx: Context) -> list[Found]:
    """A pet that is gone: "I don't have a dog anymore" -> dog."""
    species = _species(match.group("sp"))
    return [Found("pet", species, f"has {p.article(species)}")]


def owned(match: re.Match[str], ctx: Context) -> list[Found]:
    """A possession sold or given away: "I sold my car" -> car."""
    if not p.ends_phrase(match.group("rest")):
        return []
    written = " ".join([*match.group("adj").lower().split(), match.group("obj").lower()])
    value = re.sub(r"^(?:brand[\s-])?new\s+", "", written)
    return [Found("owns", value, f"owns {p.article(value)}")]


def drink(*, habit: bool = False) -> Builder:
    """The everyday drink; ``habit``: "I have/make X" counts only with "every morning", "now"...

    "instead of Y" after the drink, or "from Y" in the match, ends Y.
    """

    def build(match: re.Match[str], ctx: Context) -> list[Found]:
        value = " ".join(match.group("v").lower().split())
        rest = ctx.sentence[match.end() :]
        verb = (match.groupdict().get("verb") or "").lower()
        if habit and verb in ("have", "make") and not (
            _HABIT.match(rest) or re.search(r"\bnow\s+I\s", ctx.sentence[: match.start() + 6], re.I)
        ):
            return []
        modifier = re.match(rf"{p.DRINK_MODIFIERS}", match.group("mod") or "", re.I)
        kept = (modifier.group(0) if modifier else "").lower().split()
        value = " ".join([word for word in kept if word not in ("a", "an")] + [value])
        found = [Found("drink", value, f"drinks {value}")]
        old = match.groupdict().get("old") or ((instead := _INSTEAD.match(rest)) and instead.group("old"))
        if old and old.lower() != value:
            found.extend(_drink_ends(old))
        return found

    return build


def _drink_ends(drink: str) -> list[Found]:
    """A drink given up: as the everyday drink, and liking it ("I love espresso"), whatever the feeling."""
    value = " ".join(drink.lower().split())
    return [Found("drink", value, f"drinks {value}", ends=True), Found(f"preference:{value}", "", f"likes {value}", ends=True)]


def ended_drink(match: re.Match[str], ctx: Context) -> list[Found]:
    """ "I quit espresso", "I gave up coffee", "it replaced green tea for me": that drink ends;
    the drink that replaced it, when the match names one, holds."""
    new = (match.groupdict().get("new") or "").lower()
    return [*([Found("drink", new, f"drinks {new}")] if new else []), *_drink_ends(match.group("v"))]


def lately(build: Builder) -> Builder:
    """``build``, only when the sentence says it is so these days ("these days I'm all about matcha")."""

    def checked(match: re.Match[str], ctx: Context) -> list[Found]:
        return build(match, ctx) if _THESE_DAYS.search(ctx.sentence) else []

    return checked


_CLAUSE_ENDS = re.compile(r"\s*(?:$|[.!,;]|(?:and|but|so)\b)", re.I)


def moved_here(match: re.Match[str], ctx: Context) -> list[Found]:
    """ "I moved three weeks ago" with the place elsewhere in the message ("Checking in from Denver!")."""
    rest = match.group("rest")
    start = match.start("rest")
    for mention in ctx.mentions:
        if mention.start >= start and not ctx.sentence[start : mention.start].strip():
            rest = ctx.sentence[mention.end : match.end("rest")]
            break
    if not _CLAUSE_ENDS.match(rest):
        return []  # "I moved the couch", "I moved in with Tom"
    places = set()
    for found in _HERE.finditer(ctx.message):
        run = p.proper_run(found.group("v") or found.group("w") or "")
        if run:
            places.add(run[0])
    if len(places) != 1:
        return []
    (place,) = places
    return [Found("lives_in", place, f"lives in {place}")]


def in_place_now(match: re.Match[str], ctx: Context) -> list[Found]:
    """ "I'm in Seattle now", counted as home only when the message speaks of living or moving."""
    run = p.proper_run(match.group("v"))
    if run is None or not _RESIDENCE.search(ctx.message):
        return []
    now = re.search(r"\bnow\b", match.group(0)[: match.start("v") - match.start()], re.I)
    after = re.match(r"\s*(?:now|these\s+days|nowadays)\b", run[1], re.I)
    rest = run[1][after.end() :] if after else run[1]
    if not (now or after) or not _CLAUSE_ENDS.match(rest):
        return []  # "I'm in Paris now for a conference" is a trip
    return [Found("lives_in", run[0], f"lives in {run[0]}")]


def offered_job(match: re.Match[str], ctx: Context) -> list[Found]:
    """ "Trailmark offered me a product designer position", when the message says it was accepted."""
    if not _ACCEPTED.search(ctx.message):
        return []
    words = match.group("org").split()
    while words and not words[0][:1].isupper():
        words = words[1:]
    run = p.proper_run(" ".join(words), 3)
    title = p.job_title(match.group("v"), creative=True)
    if run is None or run[1].strip() or title is None:
        return []
    return [Found("occupation", title, f"works as {p.article(title)}"), Found("employer", run[0], f"works at {run[0]}")]


def pet_named_later(match: re.Match[str], ctx: Context) -> list[Found]:
    """ "He's a retired racing greyhound named Biscuit" / "we named him Max" after "I adopted a dog"."""
    acquired = _ACQUIRED.search(ctx.message)
    if acquired is None:
        return []
    names = p.proper_run(match.group("v"), 2, possessive=True)
    if names is None:
        return []
    word = (match.groupdict().get("sp") or acquired.group("sp")).lower()
    value = f"{_species(word)} named {names[0]}"
    return [Found("pet", value, f"has {p.article(_species(word))} named {names[0]}")]


_PLACE_LIVES = b.place("lives_in", "lives in {}")
_PLACE_WORKS = b.place("employer", "works at {}")

CHANGE_RULES: tuple[Rule, ...] = (
    # where one lives: ends, past, across sentences
    make_rule(
        "lives_in",
        _I_OR_WE + rf"{A}no\s+longer\s+(?:live|reside|am\s+living|are\s+living|am\s+based|are\s+based)\s+in\s+(?P<v>.+)",
        _PLACE_LIVES, 0.85, ends=True, triggers="longer",
    ),
    make_rule(
        "lives_in",
        _I_OR_WE + rf"{A}(?:do|am|are)\s+not\s+{A}(?:live|living|based|reside)\s+in\s+{_UNTIL_CLAUSE_END}{_ANYMORE}",
        _PLACE_LIVES, 0.85, ends=True, triggers="anymore any",
    ),
    make_rule(
        "lives_in", _I_OR_WE + rf"{A}(?:have\s+)?moved\s+(?:away\s+from|out\s+of)\s+(?P<v>.+)",
        _PLACE_LIVES, 0.8, ends=True, triggers="moved",
    ),
    make_rule("lives_in", _I_OR_WE + rf"{A}used\s+to\s+live\s+in\s+(?P<v>.+)", _PLACE_LIVES, 0.8, ends=True, triggers="used"),
    make_rule("lives_in", _I_OR_WE + rf"{A}lived\s+in\s+(?P<v>.+)", _PLACE_LIVES, 0.8, past=True, triggers="lived"),
    make_rule(
        "lives_in", _I_OR_WE + rf"{A}(?:have\s+{A})?(?:moved|relocated)(?:\s+(?:over\s+|out\s+)?here)?(?P<rest>.*)",
        moved_here, 0.8, dated=True, triggers="moved relocated",
    ),
    make_rule("lives_in", _I_OR_WE + rf"(?:am|are)\s+{A}in\s+(?P<v>.+)", in_place_now, 0.75, triggers="now"),
    # work: ends, past, an accepted offer
    make_rule(
        "employer", rf"\bI\s+{A}no\s+longer\s+(?:work|am\s+working)\s+(?:at|for)\s+(?P<v>.+)",
        _PLACE_WORKS, 0.85, ends=True, triggers="longer",
    ),
    make_rule(
        "employer", rf"\bI\s+{A}(?:do|am)\s+not\s+{A}(?:work|working)\s+(?:at|for)\s+{_UNTIL_CLAUSE_END}{_ANYMORE}",
        _PLACE_WORKS, 0.85, ends=True, triggers="anymore any",
    ),
    make_rule(
        "employer",
        rf"\bI\s+{A}(?:have\s+{A})?(?:quit|left)\s+(?:my|the)\s+(?:job|position|role|gig)\s+(?:at|with)\s+(?P<v>.+)"
        rf"|\bI\s+{A}(?:have\s+{A})?(?:gave|handed\s+in|put\s+in)\s+(?:my\s+)?(?:two\s+weeks'?\s+)?notice\s+(?:at|to)\s+(?P<v2>.+)"
        rf"|\bI\s+{A}(?:got|was|have\s+been)\s+(?:laid\s+off|fired|let\s+go)\s+(?:from|by)\s+(?P<v3>.+)",
        lambda match, ctx: _PLACE_WORKS(_value_group(match), ctx),
        0.85, ends=True, triggers="quit left notice laid fired",
    ),
    make_rule(
        "employer", rf"\bI\s+{A}used\s+to\s+work\s+(?:as\s+(?:an?\s+)?[\w-]+(?:\s+[\w-]+)?\s+)?(?:at|for)\s+(?P<v>.+)",
        _PLACE_WORKS, 0.8, ends=True, triggers="used",
    ),
    make_rule(
        "occupation", rf"\bI\s+{A}used\s+to\s+work\s+as\s+(?P<v>.+)",
        b.job(creative=True, predicate="works as"), 0.8, ends=True, triggers="used",
    ),
    make_rule(
        "employer", rf"\bI\s+{A}worked\s+(?:as\s+(?:an?\s+)?[\w-]+(?:\s+[\w-]+)?\s+)?(?:at|for)\s+(?P<v>.+)",
        _PLACE_WORKS, 0.8, past=True, triggers="worked",
    ),
    make_rule(
        "occupation", rf"\bI\s+{A}worked\s+as\s+(?P<v>.+)", b.job(creative=True, predicate="works as"), 0.8,
        past=True, triggers="worked",
    ),
    make_rule(
        "employer",
        r"(?P<org>[\w&'-]+(?:\s+[\w&'-]+){0,2}?)\s+(?:offered|gave)\s+me\s+(?P<v>(?:a|an|the)\s+[\w\s-]+?)\s+(?:position|job|role)\b",
        offered_job, 0.75, dated=True, triggers="offered",
    ),
    # pets: gone, and named in the next sentence
    make_rule(
        "pet",
        rf"\b(?:my|our)\s+{p.PET_ADJECTIVES}{_SPECIES}(?P<sep>,)?\s+(?P<v>[A-Z][\w'-]*,?)\s+(?:has\s+)?(?:passed\s+away|died|passed|was\s+put\s+down)\b",
        b.pet_named, 0.85, ends=True, triggers="passed died",
    ),
    make_rule(
        "pet", _I_OR_WE + rf"{A}no\s+longer\s+have\s+(?:a|an|my|our|the)\s+{p.PET_ADJECTIVES}{_SPECIES}",
        ended_pet, 0.8, ends=True, triggers="longer",
    ),
    make_rule(
        "pet", _I_OR_WE + rf"{A}do\s+not\s+have\s+(?:a|an|my|our|the)\s+{p.PET_ADJECTIVES}{_SPECIES}{_ANYMORE}",
        ended_pet, 0.8, ends=True, triggers="anymore any",
    ),
    make_rule(
        "pet",
        r"^\W*(?:(?:he|she|it)(?:'s|\s+is)|meet)\s+(?:a|an|our|my)?\s*(?:[\w-]+\s+){0,3}?" + _SPECIES + r"\s*,?\s+(?:named|called)\s+(?P<v>.+)",
        pet_named_later, 0.8, triggers=frozenset(p.PET_SPECIES), first_person=False,
    ),
    make_rule(
        "pet", r"\b(?:I|we)\s+(?:have\s+)?(?:named|called)\s+(?:him|her|it)\s+(?P<v>.+)",
        pet_named_later, 0.8, triggers="named called",
    ),
    # possessions gone
    make_rule(
        "owns",
        _I_OR_WE + rf"{A}(?:have\s+{A})?(?:sold|gave\s+away|got\s+rid\s+of|donated|totaled|totalled)\s+(?:my|our)\s+"
        rf"(?P<adj>{p.POSSESSION_ADJECTIVES}){_POSSESSION}\b(?P<rest>.*)",
        owned, 0.8, ends=True, triggers="sold gave rid donated totaled totalled",
    ),
    # the everyday drink
    make_rule(
        "drink",
        rf"\bI\s+{A}(?:also\s+)?(?P<verb>drink|have|make|am\s+{A}drinking|have\s+{A}been\s+drinking|start\s+(?:my|each|every)\s+"
        rf"(?:day|morning)\s+with)\s+(?P<mod>{_A_DRINK})(?P<v>{_DRINK})\b",
        drink(habit=True), 0.75, triggers=_DRINK_WORDS,
    ),
    make_rule(
        "drink",
        rf"\bI\s+{A}(?:have\s+{A})?(?:switched|swapped|changed|moved)\s+(?:over\s+)?(?:from\s+{p.DRINK_MODIFIERS}(?P<old>{_DRINK})\s+)?"
        rf"to\s+(?P<mod>{_A_DRINK})(?P<v>{_DRINK})\b",
        drink(), 0.8, dated=True, triggers="switched swapped changed moved",
    ),
    make_rule(
        "drink", rf"\bI\s+am\s+{A}sticking\s+(?:with|to)\s+(?P<mod>{_A_DRINK})(?P<v>{_DRINK})\b",
        drink(), 0.75, triggers="sticking",
    ),
    make_rule(
        "drink",
        rf"(?:^\W*|\b(?:so|and|but)\s+)(?:these\s+days|nowadays|lately|now)\s*,?\s*it(?:'s|\s+is)\s+(?:all\s+)?(?P<mod>{_A_DRINK})(?P<v>{_DRINK})\b",
        drink(), 0.7, triggers="days nowadays now lately", first_person=False,
    ),
    make_rule(
        "drink",
        rf"\bI\s+{A}(?:have\s+{A})?(?:quit|gave\s+up|given\s+up|stopped\s+drinking|cut\s+out|ditched)\s+{p.DRINK_MODIFIERS}(?P<v>{_DRINK})\b",
        ended_drink, 0.8, ends=True, triggers="quit gave given stopped cut ditched",
    ),
    make_rule(
        "drink", rf"\bI\s+am\s+{A}all\s+about\s+(?P<mod>{_A_DRINK})(?P<v>{_DRINK})\b", lately(drink()), 0.7,
        triggers=_DRINK_WORDS,
    ),
    make_rule(
        "drink", rf"\b(?:it|(?P<new>{_DRINK}))\s+(?:has\s+)?replaced\s+{p.DRINK_MODIFIERS}(?P<v>{_DRINK})\s+for\s+me\b",
        ended_drink, 0.75, dated=True, triggers="replaced",
    ),
)  # fmt: skip


def _value_group(match: re.Match[str]) -> re.Match[str]:
    """The match re-run so that whichever alternative matched names its value ``v``."""
    group = next(name for name in ("v", "v2", "v3") if match.group(name) is not None)
    again = re.compile(r"(?P<v>.+)", re.S).match(match.string, match.start(group), match.end(group))
    assert again is not None
    return again
