"""Query-focused excerpts of long turns, so one long answer does not take a whole context.

An assistant's reply in a chat history is often hundreds of tokens (a list of suggestions, a
recipe), while what a later question needs from it is a sentence or two. A context shows such
a turn as an excerpt: the sentences that share the most words with the question, in their
original order, joined by ``…`` where text was left out, inside a token cap. This is the
sentence-level compression LightMem and extractive summarisers apply before storage, applied
here at read time so nothing stored is lost.

Pure: token counting is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

#: Where a turn is cut into pieces: after a sentence's end, and at every line break.
_PIECES = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_MARKER = re.compile(r"(?:\d{1,3}|[a-zA-Z])[.)]|[-*•]")
GAP = " … "


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
    if count(text) <= max_tokens:
        return text
    pieces = split_sentences(text)
    wanted = {stem(term) for term in terms}
    scores = [len(wanted & {stem(w) for w in _WORD.findall(piece)}) for piece in pieces]
    order = [i for i in sorted(range(len(pieces)), key=lambda i: (-scores[i], i)) if scores[i]]
    if not order:
        order = list(range(len(pieces)))  # nothing matches: the opening says what the turn is about
    chosen: set[int] = set()
    room = max_tokens
    for index in order:
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


def split_sentences(text: str) -> list[str]:
    """Sentences and lines of ``text``; a list marker ("3.") stays with its item."""
    pieces: list[str] = []
    for piece in _PIECES.split(text.strip()):
        if pieces and _MARKER.fullmatch(pieces[-1]):
            pieces[-1] = f"{pieces[-1]} {piece}"
        elif piece:
            pieces.append(piece)
    return pieces


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
    low, high = 0, len(words)
    while low < high:  # binary search on the number of words
        middle = (low + high + 1) // 2
        if count(" ".join(words[:middle])) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return " ".join(words[:low])
