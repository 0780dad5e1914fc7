"""Value builders of fact extraction: each turns a rule's match into checked, normalised values.

A builder gets the match (group ``v`` is the raw value) and its :class:`Context` (the normalised
sentence, its time mentions, the whole message), and returns the :class:`Found` values:
usually one, none when the value does not look right. :mod:`engram.write.rules` holds the
patterns that call them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from engram.text.stopwords import STOPWORDS
from engram.text.timeexpr import TimeMention
from engram.write import patterns as p

__all__ = [
    "Builder", "Context", "Found", "family", "favorite", "job", "joined", "name", "owns", "pet_acquired",
    "pet_named", "place", "plan", "preference", "status",
]  # fmt: skip


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


@dataclass(frozen=True, slots=True)
class Found:
    """A value a rule found: the slot, the value, and the statement without its subject."""

    attribute: str
    value: str
    predicate: str
    #: The message says the value stopped holding (see :class:`engram.write.extract.FactCandidate`).
    ends: bool = False


@dataclass(frozen=True, slots=True)
class Context:
    """What a builder may look at besides its match.

    Attributes:
        sentence: the normalised sentence the match is in.
        mentions: the sentence's time mentions.
        message: the whole normalised message, for facts stated across sentences ("Checking in
            from Denver! I moved three weeks ago").
    """

    sentence: str
    mentions: list[TimeMention]
    message: str


Builder = Callable[[re.Match[str], Context], list[Found]]


_COUNT = {"two": 2, "three": 3, "four": 4, "2": 2, "3": 3, "4": 4}
_GIFT = re.compile(r"\s+for\s+(?:my|her|his|their|our|the|a|an|him|them)\b", re.I)
_NAMED = re.compile(
    r"\s*,?\s*(?:(?:and\s+)?(?:(?:we|I)\s+)?(?:named|called)(?:\s+(?:him|her|it))?|whose\s+name\s+is)\s+", re.I
)
_LIST_JOIN = re.compile(r"\s*(?:,\s*and|,|and|&)\s+", re.I)
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
_MORE_PETS = re.compile(
    r"\s*(?:,\s*and|,|and)\s+(?:an?|another)\s+(?P<sp>"
    + "|".join(sorted(p.PET_SPECIES, key=len, reverse=True))
    + r")\s+(?:named|called)\s+(?P<name>.+?)(?=\s*(?:,|and\b|$))",
    re.I,
)
_ORGANISATION_CALLED = re.compile(
    r"(?:a|an|the)\s+(?:new\s+|small\s+|tiny\s+|big\s+|local\s+)?(?:tech\s+)?(?:startup|company|firm|agency|studio"
    r"|nonprofit|non-profit|lab|bank|hospital|clinic|bakery|cafe|restaurant|school)\s+(?:called|named)\s+",
    re.I,
)
_APPOSITION_END = re.compile(r"\s*[,()]|\s+(?:-|–)\s")


def _names(text: str, *, many: bool) -> list[str]:
    """Proper names at the start of ``text``: one, or a list ("Lily, Max and Jack")."""
    names: list[str] = []
    while True:
        run = p.proper_run(text, 2, possessive=True)
        if run is None:
            break
        names.append(run[0])
        joined = _LIST_JOIN.match(run[1])
        if not many or joined is None:
            break
        text = run[1][joined.end() :]
    return names


def _cut_at_mention(match: re.Match[str], mentions: list[TimeMention]) -> str:
    value, start = match.group("v"), match.start("v")
    for mention in mentions:
        if start <= mention.start < start + len(value):
            return value[: mention.start - start]
    return value


def place(attribute: str, predicate: str) -> Builder:
    """A capitalised place or organisation ("Lisbon", "the Red Cross" -> "Red Cross")."""

    def build(match: re.Match[str], ctx: Context) -> list[Found]:
        run = p.proper_run(match.group("v"))
        return [Found(attribute, run[0], predicate.format(run[0]))] if run else []

    return build


def job(*, creative: bool, predicate: str) -> Builder:
    """A known job title; ``creative`` also accepts titles that are often hobbies ("painter")."""

    def build(match: re.Match[str], ctx: Context) -> list[Found]:
        title = p.job_title(_cut_at_mention(match, ctx.mentions), creative=creative)  # "a teacher [last week]"
        return [Found("occupation", title, f"{predicate} {p.article(title)}")] if title else []

    return build


def joined(match: re.Match[str], ctx: Context) -> list[Found]:
    """An employer after "I joined", only when the sentence is about work ("as an intern")."""
    if not re.search(
        r"\b(?:as\s+an?|job|company|firm|startup|position|role|hired|employer)\b", ctx.sentence, re.I
    ):
        return []
    called = _ORGANISATION_CALLED.match(match.group("v"))
    if called:  # "I joined a startup called Nimbus"
        run = p.proper_run(match.group("v")[called.end() :])
        return [Found("employer", run[0], f"works at {run[0]}")] if run else []
    return place("employer", "works at {}")(match, ctx)


def family(match: re.Match[str], ctx: Context) -> list[Found]:
    """Named relatives: "my sister Ana", "my kids Lily and Jack", "my wife, Maria, ..."."""
    word = match.group("rel").lower()
    relation = p.RELATIONS[word]
    names = _names(match.group("v"), many=word.endswith("s") or word == "children")
    if (
        match.groupdict().get("sep") == ","
        and names
        and not _APPOSITION_END.match(_after_names(match, names))
    ):
        return []  # "I miss my mom, Caroline." addresses Caroline; "my girlfriend, Toby and I" lists
    return [Found(f"family:{relation}", name, f"has {p.article(relation)} named {name}") for name in names]


def _after_names(match: re.Match[str], names: list[str]) -> str:
    value = match.group("v")
    last = value.rfind(names[-1])
    return value[last + len(names[-1]) :] if last >= 0 else value


def pet_named(match: re.Match[str], ctx: Context) -> list[Found]:
    """Named pets: "my dog Rex", "my cat's name is Mo"."""
    word = match.group("sp").lower()
    species = p.PET_SPECIES[word]
    names = _names(match.group("v"), many=word.endswith("s"))
    if (
        match.groupdict().get("sep") == ","
        and names
        and not _APPOSITION_END.match(_after_names(match, names))
    ):
        return []
    return [
        Found("pet", f"{species} named {name}", f"has {p.article(species)} named {name}") for name in names
    ]


def pet_acquired(match: re.Match[str], ctx: Context) -> list[Found]:
    """Pets had or got: "I adopted a cat called Mo", "we got a puppy", "I have two cats, Milo and Otis"."""
    word, rest = match.group("sp").lower(), match.group("rest")
    determiner, verb = match.group("det").lower(), " ".join(match.group("verb").lower().split())
    verb = {"have": "has", "own": "owns", "brought home": "brought home"}.get(verb, verb)
    species, count = p.PET_SPECIES[word], _COUNT.get(determiner, 1)
    named = _NAMED.match(rest)
    names = _names(rest[named.end() :], many=count > 1) if named else _listed(rest, count)
    if _GIFT.match(rest) or (named and not names):
        return []
    if names:
        found = [Found("pet", f"{species} named {n}", f"{verb} {p.article(species)} named {n}") for n in names]
    elif not p.ends_phrase(rest):
        return []
    elif determiner in _COUNT and word != species:
        return [Found("pet", f"{determiner} {word}", f"{verb} {determiner} {word}")]
    else:
        found = [Found("pet", species, f"{verb} {p.article(species)}")]
    for more in _MORE_PETS.finditer(rest):  # "... a dog named Max and a cat named Luna"
        names = _names(more.group("name"), many=False)
        if names:
            other = f"{p.PET_SPECIES[more.group('sp').lower()]} named {names[0]}"
            found.append(Found("pet", other, f"{verb} {p.article(other)}"))
    return found


def _listed(rest: str, count: int) -> list[str]:
    """The names in apposition ("two cats, Milo and Otis."): as many as counted, then the clause ends."""
    comma = re.match(r"\s*,\s*", rest)
    names = _names(rest[comma.end() :], many=count > 1) if comma else []
    tail = rest[rest.rfind(names[-1]) + len(names[-1]) :] if names else ""
    return names if len(names) == count and re.match(r"\s*(?:$|[,.!?;:()]|\s-\s|(?:who|which)\b)", tail) else []


def owns(match: re.Match[str], ctx: Context) -> list[Found]:
    """Known possessions bought or owned ("a new car" -> "car"), not gifts for someone else."""
    rest = match.group("rest")
    if _GIFT.match(rest) or not p.ends_phrase(rest):
        return []
    written = " ".join([*match.group("adj").lower().split(), match.group("obj").lower()])
    value = re.sub(r"^(?:brand[\s-])?new\s+", "", written)
    verb = match.group("verb").lower()
    if verb in ("own", "have"):
        return [Found("owns", value, f"owns {p.article(value)}")]
    return [Found("owns", value, f"{verb} {p.article(written)}")]


def plan(*, going: bool = False, noun: bool = False) -> Builder:
    """Plans: "planning to visit Paris", "going to Tokyo next month" (``going``: only with a
    future time mention), "planning a trip to Lisbon" (``noun``: a known kind of plan)."""

    def build(match: re.Match[str], ctx: Context) -> list[Found]:
        if going and not any(m.direction == "future" and m.start > match.start() for m in ctx.mentions):
            return []
        if noun:
            return _planned_thing(match, ctx.mentions)
        value = _cut_at_mention(match, ctx.mentions)
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
    value = _cut_at_mention(match, mentions)
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
    value = _cut_at_mention(match, ctx.mentions)
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


def favorite(match: re.Match[str], ctx: Context) -> list[Found]:
    """ "My favorite food is ramen" (one favourite, not "one of my favorite dishes")."""
    if re.search(r"\b(?:one|some|two|three|few|all|many|any)\s+of\s+$", ctx.sentence[: match.start()], re.I):
        return []  # "one of my favorite dishes is ..." names one of several
    category = re.sub(r"^(?:kind|type|sort|genre)\s+of\s+", "", match.group("cat").lower())
    if category.split()[-1] in p.VAGUE_OBJECTS or category.split()[0] in p.VAGUE_OBJECTS:
        return []
    text = p.strip_article(match.group("v"))
    first = text.split()[0].lower() if text.split() else ""
    if (
        not first
        or first in p.PRONOUN_STARTS
        or first in ("probably", "maybe", "definitely", "still", "either")
    ):
        return []
    value = p.title_run(text) if text[0].isupper() else p.trim_value(text, 4).lower()
    if not value or len(value.split()) > 6:
        return []
    spelling = "favourite" if "favourite" in match.group(0).lower() else "favorite"
    return [Found(f"favorite:{category}", value, f"'s {spelling} {category} is {value}")]


def status(match: re.Match[str], ctx: Context) -> list[Found]:
    """Relationship status: married, engaged, divorced, separated, widowed, single."""
    status = match.group("st").lower()
    status = "widowed" if status.startswith("widow") else status
    got = re.search(r"\bgot(?:ten)?\s", match.group(0), re.I) is not None
    return [Found("relationship_status", status, f"got {status}" if got else f"is {status}")]


def name(predicate: str, attribute: str = "name") -> Builder:
    """The speaker's own name (``name``) or what they go by (``nickname``), capitalised."""

    def build(match: re.Match[str], ctx: Context) -> list[Found]:
        run = p.proper_run(match.group("v"), 3)
        return [Found(attribute, run[0], predicate.format(run[0]))] if run else []

    return build
