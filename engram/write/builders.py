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

from engram.text.timeexpr import TimeMention
from engram.write import patterns as p

__all__ = [
    "Builder", "Context", "Found", "cut_at_mention", "family", "favorite", "job", "joined", "name", "owns",
    "pet_acquired", "pet_named", "place", "status",
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
#: Verbs after which "engaged" means attentive, not about to marry (up to the end of their clause).
_ATTENTIVE = re.compile(
    r"\b(?:show|shows|showing|showed|stay|stays|staying|keep|keeps|keeping|remain|remains|remaining|feel"
    r"|feels|feeling|seem|seems|look|looks|prove|make\s+sure)\b[^,;:.!?]*$",
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


def cut_at_mention(match: re.Match[str], mentions: list[TimeMention]) -> str:
    """The value of ``match`` cut where a time mention starts ("a teacher [last week]")."""
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
        title = p.job_title(cut_at_mention(match, ctx.mentions), creative=creative)  # "a teacher [last week]"
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
    """Relationship status: married, engaged, divorced, separated, widowed, single; not "engaged" as
    attentive ("show that I'm engaged", "I stay engaged in class")."""
    status = match.group("st").lower()
    if status == "engaged" and _ATTENTIVE.search(ctx.sentence[: match.start()]):
        return []
    status = "widowed" if status.startswith("widow") else status
    got = re.search(r"\bgot(?:ten)?\s", match.group(0), re.I) is not None
    return [Found("relationship_status", status, f"got {status}" if got else f"is {status}")]


def name(predicate: str, attribute: str = "name") -> Builder:
    """The speaker's own name (``name``) or what they go by (``nickname``), capitalised."""

    def build(match: re.Match[str], ctx: Context) -> list[Found]:
        run = p.proper_run(match.group("v"), 3)
        return [Found(attribute, run[0], predicate.format(run[0]))] if run else []

    return build
