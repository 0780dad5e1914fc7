"""Query analysis for the full-text retriever: which words a query is about."""

from __future__ import annotations

import re

from engram.text.stopwords import STOPWORDS

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


#: Most distinct terms sent to the full-text index.
MAX_TERMS = 32


def query_terms(query: str) -> list[str]:
    """The distinct content words of ``query``, lower-cased, in order of appearance."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(query.lower()):
        word = match.group(0).replace("'s", "") if match.group(0).endswith("'s") else match.group(0)
        if word and word not in STOPWORDS and word not in seen:
            seen[word] = None
            if len(seen) == MAX_TERMS:
                break
    return list(seen)
