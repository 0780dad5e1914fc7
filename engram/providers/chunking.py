"""Windows of a long text, so that every part of it gets a vector of its own.

An embedder sees only the start of a text (the default model, its first 128 word pieces), so
a fact at the end of a pasted document would be found by full text alone. The write path
therefore embeds a document-length turn (over :data:`CHUNK_MIN_PIECES`) as overlapping windows
too: the turn keeps its own vector (the text's start, what the embedder sees), and each window
after the first gets a chunk vector; a turn's vector score is the best of them
(:mod:`engram.store.vectors`).

Windows are cut by approximate word pieces (words and punctuation marks, long words counted as
several, like :class:`~engram.providers.tokens.ApproximateCounter`): the same for every embedder
and cheap on a 1 MiB text (one regular-expression pass), so an export re-embedded on import gets
the very same windows. Pure: no I/O.
"""

from __future__ import annotations

import re

from engram.providers.tokens import ApproximateCounter

#: Approximate word pieces per window: English text stays inside the default model's 128
#: (its [CLS] and [SEP] included); denser text (code) loses at most a window's last few pieces,
#: which the next window repeats.
WINDOW_PIECES = 112
#: Pieces a window shares with the one before it, so a sentence cut at a window's end is whole
#: in the next.
OVERLAP_PIECES = 16

#: Only a text longer than this many pieces (about 8 KB of prose: some twenty windows) gets
#: chunk vectors. Measured on the development sets (benchmarks/RESULTS.md): chunking every
#: reply longer than one window, or longer than 1,024 pieces, let long assistant replies, with
#: many windows each, outrank the short user turns that answer a question (a turn's best window
#: of many is a likelier match by chance) and cost up to six times the embedding. Chat replies
#: stay under this (BEAM 500K: 61 of 37,962 messages are over it; LongMemEval dev: 17 of
#: 25,188); a pasted document or source file is over it.
CHUNK_MIN_PIECES = 2048

_PIECE = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_APPROXIMATE = ApproximateCounter()


def text_windows(text: str, *, pieces: int = WINDOW_PIECES, overlap: int = OVERLAP_PIECES) -> list[str]:
    """The text's overlapping windows of about ``pieces`` word pieces, in order.

    A text of at most ``pieces`` is one window (itself). Windows are cut where a piece starts, so
    none splits a word shorter than 8 characters (a longer one, say a base64 blob, is a piece
    per 8 characters); the first window is the text's start, and no window is empty.

    Raises:
        ValueError: ``overlap`` is not smaller than ``pieces``.
    """
    if not 0 <= overlap < pieces:
        raise ValueError("overlap must be at least 0 and smaller than pieces")
    starts: list[int] = []  # where each piece starts: a long word is a piece per 8 characters
    for match in _PIECE.finditer(text):
        starts.extend(range(match.start(), match.end() + 1, 8))  # 1 + len // 8, as ApproximateCounter
    if len(starts) <= pieces:
        return [text]
    windows: list[str] = []
    stride = pieces - overlap
    first = 0
    while True:
        last = first + pieces
        begin = starts[first] if first else 0
        if last >= len(starts):
            windows.append(text[begin:])
            return windows
        windows.append(text[begin : starts[last]].rstrip())
        first += stride


def chunk_texts(text: str, *, min_pieces: int = CHUNK_MIN_PIECES) -> list[str]:
    """The windows of ``text`` after its first (that one is the turn's own vector); none for a
    text of at most ``min_pieces`` approximate word pieces (a chat message, not a document)."""
    if len(text) <= min_pieces:  # a piece is a character at least and counts at most its length
        return []
    windows = text_windows(text)
    if len(windows) == 1 or _APPROXIMATE.count(text) <= min_pieces:
        return []
    return windows[1:]

