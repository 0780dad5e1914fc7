"""File formats Engram reads and writes.

Benchmark loaders turn LoCoMo and LongMemEval files and BEAM folders into one neutral shape
(:class:`Dataset` of :class:`Conversation` and :class:`Question`) whose messages go straight
into ``Memory.add`` and whose gold labels stay in the questions. Engram's own JSONL export
format lives in :mod:`engram.formats.jsonl`.
"""

from engram.formats.beam import load_beam
from engram.formats.dataset import Conversation, Dataset, Question, Session, read_json
from engram.formats.locomo import load_locomo, parse_locomo
from engram.formats.longmemeval import load_longmemeval, parse_longmemeval

__all__ = [
    "Conversation",
    "Dataset",
    "Question",
    "Session",
    "load_beam",
    "load_locomo",
    "load_longmemeval",
    "parse_locomo",
    "parse_longmemeval",
    "read_json",
]
