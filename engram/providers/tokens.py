"""Token counting, offline: with the embedding model's WordPiece tokenizer.

Counts from a WordPiece tokenizer are close to, not equal to, those of a given LLM's
tokenizer; budgets are therefore approximate, within a few percent for English chat text.
"""

from __future__ import annotations

import re
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
    """Counts with the packaged all-MiniLM-L6-v2 tokenizer (no special tokens)."""

    name = "wordpiece-minilm"

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

    def count(self, text: str) -> int:
        return sum(1 + len(piece) // 8 for piece in _PIECE.findall(text))

    def count_many(self, texts: Sequence[str]) -> list[int]:
        return [self.count(text) for text in texts]


def default_counter() -> TokenCounter:
    """The WordPiece counter when its tokenizer is installed, else the approximate one."""
    try:
        return WordPieceCounter()
    except Exception:  # an optional file may be missing: fall back, never fail
        return ApproximateCounter()
