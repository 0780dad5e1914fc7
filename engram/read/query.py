"""Query analysis for the full-text retriever: which words a query is about."""

from __future__ import annotations

import re
from collections.abc import Iterator

from engram.text.stopwords import STOPWORDS

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


#: Most distinct terms sent to the full-text index.
MAX_TERMS = 32


def search_words(text: str) -> Iterator[str]:
    """``text``'s words as the full-text index is asked for them, in order, repeats kept:
    lower-cased, a possessive "'s" dropped, stopwords left out."""
    for match in _WORD.finditer(text.lower()):
        word = match.group(0)
        word = word[:-2] if word.endswith("'s") else word
        if word and word not in STOPWORDS:
            yield word


def query_terms(query: str) -> list[str]:
    """The distinct content words of ``query``, lower-cased, in order of appearance."""
    seen: dict[str, None] = {}
    for word in search_words(query):
        if word not in seen:
            seen[word] = None
            if len(seen) == MAX_TERMS:
                break
    return list(seen)
