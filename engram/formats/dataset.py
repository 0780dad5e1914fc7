"""Neutral benchmark records shared by the LoCoMo and LongMemEval loaders.

Both benchmarks become the same shape: conversations made of sessions of chat-format
messages (ready for ``Memory.add``) plus questions that carry every gold label. Gold labels
live only in :class:`Question`, never in a message or its metadata, so nothing a memory
system ingests can leak the answer.

The records are frozen data with no behaviour. :func:`read_json` is the one I/O helper of
the package: it reads a file once, so the checksum and the parsed data come from the same
bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engram.errors import ValidationError
from engram.model.limits import MAX_CONTENT_BYTES

#: Marks a message a loader cut to the store's per-message limit: its original size in bytes.
CUT_KEY = "cut_from_bytes"

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Session:
    """One dated session of a conversation.

    Attributes:
        id: the session's id: ``"session_3"`` (LoCoMo) or the haystack session id
            (LongMemEval; a repeat of the same id in one haystack gets a ``#<n>`` suffix).
        timestamp: aware UTC time of the session, or None when the data gives none.
        messages: chat-format messages for ``Memory.add``: ``role``, ``content``, optional
            ``name`` and ``timestamp``, ``metadata`` (the original identifiers) and ``id``
            (unique and stable within the conversation).
    """

    id: str
    timestamp: datetime | None
    messages: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Conversation:
    """The history a memory system ingests before it is asked questions.

    Attributes:
        id: LoCoMo ``sample_id`` (``"conv-26"``); LongMemEval ``question_id`` (each question
            has a haystack of its own).
        sessions: the sessions in the order of the file.
    """

    id: str
    sessions: list[Session]


@dataclass(frozen=True, slots=True)
class Question:
    """One question with its gold labels.

    Attributes:
        id: unique within the dataset.
        conversation_id: the :class:`Conversation` the question is about.
        question: the question text.
        answer: ``str()`` of the gold answer.
        category: LoCoMo category id as a string (``"1"`` … ``"5"``); LongMemEval
            ``question_type``.
        question_date: aware UTC time the question is asked, when the data gives one.
        evidence_ids: gold message ids (the ``id`` of messages), in first-mention order.
        evidence_sessions: ids of the sessions holding the gold messages.
        abstention: True when the right response is that the answer cannot be known.
    """

    id: str
    conversation_id: str
    question: str
    answer: str
    category: str
    question_date: datetime | None
    evidence_ids: tuple[str, ...]
    evidence_sessions: tuple[str, ...]
    abstention: bool


@dataclass(frozen=True, slots=True)
class Dataset:
    """A loaded benchmark file.

    Attributes:
        name: ``"locomo"``, ``"longmemeval"`` or ``"beam"``.
        conversations: every conversation, in file order.
        questions: every question, in file order.
        sha256: hex SHA-256 of the file's bytes as read from disk (before decompression), so
            a report can name exactly which file it measured.
        path: the path the file was read from.
    """

    name: str
    conversations: list[Conversation]
    questions: list[Question]
    sha256: str
    path: str


def read_json(path: str | Path) -> tuple[Any, str]:
    """Read a JSON file, gzip-compressed or not, and checksum its bytes.

    Compression is detected from the gzip magic bytes, not the file name.

    Args:
        path: the file to read.

    Returns:
        The parsed JSON value and the hex SHA-256 of the bytes on disk.

    Raises:
        ValidationError: the file cannot be read, decompressed or parsed.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValidationError(f"{path} is not a valid gzip file: {exc}") from exc
    try:
        return json.loads(data), digest
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"{path} is not valid JSON: {exc}") from exc


def cut_to_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8, at a character boundary."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def within_limit(text: str, metadata: dict[str, Any]) -> str:
    """``text`` as a store accepts it: whole when it fits (1 MiB), else cut to the limit at a
    character boundary with its original size in ``metadata[CUT_KEY]``, so that a benchmark's
    own data never stops a run and the run can report how many messages were cut."""
    size = len(text.encode("utf-8"))
    if size <= MAX_CONTENT_BYTES:
        return text
    metadata[CUT_KEY] = size
    return cut_to_bytes(text, MAX_CONTENT_BYTES)
