"""Benchmark inputs: the dataset, the shared embedder, and what a run needs per conversation.

LoCoMo and BEAM have no question dates, so their questions are asked just after the
conversation's last turn (:func:`reference_time`); LongMemEval questions at their own
``question_date``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from engram.errors import ValidationError
from engram.formats.beam import CUT_KEY
from engram.formats.dataset import Conversation, Dataset, Question
from engram.providers.embedder import CachedEmbedder, Embedder
from engram.providers.tokens import TokenCounter
from engram.read.assemble import format_time

#: Questions without a date are asked this long after the conversation's last turn.
LOCOMO_QUESTION_DELAY = timedelta(minutes=1)


def load_dataset(benchmark: str, path: Path) -> Dataset:
    """Load a benchmark file (a folder for BEAM) with the matching loader."""
    if benchmark == "locomo":
        from engram.formats.locomo import load_locomo

        return load_locomo(path)
    if benchmark == "beam":
        from engram.formats.beam import load_beam

        return load_beam(path)
    from engram.formats.longmemeval import load_longmemeval

    return load_longmemeval(path)


def cut_messages(dataset: Dataset, conversation_ids: Collection[str]) -> int:
    """How many messages of these conversations a loader cut to the store's per-message limit.

    A loader marks such a message with ``metadata["cut_from_bytes"]`` (BEAM's does).
    """
    return sum(
        1
        for conversation in dataset.conversations
        if conversation.id in conversation_ids
        for session in conversation.sessions
        for message in session.messages
        if CUT_KEY in (message.get("metadata") or {})
    )


def make_embedder(name: str, cache: Path | None = None) -> Embedder:
    """The run's shared embedder: ``onnx`` (default model) or ``hashing`` (tests), cached."""
    base: Embedder
    if name == "onnx":
        from engram.providers.onnx import OnnxEmbedder

        base = OnnxEmbedder()
    elif name == "hashing":
        from engram.providers.hashing import HashingEmbedder

        base = HashingEmbedder()
    else:
        raise ValidationError(f"unknown --embedder {name!r}; choose onnx or hashing")
    if cache is not None:
        from engram.bench.embcache import DiskCachedEmbedder

        base = DiskCachedEmbedder(base, cache)
    return CachedEmbedder(base, max_items=2_000_000)


@dataclass
class ConversationInfo:
    """What the runner needs to know about one conversation."""

    conversation: Conversation
    questions: list[Question]
    turn_session: dict[str, str]
    turn_time: dict[str, datetime]
    last_time: datetime | None
    haystack_tokens: int


def prepare(conversation: Conversation, questions: list[Question], counter: TokenCounter) -> ConversationInfo:
    turn_session: dict[str, str] = {}
    turn_time: dict[str, datetime] = {}
    lines: list[str] = []
    for session in conversation.sessions:
        for message in session.messages:
            turn_session[message["id"]] = session.id
            moment = message.get("timestamp") or session.timestamp
            if moment is not None:
                turn_time[message["id"]] = moment
            when = format_time(moment) if moment is not None else ""
            lines.append(
                f"{when} [{session.id}] {message.get('name') or message['role']}: {message['content']}"
            )
    tokens = sum(counter.count_many(lines)) if lines else 0
    last = max(turn_time.values(), default=None)
    return ConversationInfo(conversation, questions, turn_session, turn_time, last, tokens)


def reference_time(question: Question, last_turn: datetime | None) -> datetime | None:
    """When a question is asked: its own date, else just after the conversation's last turn."""
    if question.question_date is not None:
        return question.question_date
    return last_turn + LOCOMO_QUESTION_DELAY if last_turn is not None else None
