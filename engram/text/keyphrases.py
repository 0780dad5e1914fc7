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
from functools import lru_cache

from engram.text.stopwords import STOPWORDS


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


__all__ = ["entities", "keyphrases", "salience"]

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
_NAME_RUN = re.compile(
    rf"(?<![\w'’]){_TITLE}?{_CAPITALISED}(?:[ ](?:(?:of|de|la|van|von|da|del)[ ])?{_TITLE}?{_CAPITALISED})*"
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


@lru_cache(maxsize=64)
def _tokens(text: str) -> tuple[str, ...]:
    """Lower-case words ("'s" dropped) and phrase-splitting punctuation of ``text``.

    Cached: the write path asks for the key phrases and the salience of the same message.
    """
    return tuple(_TOKEN.findall(_POSSESSIVE.sub("", text.lower().replace("’", "'"))))


def _candidates(tokens: tuple[str, ...]) -> list[tuple[str, ...]]:
    phrases: list[tuple[str, ...]] = []
    current: list[str] = []
    for token in tokens:
        if not token[0].isalnum() or token in _PHRASE_STOPWORDS or (len(token) < 2 and not token.isdigit()):
            if current:
                phrases.append(tuple(current))
                current = []
            continue
        if current and current[-1] == token:
            continue  # "so so", "dog dog": a repeat adds nothing
        current.append(token)
        if len(current) == _MAX_PHRASE_WORDS:
            phrases.append(tuple(current))
            current = []
    if current:
        phrases.append(tuple(current))
    return [phrase for phrase in phrases if not all(word.isdigit() for word in phrase)]


def keyphrases(text: str, *, top: int = 8) -> list[str]:
    """The ``top`` key phrases of ``text``, best first, lower-case, at most four words each.

    Args:
        text: a message.
        top: how many phrases to return at most.

    Returns:
        Distinct phrases ordered by RAKE score (ties keep their order of appearance); never a
        stopword alone or a bare number.
    """
    phrases = _candidates(_tokens(text))
    frequency: dict[str, int] = {}
    degree: dict[str, int] = {}
    for phrase in phrases:
        for word in phrase:
            frequency[word] = frequency.get(word, 0) + 1
            degree[word] = degree.get(word, 0) + len(phrase)
    scored: dict[str, float] = {}
    for phrase in phrases:
        key = " ".join(phrase)
        if key not in scored:
            scored[key] = sum(degree[word] / frequency[word] for word in phrase)
    return sorted(scored, key=lambda key: -scored[key])[: max(0, top)]


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
        run: list[str] = []
        start = match.start()
        for word in match.group(0).split(" "):
            if word in _PRONOUNS:  # "Mel and I" is not part of a name
                if run:
                    name = _clean_run(text, start, run)
                    if name:
                        seen.setdefault(name, None)
                run = []
                continue
            if not run:
                start = match.start() + match.group(0).find(word)
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
    words = [token for token in _tokens(text) if token[0].isalnum()]
    content = [word for word in words if word not in _PHRASE_STOPWORDS and not word.isdigit()]
    if not content:
        return 0.05 if words else 0.0
    unique = set(words)
    score = 0.5 * (1.0 - math.exp(-len(content) / 5.0))
    if not _FIRST_PERSON.isdisjoint(unique):
        score += 0.15
    if not _DATE_WORDS.isdisjoint(unique) or any(word.isdigit() for word in unique):
        score += 0.1
    if not _FACT_WORDS.isdisjoint(unique):
        score += 0.15
    if _entities(text):
        score += 0.1
    if text.rstrip().endswith("?"):
        score -= 0.1
    return round(min(1.0, max(0.0, score)), 3)
