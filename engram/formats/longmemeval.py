"""Load LongMemEval (xiaowu0162/LongMemEval, cleaned release) into neutral benchmark records.

Every LongMemEval item is a question with a haystack of its own: ``haystack_sessions``
(lists of ``{role, content, has_answer?}`` turns) with parallel ``haystack_session_ids`` and
``haystack_dates``. The same haystack session appears under many questions; each question
becomes its own :class:`Conversation`, whose id is the ``question_id``.

Gold labels follow the official retrieval scoring (``src/retrieval/run_retrieval.py``): a
gold turn is a *user* turn with ``has_answer: true`` inside one of the item's
``answer_session_ids``; the gold sessions are the answer sessions holding such a turn.
``has_answer`` on an assistant turn does not count, so most ``single-session-assistant``
questions end up with no gold at all. ``has_answer`` never reaches a message.

Traps handled here beyond the data README: haystack sessions are not in time order within a
day (kept in file order; every message carries its time), some sessions are dated after the
``question_date`` (kept: the official haystack includes them), and one haystack may list the
same session twice (``gpt4_4929293b`` has ``sharegpt_81riySf_0`` at two dates): repeats get
the session id ``<id>#<n>`` so message ids stay unique.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engram.errors import ValidationError
from engram.formats.dataset import Conversation, Dataset, Question, Session, read_json, within_limit
from engram.model.timeutil import UTC

#: Suffix of the ids of abstention questions (the answer cannot be known).
ABSTENTION_SUFFIX = "_abs"

# "2023/05/30 (Tue) 23:40"; the weekday is redundant and locale-dependent, so it is skipped.
_DATE = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})\s*(?:\(\w+\))?\s*(\d{1,2}):(\d{2})")


def load_longmemeval(path: str | Path) -> Dataset:
    """Read a LongMemEval file, ``.json`` or ``.json.gz``, with any number of items.

    Args:
        path: e.g. ``../shared/data/longmemeval_s_dev.json.gz`` or the full 500-question
            ``longmemeval_s.json``.

    Returns:
        The dataset named ``"longmemeval"`` with the checksum of the file's bytes.

    Raises:
        ValidationError: the file cannot be read or does not have LongMemEval's shape.
    """
    raw, digest = read_json(path)
    return parse_longmemeval(raw, sha256=digest, path=str(path))


def parse_longmemeval(raw: object, *, sha256: str = "", path: str = "") -> Dataset:
    """Turn LongMemEval's parsed JSON into a :class:`Dataset`. Pure: no I/O.

    Message ids are ``"<session id>:<turn index>"`` with the 0-based index of the turn in its
    session; each message's time is its session's time plus one second per turn index.

    Args:
        raw: the parsed file: a list of question items.
        sha256: checksum to record in the dataset.
        path: file path to record in the dataset.

    Raises:
        ValidationError: naming the first item or field that does not fit.
    """
    if not isinstance(raw, list):
        raise ValidationError("a LongMemEval file is a JSON list of question items")
    conversations: list[Conversation] = []
    questions: list[Question] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"items[{index}]"
        if not isinstance(item, Mapping):
            raise ValidationError(f"{where} must be an object")
        question_id = _text(item, "question_id", where)
        if question_id in seen:
            raise ValidationError(f"{where}: question_id {question_id!r} appears twice")
        seen.add(question_id)
        conversation, gold_turns = _haystack(item, question_id, where)
        conversations.append(conversation)
        questions.append(_question(item, question_id, gold_turns, where))
    return Dataset("longmemeval", conversations, questions, sha256, path)


def parse_date(text: object) -> datetime:
    """Parse a LongMemEval date such as ``"2023/05/30 (Tue) 23:40"`` as UTC.

    Raises:
        ValidationError: the text is not in that format.
    """
    match = _DATE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValidationError(f"date {text!r} is not like '2023/05/30 (Tue) 23:40'")
    year, month, day, hour, minute = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, tzinfo=UTC)
    except ValueError as exc:
        raise ValidationError(f"date {text!r} is not a real date: {exc}") from exc


def opaque_session_id(original_id: str) -> str:
    """A session id that keeps identity but hides the original name (``s`` + 10 hex digits)."""
    return "s" + hashlib.sha256(original_id.encode("utf-8")).hexdigest()[:10]


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{where}.{key} must be a non-empty string")
    return value


def _list(item: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = item.get(key)
    if not isinstance(value, list):
        raise ValidationError(f"{where}.{key} must be a list")
    return value


def _haystack(item: Mapping[str, Any], question_id: str, where: str) -> tuple[Conversation, dict[str, str]]:
    """Build the question's conversation and find its gold turns.

    Returns:
        The conversation and the gold turns as ``{message id: session id}`` in order.
    """
    ids = _list(item, "haystack_session_ids", where)
    dates = _list(item, "haystack_dates", where)
    bodies = _list(item, "haystack_sessions", where)
    if not len(ids) == len(dates) == len(bodies):
        raise ValidationError(
            f"{where}: haystack_session_ids, haystack_dates and haystack_sessions differ in "
            f"length ({len(ids)}, {len(dates)}, {len(bodies)})"
        )
    answer_sessions = set(_list(item, "answer_session_ids", where))
    occurrences: dict[str, int] = {}
    sessions: list[Session] = []
    gold: dict[str, str] = {}
    for position, (original_id, date, body) in enumerate(zip(ids, dates, bodies, strict=True)):
        here = f"{where}.haystack_sessions[{position}]"
        if not isinstance(original_id, str) or not original_id:
            raise ValidationError(f"{where}.haystack_session_ids[{position}] must be a string")
        if not isinstance(body, list):
            raise ValidationError(f"{here} must be a list of turns")
        occurrences[original_id] = occurrences.get(original_id, 0) + 1
        count = occurrences[original_id]
        # The original ids give the gold away (answer sessions are named "answer_…"), and a
        # session id is shown to readers in contexts: use an opaque, stable id instead.
        session_id = opaque_session_id(original_id) + ("" if count == 1 else f"#{count}")
        timestamp = parse_date(date)
        is_answer_session = original_id in answer_sessions
        messages: list[dict[str, Any]] = []
        for turn_index, turn in enumerate(body):
            if not isinstance(turn, Mapping):
                raise ValidationError(f"{here}[{turn_index}] must be an object")
            role, content = turn.get("role"), turn.get("content")
            if role not in ("user", "assistant"):
                raise ValidationError(f"{here}[{turn_index}].role {role!r} is not user/assistant")
            if not isinstance(content, str):
                raise ValidationError(f"{here}[{turn_index}].content must be a string")
            if not content.strip():
                continue  # nothing was said; Memory.add would reject an empty message
            message_id = f"{session_id}:{turn_index}"
            metadata: dict[str, Any] = {"turn_index": turn_index}
            messages.append(
                {
                    "role": role,
                    "content": within_limit(content, metadata),  # cut only beyond 1 MiB
                    "timestamp": timestamp + timedelta(seconds=turn_index),
                    "metadata": metadata,
                    "id": message_id,
                }
            )
            if is_answer_session and role == "user" and turn.get("has_answer") is True:
                gold[message_id] = session_id
        sessions.append(Session(session_id, timestamp, messages))
    return Conversation(question_id, sessions), gold


def _question(
    item: Mapping[str, Any], question_id: str, gold_turns: Mapping[str, str], where: str
) -> Question:
    answer = item.get("answer")
    if answer is None:
        raise ValidationError(f"{where}.answer is missing")
    question_date = item.get("question_date")
    return Question(
        id=question_id,
        conversation_id=question_id,
        question=_text(item, "question", where),
        answer=str(answer),
        category=_text(item, "question_type", where),
        question_date=parse_date(question_date) if question_date else None,
        evidence_ids=tuple(gold_turns),
        evidence_sessions=tuple(dict.fromkeys(gold_turns.values())),
        abstention=question_id.endswith(ABSTENTION_SUFFIX),
    )
