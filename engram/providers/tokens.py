"""Token counting, offline: with the embedding model's WordPiece tokenizer.

Counts from a WordPiece tokenizer are close to, not equal to, those of a given LLM's
tokenizer; budgets are therefore approximate, within a few percent for English chat text.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens in texts."""

    name: str

    def count(self, text: str) -> int:
        """Tokens in ``text``."""
        ...

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Tokens in each of ``texts``."""
        ...


class WordPieceCounter:
    """Counts with the packaged all-MiniLM-L6-v2 tokenizer (no special tokens).

    Its pieces never span white space (BERT's pre-tokenizer splits there first), so the count
    of texts joined by a line break is the sum of theirs (``additive``).
    """

    name = "wordpiece-minilm"
    additive = True

    def __init__(self) -> None:
        from engram.providers.onnx import load_tokenizer

        self._tokenizer = load_tokenizer()

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]


_PIECE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class ApproximateCounter:
    """Words and punctuation marks, with long words counted as several tokens; no files needed."""

    name = "approximate"
    additive = True  # its pieces never span white space

    def count(self, text: str) -> int:
        return sum(1 + len(piece) // 8 for piece in _PIECE.findall(text))

    def count_many(self, texts: Sequence[str]) -> list[int]:
        return [self.count(text) for text in texts]


class CachedCounter:
    """A token counter that remembers the counts of the texts it counted last.

    Context assembly counts the same lines again and again: each memory's formatted line, and
    each sentence of a turn it excerpts, for every budget it tries and question after question
    (a tokenizer call is about 0.1 ms: 60-70% of a context's time without the cache). Counts
    are exact, so the cache changes no result. At most ``max_items`` texts are kept, the least
    recently used dropped first; a text longer than ``max_chars`` (a pasted document) is
    counted each time and not kept.
    """

    def __init__(self, inner: TokenCounter, *, max_items: int = 16_384, max_chars: int | None = 4_096) -> None:
        if max_items < 1:
            raise ValueError("a token count cache holds at least one text")
        self.inner = inner
        self.name = inner.name
        self.additive = additive(inner)
        self.max_items = max_items
        self.max_chars = max_chars
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()  # one cache, shared by a server's worker threads

    def count(self, text: str) -> int:
        return self.count_many([text])[0]

    def count_many(self, texts: Sequence[str]) -> list[int]:
        counts: list[int | None] = [None] * len(texts)
        with self._lock:
            for position, text in enumerate(texts):
                found = self._counts.get(text)
                if found is not None:
                    self._counts.move_to_end(text)
                    counts[position] = found
        missing = [position for position, found in enumerate(counts) if found is None]
        if missing:
            new = self.inner.count_many([texts[position] for position in missing])
            with self._lock:
                for position, found in zip(missing, new, strict=True):
                    counts[position] = found
                    text = texts[position]
                    if self.max_chars is None or len(text) <= self.max_chars:
                        self._counts[text] = found
                while len(self._counts) > self.max_items:
                    self._counts.popitem(last=False)
        return [found for found in counts if found is not None]


def additive(counter: TokenCounter) -> bool:
    """Whether ``counter``'s count of texts joined by white space is the sum of their counts
    (an optional ``additive`` attribute says so; a counter without it is not assumed to be)."""
    return bool(getattr(counter, "additive", False))


def default_counter() -> TokenCounter:
    """The WordPiece counter (its counts cached) when its tokenizer is installed, else the approximate one."""
    try:
        return CachedCounter(WordPieceCounter())
    except Exception:  # an optional file may be missing: fall back, never fail
        return ApproximateCounter()
