"""Query-focused excerpts of long turns, so one long answer does not take a whole context.

An assistant's reply in a chat history is often hundreds of tokens (a list of suggestions, a
recipe), while what a later question needs from it is a sentence or two. A context shows such
a turn as an excerpt: the sentences that share the most words with the question, in their
original order, joined by ``…`` where text was left out, inside a token cap. This is the
sentence-level compression LightMem and extractive summarisers apply before storage, applied
here at read time so nothing stored is lost.

A pasted document (up to 1 MiB) costs about what its excerpt does, not what its text does:
whether it fits is decided on a prefix when the prefix alone is too long, a run-on stretch
without sentence ends (code, a table) is cut into pieces of :data:`RUN_ON_WORDS` words, the
question's words are found in one regular-expression pass, and no piece longer than the cap
is counted whole.

Pure: token counting is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

#: Where a line is cut into pieces: after a sentence's end (every line break cuts too).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_MARKER = re.compile(r"(?:\d{1,3}|[a-zA-Z])[.)]|[-*•]")
GAP = " … "
#: A piece longer than this many words (no sentence end in it) is cut into pieces this long.
RUN_ON_WORDS = 48
#: Characters per token is at least this on any text worth counting whole: a text longer than
#: this many times the cap is first counted on a prefix of that length.
PREFIX_CHARS_PER_TOKEN = 8


_SUFFIXES = ("ing", "ed", "es", "s", "ly")


def stem(word: str) -> str:
    """A crude stem for matching question words in a sentence: "parking" ~ "park",
    "accessories" ~ "accessory" (one common suffix off, then the first six letters)."""
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:6]


def excerpt(text: str, terms: Sequence[str], *, max_tokens: int, count: Callable[[str], int]) -> str:
    """``text`` itself if it fits in ``max_tokens``; otherwise its sentences that best match ``terms``.

    Sentences are scored by how many distinct question terms they contain (ties go to the
    earlier one) and those that match are taken best first while they fit; a turn with no
    matching sentence is shown from its start. The result never exceeds ``max_tokens`` (a single sentence longer
    than the cap is cut at a word boundary).
    """
    if _fits(text, max_tokens, count):
        return text
    pieces = split_sentences(text)
    scores = _scores(pieces, {stem(term) for term in terms})
    order = [i for i in sorted(range(len(pieces)), key=lambda i: (-scores[i], i)) if scores[i]]
    if not order:
        order = list(range(len(pieces)))  # nothing matches: the opening says what the turn is about
    chosen: set[int] = set()
    room = max_tokens
    tries = 0  # pieces counted: at most the cap's worth, however long the turn
    for index in order:
        if room <= 1 or tries > max_tokens:
            break
        if chosen and pieces[index].count(" ") + 2 > room:
            continue  # more words than room: every word is a token at least (no need to count)
        tries += 1
        cost = count(pieces[index]) + 1  # the joint or gap marker
        if cost <= room:
            chosen.add(index)
            room -= cost
        elif not chosen:
            return _cut(pieces[index], max_tokens - 1, count) + GAP.rstrip()
    picked = sorted(chosen)
    shown = _join(pieces, picked)
    while count(shown) > max_tokens and len(picked) > 1:  # joints cost a little more than counted
        picked.remove(max(picked, key=lambda i: (-scores[i], i)))
        shown = _join(pieces, picked)
    return shown


def _fits(text: str, max_tokens: int, count: Callable[[str], int]) -> bool:
    """Whether ``text`` is at most ``max_tokens``; a long text is judged by a prefix first."""
    bound = PREFIX_CHARS_PER_TOKEN * (max_tokens + 1)
    if len(text) > bound and count(text[:bound]) > max_tokens:
        return False
    return count(text) <= max_tokens


def _scores(pieces: Sequence[str], wanted: set[str]) -> list[int]:
    """How many distinct ``wanted`` stems each piece's words have (one pass over the pieces:
    a word stems to a wanted stem only if it starts with it)."""
    if not wanted:
        return [0] * len(pieces)
    alternatives = "|".join(re.escape(s) for s in sorted(wanted, key=len, reverse=True))
    candidates = re.compile(rf"(?<![^\W_])(?:{alternatives})[^\W_]*", re.IGNORECASE)
    return [len(wanted & {stem(word) for word in candidates.findall(piece)}) for piece in pieces]


def split_sentences(text: str) -> list[str]:
    """Sentences and lines of ``text``; a list marker ("3.") stays with its item."""
    pieces: list[str] = []
    for piece in (part for line in text.strip().split("\n") for part in _SENTENCE_END.split(line.strip())):
        if pieces and _MARKER.fullmatch(pieces[-1]):
            pieces[-1] = f"{pieces[-1]} {piece}"
        elif piece:
            pieces.append(piece)
    return [part for piece in pieces for part in _run_on(piece)]


def _run_on(piece: str) -> list[str]:
    """A piece of more than :data:`RUN_ON_WORDS` words as pieces of that many words."""
    if piece.count(" ") < RUN_ON_WORDS:
        return [piece]
    words = piece.split()
    if len(words) <= RUN_ON_WORDS:
        return [piece]
    return [" ".join(words[start : start + RUN_ON_WORDS]) for start in range(0, len(words), RUN_ON_WORDS)]


def _join(pieces: Sequence[str], chosen: Sequence[int]) -> str:
    parts: list[str] = [] if chosen and chosen[0] == 0 else [GAP.strip()]
    for position, index in enumerate(chosen):
        if position and index != chosen[position - 1] + 1:
            parts.append(GAP.strip())
        parts.append(pieces[index])
    if chosen and chosen[-1] != len(pieces) - 1:
        parts.append(GAP.strip())
    return " ".join(parts)


def _cut(text: str, max_tokens: int, count: Callable[[str], int]) -> str:
    """The longest prefix of ``text`` that ends at a word and fits in ``max_tokens``."""
    words = text.split()
    low, high = 0, min(len(words), max_tokens)  # every word is at least one token
    while low < high:  # binary search on the number of words
        middle = (low + high + 1) // 2
        if count(" ".join(words[:middle])) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return " ".join(words[:low])
