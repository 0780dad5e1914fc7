"""Key phrases, named entities and salience of one message.

* :func:`keyphrases` is RAKE (Rose et al., 2010): candidate phrases are the runs of words
  between stopwords and punctuation, each word scores degree / frequency, a phrase the sum of
  its words. A-MEM's notes carry such keywords.
* :func:`entities` finds proper names by capitalisation, skipping words capitalised only
  because they start a sentence.
* :func:`salience` is the sensory filter of LightMem (and SirLLM's idea of keeping what carries
  information): backchannel such as "ok", "haha", "thanks!" scores near 0, a first-person
  statement of facts, names, numbers or dates near 1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from engram.text.stopwords import STOPWORDS


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


__all__ = [
    "PhraseRuns",
    "entities",
    "joined_keyphrases",
    "keyphrases",
    "phrase_runs",
    "phrase_tokens",
    "salience",
]

#: Chat words that carry no topic on their own, on top of the shared STOPWORDS.
BACKCHANNEL = _words(
    """
    ok okay k kk yes yeah yep yup yea no nope nah sure cool nice great good awesome amazing wow
    haha hahaha hah ha hehe lol lmao rofl omg oh ooh ah aw aww hmm hm um uh thanks thank thx ty
    welcome bye goodbye hi hello hey hiya yay woah whoa wonderful fantastic incredible lovely
    glad happy sweet perfect right exactly totally absolutely definitely indeed true agreed
    alright fine sounds sound like love congrats congratulations cute fun interesting sorry
    please xoxo see soon later night morning care take gonna wanna gotta
    """
)
#: Further verbs and fillers too vague to be key phrases.
_FILLER = _words(
    """
    get got getting go going went gone make made making know knew think thought feel felt
    want wanted say said tell told thing things stuff something anything everything lot lots
    kind sort bit way one ones pretty quite even maybe probably actually literally super well
    let lets can will would could should might must may shall need needs keep kept seem seems
    seemed look looks looked come came take took let's that's it's i'm you're they're we're
    there's what's loves loved likes liked last next ago since yesterday today tomorrow tonight
    recently lately soon already always never sometimes often usually day days week weeks month
    months year years time times
    """
)
_PHRASE_STOPWORDS = STOPWORDS | BACKCHANNEL | _FILLER
_MAX_PHRASE_WORDS = 4

#: Words (apostrophes straightened, possessive 's kept) and the punctuation that splits phrases.
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[.,;:!?()\[\]{}\"“”…—–/\\|]|\s-\s")
_POSSESSIVE = re.compile(r"'s\b")
_TITLE = r"(?:(?:Dr|Mr|Mrs|Ms|Prof|St)\.\s)"
_CAPITALISED = r"[A-Z][\w'’&-]*"
#: Runs of capitalised words, "of"/"de"/... allowed inside: "Bank of America", "Dr. Smith".
#: Every run starts with a capital (a title's too): the lookahead turns most other positions away
#: before the costlier lookbehind is tried (same matches, half the time).
_NAME_RUN = re.compile(
    rf"(?=[A-Z])(?<![\w'’]){_TITLE}?{_CAPITALISED}"
    rf"(?:[ ](?:(?:of|de|la|van|von|da|del)[ ])?{_TITLE}?{_CAPITALISED})*"
)
_SENTENCE_START = re.compile(r"(?:^|[.!?…]+[\"”')\]]*\s+|\n\s*|[\"“(]\s*|:\s+)$")
_PRONOUNS = frozenset({"I", "I'm", "I've", "I'll", "I'd", "I’m", "I’ve", "I’ll", "I’d"})
_NOT_NAMES = _words(
    """
    i i'm i've i'll i'd im ive ok lol omg btw idk tbh imo imho lmao rofl tv ps am pm
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
    """
)
#: Capitalised at a sentence start only because they start it.
_COMMON_OPENERS = _PHRASE_STOPWORDS | _words(
    """
    also anyway anyways btw honestly seriously speaking guess hope wish mine glad happy sounds
    looks seems just really especially luckily unfortunately fortunately hopefully plus and but
    so then now today yesterday tomorrow tonight last next this these those here there
    oh well yes no thanks thank hey hi wow yeah
    """
)
_FIRST_PERSON = _words("i i'm i've i'll i'd my me mine myself we we're we've our ours us")
#: Words of messages that state facts: verbs of moving, working, family, pets, plans, tastes.
_FACT_WORDS = _words(
    """
    live lives lived living moved move born grew work works worked working job started joined
    married engaged divorced adopted bought named called visited visiting graduated studying study
    degree school daughter son wife husband sister brother mom dad mother father kid kids dog cat
    pet birthday favorite favourite plan planning trip went finished won lost love hate prefer
    """
)
_DATE_WORDS = _words(
    """
    yesterday today tomorrow tonight ago last next weekend monday tuesday wednesday thursday friday
    saturday sunday january february march april june july august september october november
    december summer winter spring autumn
    """
)


def _prepared(text: str) -> str:
    """``text`` as the tokenizer reads it: lower case, apostrophes straightened, "'s" dropped."""
    return _POSSESSIVE.sub("", text.lower().replace("’", "'"))


@lru_cache(maxsize=64)
def _tokens(text: str) -> tuple[str, ...]:
    """Lower-case words ("'s" dropped) and phrase-splitting punctuation of ``text``.

    Cached: the write path asks for the key phrases and the salience of the same message.
    """
    return tuple(_TOKEN.findall(_prepared(text)))


def phrase_tokens(text: str) -> tuple[str, ...]:
    """The words and the phrase-splitting punctuation that key phrases are found in, for
    :func:`joined_keyphrases` (cached like the salience's: asking after it costs nothing)."""
    return _tokens(text)


@dataclass(frozen=True, slots=True)
class PhraseRuns:
    """A text's candidate phrases as :func:`phrase_runs` finds them: the phrases its tokens close,
    and the run of words still open after its last token (empty when none), which the next text
    of a joined sequence would continue."""

    closed: tuple[tuple[str, ...], ...]
    open: tuple[str, ...]


def _runs(tokens: Iterable[str], current: list[str]) -> PhraseRuns:
    """The phrases ``tokens`` close (bare numbers left out) and the run left open, continuing the
    run ``current`` carried in (a text before, joined)."""
    phrases: list[tuple[str, ...]] = []
    for token in tokens:
        if token in _PHRASE_STOPWORDS or not token[0].isalnum() or (len(token) < 2 and not token.isdigit()):
            if current:
                phrases.append(tuple(current))
                current = []
        elif not current or current[-1] != token:  # "so so", "dog dog": a repeat adds nothing
            current.append(token)
            if len(current) == _MAX_PHRASE_WORDS:
                phrases.append(tuple(current))
                current = []
    kept = tuple(phrase for phrase in phrases if not all(map(str.isdigit, phrase)))
    return PhraseRuns(kept, tuple(current))


@lru_cache(maxsize=64)
def phrase_runs(text: str) -> PhraseRuns:
    """The candidate phrases of ``text`` (:class:`PhraseRuns`). Cached: a turn's signals find them
    and the next turn's notes rank them (the key phrases of the turn it answers)."""
    return _runs(_tokens(text), [])


def _candidates(runs: PhraseRuns) -> list[tuple[str, ...]]:
    """The candidate phrases of a text (or texts joined) whose runs are ``runs``."""
    if runs.open and not all(map(str.isdigit, runs.open)):
        return [*runs.closed, runs.open]
    return list(runs.closed)


def keyphrases(text: str, *, top: int = 8) -> list[str]:
    """The ``top`` key phrases of ``text``, best first, lower-case, at most four words each.

    Args:
        text: a message.
        top: how many phrases to return at most.

    Returns:
        Distinct phrases ordered by RAKE score (ties keep their order of appearance); never a
        stopword alone or a bare number.
    """
    return _ranked(_candidates(phrase_runs(text)), top)


def joined_keyphrases(
    texts: Sequence[str],
    *,
    top: int = 8,
    tokens: Sequence[tuple[str, ...] | None] | None = None,
    runs: Sequence[PhraseRuns | None] | None = None,
) -> list[str]:
    r"""``keyphrases("\n".join(texts), top=top)``, from each text's :func:`phrase_runs` or
    :func:`phrase_tokens` (given, else computed), so that an episode's turns are not read again.

    Joined by line breaks, the texts' tokens are the tokens of each text in turn: a line break is
    no token, and the only token that can hold one is a dash between spaces (" - "). A text whose
    tokenized form starts or ends with "-" could make one across the break: then the joined text
    is tokenized whole. A text's phrases are its own unless the text before left a run of words
    open (it ended on a word): then its tokens continue that run.

    Args:
        texts: the texts, in order.
        top: how many phrases to return at most.
        tokens: each text's tokens, or None where not in hand; None for none.
        runs: each text's phrase runs, or None where not in hand; None for none.
    """
    if any("-" in text and _dash_at_edge(text) for text in texts):
        return keyphrases("\n".join(texts), top=top)
    phrases: list[tuple[str, ...]] = []
    carried: tuple[str, ...] = ()
    for number, text in enumerate(texts):
        found = runs[number] if runs is not None else None
        if found is None or carried:
            given = tokens[number] if tokens is not None else None
            found = _runs(given if given is not None else _tokens(text), list(carried))
        phrases += found.closed
        carried = found.open
    return _ranked(_candidates(PhraseRuns(tuple(phrases), carried)), top)


def _dash_at_edge(text: str) -> bool:
    prepared = _prepared(text)
    return prepared.startswith("-") or prepared.endswith("-")


def _ranked(phrases: list[tuple[str, ...]], top: int) -> list[str]:
    """RAKE: each word scores degree / frequency, a phrase the sum of its words; best ``top`` first."""
    frequency: dict[str, int] = {}
    degree: dict[str, int] = {}
    for phrase in phrases:
        length = len(phrase)
        for word in phrase:
            if word in frequency:
                frequency[word] += 1
                degree[word] += length
            else:
                frequency[word] = 1
                degree[word] = length
    # By the words themselves (no token holds a space: two phrases join to one text only if equal),
    # so that only the phrases returned are joined.
    scored: dict[tuple[str, ...], float] = {}
    for phrase in phrases:
        if phrase not in scored:
            scored[phrase] = sum([degree[word] / frequency[word] for word in phrase])
    # a stable sort, reversed: equal scores keep their order of appearance
    best = sorted(scored, key=scored.__getitem__, reverse=True)[: max(0, top)]
    return [" ".join(phrase) for phrase in best]


def _clean_run(text: str, start: int, words: list[str]) -> str:
    if _SENTENCE_START.search(text, max(0, start - 6), start):
        first = words[0].lower().replace("’", "'")
        if first in _COMMON_OPENERS or (
            len(words) == 1
            and (
                first.endswith(("ing", "ed", "ly"))
                or _used_after(text, first, start + 1)
            )
        ):
            words = words[1:]
    if words and words[-1].endswith(("'s", "’s")):
        words[-1] = words[-1][:-2]
    if not words or (len(words) == 1 and (words[0].lower() in _NOT_NAMES or len(words[0]) < 2)):
        return ""
    return " ".join(words)


def _used_after(text: str, word: str, after: int) -> bool:
    """Whether ``word`` occurs as a whole word in ``text`` from ``after`` on (linear in the text
    once, not per word: a 1 MiB message has thousands of sentence openers)."""
    if not word.isalnum():
        return re.search(rf"\b{re.escape(word)}\b", text[after:]) is not None
    return _last_word_starts(text).get(word, -1) >= after


@lru_cache(maxsize=8)
def _last_word_starts(text: str) -> dict[str, int]:
    """Where each word of ``text`` starts for the last time."""
    return {match.group(): match.start() for match in re.finditer(r"\w+", text)}


def entities(text: str) -> list[str]:
    """Proper names in ``text``: "New York", "LGBTQ", "Dr. Smith", in order, without repeats.

    A capitalised word starting a sentence counts only when it is not a common word ("The",
    "Thanks", "I'm") nor used in lower case elsewhere in the text; month and weekday names, "I"
    and chat acronyms ("OK", "LOL") never count.
    """
    return list(_entities(text))


@lru_cache(maxsize=64)
def _entities(text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for match in _NAME_RUN.finditer(text):
        found, start = match.group(0), match.start()
        if " " not in found:  # one word, most runs: "I", "Mel", "Thanks"
            name = _clean_run(text, start, [found]) if found not in _PRONOUNS else ""
            if name:
                seen.setdefault(name, None)
            continue
        run: list[str] = []
        for word in found.split(" "):
            if word in _PRONOUNS:  # "Mel and I" is not part of a name
                if run:
                    name = _clean_run(text, start, run)
                    if name:
                        seen.setdefault(name, None)
                run = []
                continue
            if not run:
                start = match.start() + found.find(word)
            run.append(word)
        if run:
            name = _clean_run(text, start, run)
            if name:
                seen.setdefault(name, None)
    return tuple(seen)


def salience(text: str) -> float:
    """How much information ``text`` carries, from 0 (backchannel) to 1 (dense personal facts).

    Content words (neither stopwords nor backchannel) set the base; a first-person speaker,
    names, numbers, dates and fact-bearing words add to it; a question takes a little off.
    """
    tokens = _tokens(text)
    # A punctuation token is no stopword, no number and in none of the word sets: only the count
    # of content words needs the words alone.
    content = len([w for w in tokens if w not in _PHRASE_STOPWORDS and w[0].isalnum() and not w.isdigit()])
    if not content:
        return 0.05 if any(token[0].isalnum() for token in tokens) else 0.0
    unique = set(tokens)
    score = 0.5 * (1.0 - math.exp(-content / 5.0))
    if not _FIRST_PERSON.isdisjoint(unique):
        score += 0.15
    if not _DATE_WORDS.isdisjoint(unique) or any(map(str.isdigit, unique)):
        score += 0.1
    if not _FACT_WORDS.isdisjoint(unique):
        score += 0.15
    if _entities(text):
        score += 0.1
    if text.rstrip().endswith("?"):
        score -= 0.1
    return round(min(1.0, max(0.0, score)), 3)
