"""Load LoCoMo (snap-research/LoCoMo ``locomo10.json``) into neutral benchmark records.

LoCoMo holds very long conversations between two people, in dated sessions, with questions
whose ``evidence`` names gold turns as ``D<session>:<turn>``. The file has traps this module
absorbs so that callers never see them:

* date keys for sessions that do not exist (conv-26 has ``session_20_date_time`` …
  ``session_35_date_time`` but no such sessions): only ``session_<N>`` keys holding a list
  are sessions, taken in numeric order;
* malformed evidence (``"D8:6; D9:17"`` in one entry, ``"D:11:26"``, ``"D30:05"``, a bare
  ``"D"``, ids of turns that do not exist): entries are split on ``[;\\s]+``, near-misses are
  repaired only when the repair names a real turn, and the rest are dropped;
* category 5 (adversarial) questions mostly have no ``answer``, only ``adversarial_answer``;
* ``blip_caption`` describes a photo a speaker shared, which is part of what was said;
* a few ``img_url`` values are whole base64 ``data:`` images, too big for metadata.

Both speakers are people, so every message has role ``"user"`` and the speaker's ``name``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engram.errors import ValidationError
from engram.formats.dataset import Conversation, Dataset, Question, Session, read_json
from engram.model.timeutil import UTC

#: Category id of adversarial questions, whose right response is that it is not known.
ADVERSARIAL_CATEGORY = "5"

_SESSION_KEY = re.compile(r"session_(\d+)")
_DATE_FORMAT = "%I:%M %p on %d %B, %Y"
_EVIDENCE_SEPARATOR = re.compile(r"[;\s]+")
_LOOSE_TURN_ID = re.compile(r"D:?(\d+):(\d+)")


def load_locomo(path: str | Path) -> Dataset:
    """Read a LoCoMo JSON file (plain or gzip-compressed).

    Args:
        path: e.g. ``../shared/data/locomo10.json``.

    Returns:
        The dataset named ``"locomo"`` with the checksum of the file's bytes.

    Raises:
        ValidationError: the file cannot be read or does not have LoCoMo's shape.
    """
    raw, digest = read_json(path)
    return parse_locomo(raw, sha256=digest, path=str(path))


def parse_locomo(raw: object, *, sha256: str = "", path: str = "") -> Dataset:
    """Turn LoCoMo's parsed JSON into a :class:`Dataset`. Pure: no I/O.

    Question ids are ``"<sample_id>:q<index in qa>"``, stable for a given file.

    Args:
        raw: the parsed file: a list of samples with ``sample_id``, ``conversation`` and
            ``qa``.
        sha256: checksum to record in the dataset.
        path: file path to record in the dataset.

    Raises:
        ValidationError: naming the first sample or field that does not fit.
    """
    if not isinstance(raw, list):
        raise ValidationError("a LoCoMo file is a JSON list of samples")
    conversations: list[Conversation] = []
    questions: list[Question] = []
    for index, sample in enumerate(raw):
        where = f"samples[{index}]"
        if not isinstance(sample, Mapping):
            raise ValidationError(f"{where} must be an object")
        conversation = _conversation(sample, where)
        conversations.append(conversation)
        turn_sessions = {
            message["id"]: session.id for session in conversation.sessions for message in session.messages
        }
        qa = sample.get("qa", [])
        if not isinstance(qa, list):
            raise ValidationError(f"{where}.qa must be a list")
        for number, item in enumerate(qa):
            questions.append(_question(item, f"{where}.qa[{number}]", conversation.id, number, turn_sessions))
    return Dataset("locomo", conversations, questions, sha256, path)


def parse_session_date(text: str) -> datetime:
    """Parse a LoCoMo session date such as ``"1:56 pm on 8 May, 2023"`` as UTC.

    Raises:
        ValidationError: the text is not in that format.
    """
    try:
        return datetime.strptime(text.strip(), _DATE_FORMAT).replace(tzinfo=UTC)
    except (AttributeError, ValueError) as exc:
        raise ValidationError(f"session date {text!r} is not like '1:56 pm on 8 May, 2023'") from exc


def session_numbers(conversation: Mapping[str, Any]) -> list[int]:
    """Numbers N of the ``session_<N>`` keys that hold a list of turns, ascending.

    Date keys of sessions that do not exist are ignored.
    """
    numbers = []
    for key, value in conversation.items():
        match = _SESSION_KEY.fullmatch(str(key))
        if match and isinstance(value, list):
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def turn_content(turn: Mapping[str, Any]) -> str:
    """What a turn said: its text, plus the caption of a photo it shared.

    The caption is appended as ``" [shares a photo: <caption>]"`` because questions ask
    about what the photos show.
    """
    text = str(turn.get("text") or "").strip()
    caption = str(turn.get("blip_caption") or "").strip()
    if caption:
        return f"{text} [shares a photo: {caption}]".strip()
    return text


def image_urls(value: object) -> list[str]:
    """A turn's ``img_url`` as a list, with inline ``data:`` images cut to their header.

    A few turns embed the image itself as a base64 ``data:`` URL (16 KB in conv-42 D5:6),
    which would overflow the metadata limit of ``Memory.add``; the header
    (``"data:image/jpeg;base64,…"``) still says an image was there.
    """
    urls = value if isinstance(value, list) else [value]
    return [url.split(",", 1)[0] + ",…" if url.startswith("data:") else url for url in map(str, urls)]


def normalise_evidence(entries: object, turn_ids: Collection[str]) -> tuple[str, ...]:
    """Clean LoCoMo evidence into ids of real turns, in first-mention order, without repeats.

    Each entry is split on ``[;\\s]+``. A token that is not a turn id is repaired when it
    looks like one with a stray colon or leading zeros (``"D:11:26"`` → ``"D11:26"``,
    ``"D30:05"`` → ``"D30:5"``) and the repair names a real turn; anything else is dropped.

    Args:
        entries: the ``evidence`` list of a question.
        turn_ids: every ``dia_id`` of the conversation.
    """
    if not isinstance(entries, list):
        return ()
    found: dict[str, None] = {}
    for entry in entries:
        for token in _EVIDENCE_SEPARATOR.split(str(entry)):
            if token in turn_ids:
                found[token] = None
                continue
            match = _LOOSE_TURN_ID.fullmatch(token)
            if match:
                repaired = f"D{int(match.group(1))}:{int(match.group(2))}"
                if repaired in turn_ids:
                    found[repaired] = None
    return tuple(found)


def _conversation(sample: Mapping[str, Any], where: str) -> Conversation:
    sample_id = sample.get("sample_id")
    if not isinstance(sample_id, str) or not sample_id:
        raise ValidationError(f"{where}.sample_id must be a non-empty string")
    body = sample.get("conversation")
    if not isinstance(body, Mapping):
        raise ValidationError(f"{where}.conversation must be an object")
    sessions: list[Session] = []
    seen: set[str] = set()
    for number in session_numbers(body):
        key = f"session_{number}"
        date_text = body.get(f"{key}_date_time")
        timestamp = parse_session_date(date_text) if date_text else None
        session = _session(key, body[key], timestamp, f"{where}.conversation.{key}")
        for message in session.messages:
            if message["id"] in seen:
                raise ValidationError(f"{where}: turn id {message['id']!r} appears twice")
            seen.add(message["id"])
        sessions.append(session)
    return Conversation(sample_id, sessions)


def _session(key: str, turns: list[Any], timestamp: datetime | None, where: str) -> Session:
    messages: list[dict[str, Any]] = []
    for index, turn in enumerate(turns):
        if not isinstance(turn, Mapping):
            raise ValidationError(f"{where}[{index}] must be an object")
        dia_id, speaker = turn.get("dia_id"), turn.get("speaker")
        if not isinstance(dia_id, str) or not dia_id:
            raise ValidationError(f"{where}[{index}].dia_id must be a non-empty string")
        if not isinstance(speaker, str) or not speaker.strip():
            raise ValidationError(f"{where}[{index}].speaker must be a non-empty string")
        content = turn_content(turn)
        if not content:
            continue  # nothing was said; Memory.add would reject an empty message
        metadata: dict[str, Any] = {"dia_id": dia_id}
        if turn.get("img_url"):
            metadata["img_url"] = image_urls(turn["img_url"])
        if turn.get("blip_caption"):
            metadata["blip_caption"] = turn["blip_caption"]
        message: dict[str, Any] = {
            "role": "user",
            "name": speaker.strip(),
            "content": content,
            "metadata": metadata,
            "id": dia_id,
        }
        if timestamp is not None:
            # One second per turn keeps the order within a session visible in time.
            message["timestamp"] = timestamp + timedelta(seconds=index)
        messages.append(message)
    return Session(key, timestamp, messages)


def _question(
    item: object,
    where: str,
    conversation_id: str,
    number: int,
    turn_sessions: Mapping[str, str],
) -> Question:
    if not isinstance(item, Mapping):
        raise ValidationError(f"{where} must be an object")
    text, category = item.get("question"), item.get("category")
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"{where}.question must be a non-empty string")
    if category is None or isinstance(category, bool):
        raise ValidationError(f"{where}.category is missing")
    category = str(category)
    answer = item.get("answer")
    if answer is None:
        answer = item.get("adversarial_answer")
    evidence = normalise_evidence(item.get("evidence"), turn_sessions)
    sessions = dict.fromkeys(turn_sessions[turn_id] for turn_id in evidence)
    return Question(
        id=f"{conversation_id}:q{number}",
        conversation_id=conversation_id,
        question=text,
        answer="" if answer is None else str(answer),
        category=category,
        question_date=None,
        evidence_ids=evidence,
        evidence_sessions=tuple(sessions),
        abstention=category == ADVERSARIAL_CATEGORY,
    )
