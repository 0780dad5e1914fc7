"""Rule-based extraction of facts about the speaker from one message.

"I moved to Lisbon last May" from Sam becomes ``lives_in = Lisbon`` valid from May, and "I
don't like sushi anymore" becomes ``preference:sushi = dislikes``. The rules are English
first-person patterns (the Pref-LSTM / RET-LLM idea of picking out the turns that state
facts and preferences, done without a model) and are tuned for precision: questions,
hedges ("if", "would", "maybe", "I think"), negations, reported speech and other people's
facts are skipped, and values must look right (a known job title, a capitalised place).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from engram.model import NewTurn, Turn
from engram.text.timeexpr import TimeMention, find_time_mentions
from engram.write import patterns as p
from engram.write.builders import Context, Found
from engram.write.change_rules import CHANGE_RULES
from engram.write.hedges import conditional, is_pasted
from engram.write.instructions import instruction_facts_of
from engram.write.life_rules import LIFE_RULES
from engram.write.rules import RULES, Rule

__all__ = ["FactCandidate", "extract_facts", "turn_facts"]

_MULTI_PREFIXES = ("family:", "pet", "owns", "plan")
_KINDS = {
    "name": "identity", "lives_in": "location", "hometown": "location", "occupation": "work",
    "employer": "work", "pet": "pet", "owns": "possession", "plan": "plan",
    "relationship_status": "identity", "family": "family", "preference": "preference",
    "favorite": "preference", "nickname": "identity", "drink": "preference",
}  # fmt: skip
_ALL_RULES = (*RULES, *CHANGE_RULES, *LIFE_RULES)


def _rules_by_word() -> dict[str, tuple[int, ...]]:
    """Each trigger word's rules, by their position in ``_ALL_RULES``: a sentence's words find
    the rules they can trigger without testing every rule."""
    index: dict[str, tuple[int, ...]] = {}
    for position, rule in enumerate(_ALL_RULES):
        for word in rule.triggers:
            index[word] = (*index.get(word, ()), position)
    return index


_RULES_BY_WORD = _rules_by_word()
_TRIGGER_WORDS = frozenset(_RULES_BY_WORD)


@dataclass(frozen=True, slots=True)
class FactCandidate:
    """One fact a message states about its speaker, before reconciliation with stored facts.

    Attributes:
        subject: the speaker's name, or ``"user"`` when the speaker has none.
        attribute: the slot, e.g. ``"lives_in"``, ``"family:sister"``, ``"preference:sushi"``.
        value: the normalised value, e.g. ``"Lisbon"``, ``"nurse"``, ``"dog named Biscuit"``.
        statement: a short third-person sentence, e.g. ``"Sam lives in Lisbon"``.
        kind: identity, location, work, family, pet, possession, plan or preference.
        multi: whether several values coexist in the slot (pets, family, possessions, plans).
        valid_from: start of a time mention dating the fact ("last May"); None means the
            message's own time.
        valid_to: for a past state the message dates ("I lived in Paris from 2015 to 2018",
            "back in 2019 I worked at IBM"), the end of the last period named (exclusive:
            2019-01-01 for "to 2018"); None means the value still holds, as far as the message
            says.
        confidence: 0..1, from how explicit the pattern is.
        evidence: the sentence the fact came from.
        ends: the message says the value no longer holds ("I don't live in Chicago anymore"):
            reconciliation closes that value's version at ``valid_from`` instead of adding one.
    """

    subject: str
    attribute: str
    value: str
    statement: str
    kind: str
    multi: bool
    valid_from: datetime | None
    confidence: float
    evidence: str
    ends: bool = False
    valid_to: datetime | None = None


#: Every break starts with white space: the lookahead turns other positions away at once.
_SENTENCE_BREAK = re.compile(
    r"(?=\s)(?:(?<=[.!?])(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bSt\.)(?<!\bMt\.)(?<!\bMrs\.)(?<!\bJr\.)"
    r"(?<!\bSr\.)(?<!\bvs\.)(?<!\bProf\.)\s+|\n+)"
)
_WORD = re.compile(r"[^\W\d_]+")
_FIRST_PERSON = frozenset({"i", "im", "my", "me", "we", "our"})
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
_LONE_I = (re.compile(r"\bi\b"), "I")
_CANNOT = (re.compile(r"\bcan't\b|\bcannot\b", re.I), "cannot")
_CONTRACTIONS: tuple[tuple[re.Pattern[str], str | None], ...] = (
    _LONE_I,
    (re.compile(r"\b(I|we|you|they)'(m|re|ve|ll|d)\b", re.I), None),
    _CANNOT,
    (re.compile(r"\bwon't\b", re.I), "will not"),
    (re.compile(r"\b(\w+)n't\b", re.I), r"\1 not"),
)
#: What can change in a sentence without an apostrophe (no replacement adds one): a lone "i", and
#: "cannot" in capitals.
_WITHOUT_APOSTROPHE = (_LONE_I, _CANNOT)
_EXPANSIONS = {"m": "am", "re": "are", "ve": "have", "ll": "will", "d": "would"}
_QUESTION_START = re.compile(
    r"^\W*(?:do|does|did|are|is|have|has|can|could|would|will|what|where|when|why|how|who|which)\s+"
    r"(?:you|u|ya|your|we)\b",
    re.I,
)
_HEDGE = (
    r"if|would|could|might|maybe|perhaps|wish|wishes|dream|dreams|dreaming|imagine|imagining|pretend"
    r"|unless|whether|should|say|says|said|saying|tell|tells|told|think|thinks|thought|guess|suppose"
    r"|believe|believes|someday|probably|(?-i:may)|almost|nearly|assuming|provided|providing"
)
_HEDGED = re.compile(rf"\b(?:{_HEDGE}|hope|hopes|hoping|hopefully|want|wants|wanted|wanna)\b", re.I)
_HEDGED_PLAN = re.compile(rf"\b(?:{_HEDGE}|once(?=\s+(?:I|we|my|our|the|it|they|you|this|that)\b))\b", re.I)
#: Negations govern their own clause only: "I don't have a dog, but I have a cat".
_NEGATED = re.compile(r"\b(?:not|never|no|nor|cannot|used)\b", re.I)
_NEGATION_SCOPE = re.compile(r"[,;:]|\s(?:but|and|then|so|because|although|though|while)\s", re.I)
_RANGE = re.compile(
    r"\b(?i:from|between)\s+(?P<a>(?:[A-Z][a-z]+\s+)?(?:19|20)\d\d)\s*(?i:to|until|till|through|and|-|–)\s*"
    r"(?P<b>(?:[A-Z][a-z]+\s+)?(?:19|20)\d\d)\b"
)
_CONJUNCTION = r"\s(?:but|and|then|so|because|while|when|after|before|although|though|until)\s"
_CLAUSE_START = re.compile(rf"[;:]|{_CONJUNCTION}", re.I)
_CLAUSE_END = re.compile(rf"[,;:]|{_CONJUNCTION}", re.I)


def _expand(match: re.Match[str]) -> str:
    return f"{match.group(1)} {_EXPANSIONS[match.group(2).lower()]}"


def _normalise(sentence: str) -> str:
    """Curly quotes straightened, contractions expanded ("I'm" -> "I am", "don't" -> "do not")."""
    text = sentence.translate(_QUOTES)
    for pattern, replacement in _CONTRACTIONS if "'" in text else _WITHOUT_APOSTROPHE:
        text = pattern.sub(replacement if replacement is not None else _expand, text)
    return text


def _count_quotes(sentence: str, seen: int) -> int:
    """``seen`` plus the quotation marks in ``sentence`` (odd: a quotation is open).

    A straight double quote right after a digit outside a quotation is an inch mark
    (``5'10"``, ``a 55" TV``), not the start of one.
    """
    for mark in re.finditer(r'["“”]', sentence):
        start = mark.start()
        if seen % 2 == 0 and mark.group() == '"' and start and sentence[start - 1].isdigit():
            continue
        seen += 1
    return seen


def _is_question(sentence: str) -> bool:
    return sentence.rstrip().endswith("?") or _QUESTION_START.match(sentence) is not None


def _blocked(sentence: str, match: re.Match[str], rule: Rule) -> bool:
    """Whether a hedge, negation, condition, reported speech or a quotation governs the match."""
    prefix = sentence[: match.start()]
    if prefix.count('"') % 2 == 1:
        return True
    hedged = _HEDGED_PLAN if rule.attribute == "plan" else _HEDGED
    if hedged.search(prefix) is not None:
        return True
    groups = match.groupdict()
    value = next((match.start(name) for name in ("v", "rest") if groups.get(name) is not None), match.end())
    if conditional(sentence, value):  # "... to my landlord by November 1 if my condo purchase proceeds"
        return True
    scope = max((found.end() for found in _NEGATION_SCOPE.finditer(prefix)), default=0)
    return _NEGATED.search(prefix, scope) is not None


def _past_span(
    match: re.Match[str], sentence: str, mentions: list[TimeMention], timestamp: datetime
) -> tuple[datetime, datetime] | None:
    """When a past state held: a range ("from 2015 to 2018": 2015-01-01 to 2019-01-01) or one
    past time mention of its clause ("back in 2019": the year); None when nothing dates it."""
    found = _RANGE.search(sentence)
    if found:
        first = find_time_mentions(f"in {found.group('a')}", timestamp)
        last = find_time_mentions(f"in {found.group('b')}", timestamp)
        if first and last and first[0].begin < last[0].until:
            return first[0].begin, last[0].until
        return None
    dating = _dating_mention_of(match, sentence, mentions, dated=True)
    if dating is None or dating.direction != "past":
        return None
    return dating.begin, dating.until


_LEFT = re.compile(
    r"(?:,|\band)\s+(?:then\s+)?(?:I\s+|we\s+)?(?:(?:stayed|lived\s+there|was\s+there|were\s+there|remained|worked"
    r"\s+there)(?:\s+there)?\s+(?:until|till|through)|(?:left|moved\s+(?:away|out|on)|quit)(?:\s+in)?)\s+$",
    re.I,
)


def _left_at(
    rule: Rule, found: Found, match: re.Match[str], sentence: str, mentions: list[TimeMention]
) -> datetime | None:
    """When a move or a new job the sentence dates was over: "I moved to Berlin in 2015 and stayed
    until 2018" (2019-01-01, the end of the period named), "... and left in 2018"; None if not said."""
    if not rule.dated or rule.ends or found.ends or found.attribute not in ("lives_in", "employer", "occupation"):
        return None
    for mention in mentions:
        if mention.start > match.start() and mention.direction == "past" and _LEFT.search(sentence[: mention.start]):
            return mention.until
    return None


def _dating_mention(
    rule: Rule, match: re.Match[str], sentence: str, mentions: list[TimeMention]
) -> TimeMention | None:
    """The time mention that dates the fact of ``match`` (see :func:`_dating_mention_of`)."""
    return _dating_mention_of(match, sentence, mentions, dated=rule.dated, plan=rule.attribute == "plan")


def _dating_mention_of(
    match: re.Match[str], sentence: str, mentions: list[TimeMention], *, dated: bool, plan: bool = False
) -> TimeMention | None:
    """The time mention that dates the fact of ``match``, if any.

    Only mentions of the clause that states the fact count ("I got a dog last week and I moved
    in March" dates each by its own). Event facts ("I moved", "I got a dog") take a past or
    present mention; plans a future one; states ("I live in") only a "since ..." mention.
    """
    value_start = match.start("v") if "v" in match.re.groupindex else match.end()
    clause_end = _CLAUSE_END.search(sentence, value_start)
    limit = clause_end.start() if clause_end else len(sentence)
    clause_start = max(
        (found.end() for found in _CLAUSE_START.finditer(sentence, 0, match.start())), default=0
    )
    usable = []
    for mention in mentions:
        if mention.granularity == "span" or not clause_start <= mention.start < limit:
            continue
        if plan:
            ok = mention.direction == "future"
        elif dated:
            ok = mention.direction != "future"
        else:
            ok = (
                sentence[: mention.start].rstrip().lower().endswith("since") and mention.start > match.start()
            )
        if ok:
            usable.append(mention)
    after = [mention for mention in usable if mention.start >= match.start()]
    if after:
        return after[0]
    return usable[-1] if usable else None


def _statement(display: str, predicate: str) -> str:
    return display + predicate if predicate.startswith("'s ") else f"{display} {predicate}"


def turn_facts(turn: Turn | NewTurn) -> list[FactCandidate]:
    """The facts a turn states about its speaker (:func:`extract_facts` of its content)."""
    return extract_facts(turn.content, speaker=turn.name, role=turn.role, timestamp=turn.timestamp)


def extract_facts(text: str, *, speaker: str | None, role: str, timestamp: datetime) -> list[FactCandidate]:
    """Extract the facts that ``text`` states about its speaker.

    Args:
        text: one message.
        speaker: the speaker's name, if known. A named speaker is a person whatever the role
            (in a conversation between two people both speak as "user" or "assistant").
        role: the message's role; an unnamed non-"user" message (an assistant) yields nothing.
        timestamp: when the message was written; time mentions are resolved against it.

    Returns:
        Candidates in order of appearance, at most one per (attribute, value).
    """
    name = (speaker or "").strip()
    if not name and role != "user":
        return []
    subject, display = (name, name) if name else ("user", "The user")
    facts: dict[tuple[str, str], FactCandidate] = {}
    message: str | None = None
    quotes = 0  # straight and curly double quotes seen so far: odd means inside a quotation
    has_quotes = '"' in text or "“" in text or "”" in text
    pasted: bool | None = None
    for raw in _SENTENCE_BREAK.split(text):
        evidence = raw.strip()
        quoted = quotes % 2 == 1
        if has_quotes:
            quotes = _count_quotes(raw, quotes)
        words = _WORD.findall(evidence.lower())
        triggers = _TRIGGER_WORDS.intersection(words)
        if not triggers:
            continue  # no rule can match: most sentences
        first_person = not _FIRST_PERSON.isdisjoint(words)
        rules = [
            rule
            for rule in map(_ALL_RULES.__getitem__, sorted({i for w in triggers for i in _RULES_BY_WORD[w]}))
            if first_person or not rule.first_person
        ]
        if not rules or quoted or _is_question(evidence):
            continue
        pasted = is_pasted(text) if pasted is None else pasted
        if pasted:
            return []
        sentence = _normalise(evidence)
        mentions: list[TimeMention] | None = None
        for rule in rules:
            for match in rule.pattern.finditer(sentence):
                if _blocked(sentence, match, rule):
                    continue
                if mentions is None:
                    mentions = find_time_mentions(sentence, timestamp)
                    message = message if message is not None else _normalise(text)
                context = Context(sentence, mentions, message or sentence)
                for found in rule.build(match, context):
                    if found.value.lower() == subject.lower():
                        continue
                    span: tuple[datetime | None, datetime | None]
                    if rule.past:
                        dated = _past_span(match, sentence, mentions, timestamp)
                        if dated is None:
                            continue  # "I lived in Rome": when, and is it over? Unsure: nothing.
                        span = dated
                    else:
                        dating = _dating_mention(rule, match, sentence, mentions)
                        span = (dating.begin if dating else None, None)
                        left = _left_at(rule, found, match, sentence, mentions)
                        if left is not None:
                            if dating is None:
                                continue  # "I moved to Berlin and stayed until 2018": from when? Nothing.
                            span = (dating.begin, left)
                    ends = rule.ends or found.ends
                    we = match.groupdict().get("s") or "I"
                    candidate = FactCandidate(
                        subject=subject,
                        attribute=found.attribute,
                        value=found.value,
                        statement=_statement(display, f"no longer {found.predicate}" if ends else found.predicate),
                        kind=_KINDS.get(found.attribute.split(":")[0], found.attribute.split(":")[0]),
                        multi=found.attribute.startswith(_MULTI_PREFIXES),
                        valid_from=span[0],
                        confidence=round(rule.confidence - (0.1 if we.lower() == "we" else 0), 2),
                        evidence=evidence,
                        ends=ends,
                        valid_to=span[1],
                    )
                    key = (found.attribute, found.value.lower())
                    if key not in facts or (ends and not facts[key].ends):
                        facts[key] = candidate  # "my dog Rex passed away": the end, not the dog
    stated = _named_pets_only(list(facts.values()))
    if role == "user":
        stated += _instructions(text, subject, display)
    return stated


def _instructions(text: str, subject: str, display: str) -> list[FactCandidate]:
    """The user's standing instructions in ``text`` (:mod:`engram.write.instructions`)."""
    return [
        FactCandidate(
            subject=subject,
            attribute=attribute,
            value=sentence,
            statement=f"{display}'s standing instruction: {sentence}",
            kind="instruction",
            multi=True,
            valid_from=None,
            confidence=0.9,
            evidence=sentence,
        )
        for attribute, sentence in instruction_facts_of(text)
    ]


def _named_pets_only(facts: list[FactCandidate]) -> list[FactCandidate]:
    """Without the unnamed pet a message names later ("I adopted a dog! He's a greyhound named
    Biscuit" is one greyhound, not a dog and a greyhound)."""
    named = {_animal(f.value.split(" named ")[0]) for f in facts if f.attribute == "pet" and " named " in f.value}
    return [
        f
        for f in facts
        if not (f.attribute == "pet" and not f.ends and " named " not in f.value and _animal(f.value) in named)
    ]


def _animal(word: str) -> str:
    word = word.lower()
    return p.SPECIES_OF.get(word, word)
