"""Load BEAM (mohammadtavakoli78/BEAM ``chats/<split>``) into neutral benchmark records.

A BEAM split is a folder of conversations, one sub-folder each (``500K/1`` … ``500K/35``),
holding ``chat.json`` (the chat) and ``probing_questions/probing_questions.json`` (questions
per memory ability). The chat is a list of batches, one batch per session, each with
``turns``: groups of messages ``{role, id, content, time_anchor?, ...}``. ``id`` counts the
messages of the whole chat; the first user message of a batch carries a ``time_anchor`` like
``"March-15-2024"``, the only date the data has.

Traps this module absorbs:

* every message ends with the generator's marker ``" ->-> <batch>,<bullet>"``; in a few the
  marker is followed by the generator's comments (``"->-> 7,(N/A, but related to ..."``):
  everything from the first marker on is cut, as it is not part of what was said;
* message ids are sometimes strings, sometimes integers: they become strings;
* gold evidence sits in ``source_chat_ids``, a flat list, nested lists or a dict such as
  ``{"first_statement": [...], "second_statement": [...]}``; when a question has none, the
  ``"chat_id: 58"`` / ``"chat_id 12-15"`` references in ``conversation_references`` are used;
  ids that name no message are dropped (a few annotations cite wrong ids: not repaired);
* the answer is in ``answer``, ``ideal_answer``, ``ideal_summary``, ``ideal_response`` or, for
  instruction and preference following, ``expected_compliance``;
* a message longer than the store accepts (:data:`engram.model.limits.MAX_CONTENT_BYTES`,
  1 MiB; none in the 500K split, whose longest is 246,463 bytes) would be kept, cut to the limit
  at a character boundary, and marked with ``metadata["cut_from_bytes"]`` (its original size),
  so that a benchmark's own data never stops a run and the report says how many were cut.

The questions carry no date; the harness asks them just after the chat's last message.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engram.errors import ValidationError
from engram.formats.dataset import CUT_KEY as CUT_KEY
from engram.formats.dataset import Conversation, Dataset, Question, Session, read_json, within_limit
from engram.formats.dataset import cut_to_bytes as cut_to_bytes
from engram.model.timeutil import UTC

#: The ability whose questions cannot be answered from the chat (no turn evidence).
ABSTENTION = "abstention"
#: Where a conversation's questions are, inside its folder.
QUESTIONS_FILE = Path("probing_questions") / "probing_questions.json"
CHAT_FILE = "chat.json"
#: Metadata key of a message cut to the store's limit: its size in bytes before the cut.
#: Fields holding the reference answer, by preference.
ANSWER_FIELDS = ("answer", "ideal_answer", "ideal_summary", "ideal_response", "expected_compliance")

_MARKER = re.compile(r"\s*->->\s*\d+\s*,.*", re.DOTALL)
_ANCHOR_FORMAT = "%B-%d-%Y"
_CHAT_ID_REFERENCE = re.compile(r"chat_ids?\s*:?\s*(\d+(?:\s*(?:[-–,]|and)\s*\d+)*)", re.IGNORECASE)
_NUMBER_OR_RANGE = re.compile(r"(\d+)(?:\s*[-–]\s*(\d+))?")
#: Longest id range a ``chat_id 12-15`` reference may span (a larger one is a typo, dropped).
_MAX_RANGE = 200


def load_beam(path: str | Path) -> Dataset:
    """Read a BEAM split folder (``beam/500K``) or one conversation folder (``beam/500K/3``).

    Conversations are taken in numeric order of their folder names; a conversation's id is its
    folder name.

    Args:
        path: the split folder, whose sub-folders each hold ``chat.json`` and
            ``probing_questions/probing_questions.json``, or one such sub-folder.

    Returns:
        The dataset named ``"beam"``; its checksum is the SHA-256 of the sorted list of every
        file read with its own SHA-256, so a report names exactly which files it measured.

    Raises:
        ValidationError: the folder holds no conversation, or a file cannot be read or does
            not have BEAM's shape.
    """
    root = Path(path)
    if not root.is_dir():
        raise ValidationError(f"{root} is not a folder: BEAM is a folder of conversations (e.g. beam/500K)")
    folders = [root] if (root / CHAT_FILE).is_file() else _conversation_folders(root)
    if not folders:
        raise ValidationError(f"{root} holds no BEAM conversation (sub-folders with {CHAT_FILE})")
    conversations: list[Conversation] = []
    questions: list[Question] = []
    digests: list[str] = []
    for folder in folders:
        chat, chat_digest = read_json(folder / CHAT_FILE)
        probes, probe_digest = read_json(folder / QUESTIONS_FILE)
        digests += [
            f"{folder.name}/{CHAT_FILE} {chat_digest}",
            f"{folder.name}/{QUESTIONS_FILE} {probe_digest}",
        ]
        conversation, more = parse_beam_conversation(folder.name, chat, probes)
        conversations.append(conversation)
        questions += more
    digest = hashlib.sha256("\n".join(digests).encode()).hexdigest()
    return Dataset("beam", conversations, questions, digest, str(root))


def parse_beam_conversation(
    conversation_id: str, chat: object, probes: object
) -> tuple[Conversation, list[Question]]:
    """Turn one conversation's parsed ``chat.json`` and probing questions into records. Pure.

    Question ids are ``"<conversation>:<ability>:<index>"``, stable for a given file.

    Args:
        conversation_id: the conversation's id (its folder name).
        chat: the parsed ``chat.json``: a list of batches.
        probes: the parsed ``probing_questions.json``: ability name → list of questions.

    Raises:
        ValidationError: naming the first batch, message or question that does not fit.
    """
    conversation = _conversation(conversation_id, chat)
    turn_sessions = {m["id"]: s.id for s in conversation.sessions for m in s.messages}
    if not isinstance(probes, Mapping):
        raise ValidationError(f"{conversation_id}: probing questions must be an object of abilities")
    questions: list[Question] = []
    for ability, items in probes.items():
        if not isinstance(items, list):
            raise ValidationError(f"{conversation_id}: questions of {ability!r} must be a list")
        for index, item in enumerate(items):
            where = f"{conversation_id}: {ability}[{index}]"
            questions.append(_question(item, where, conversation_id, str(ability), index, turn_sessions))
    return conversation, questions


def clean_content(text: str) -> str:
    """A message's text without the generator's marker and what follows it."""
    return _MARKER.sub("", text, count=1).strip()


def evidence_ids(item: Mapping[str, Any]) -> list[str]:
    """A question's gold message ids as written, in first-mention order, without repeats.

    ``source_chat_ids`` (any nesting of lists and dicts) when it names any id, else the
    ``chat_id`` references of ``conversation_references``.
    """
    found = dict.fromkeys(str(value) for value in _flatten(item.get("source_chat_ids")))
    if not found:
        references = item.get("conversation_references", item.get("conversation_reference"))
        found = dict.fromkeys(chat_id_references(list(map(str, _flatten(references)))))
    return list(found)


def chat_id_references(texts: list[str]) -> list[str]:
    """Message ids named as ``"chat_id: 58"``, ``"chat_id 12-15"`` or ``"chat_ids 3, 5 and 8"``."""
    ids: list[str] = []
    for text in texts:
        for match in _CHAT_ID_REFERENCE.finditer(text):
            for first, last in _NUMBER_OR_RANGE.findall(match.group(1)):
                start, end = int(first), int(last or first)
                if start <= end <= start + _MAX_RANGE:
                    ids += [str(n) for n in range(start, end + 1)]
    return ids


def parse_anchor(text: object) -> datetime | None:
    """``"March-15-2024"`` as midnight UTC; None when absent or not in that format."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text.strip(), _ANCHOR_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _conversation_folders(root: Path) -> list[Path]:
    folders = [p for p in root.iterdir() if p.is_dir() and (p / CHAT_FILE).is_file()]
    return sorted(
        folders, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name)
    )


def _flatten(value: object) -> Iterator[object]:
    if isinstance(value, Mapping):
        for inner in value.values():
            yield from _flatten(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _flatten(inner)
    elif value is not None and not isinstance(value, bool):
        yield value


def _conversation(conversation_id: str, chat: object) -> Conversation:
    if not isinstance(chat, list):
        raise ValidationError(f"{conversation_id}: {CHAT_FILE} must be a list of batches")
    sessions: list[Session] = []
    seen: set[str] = set()
    when: datetime | None = None
    for number, batch in enumerate(chat, 1):
        where = f"{conversation_id}: batch {number}"
        if not isinstance(batch, Mapping) or not isinstance(batch.get("turns"), list):
            raise ValidationError(f"{where} must be an object with a list of turns")
        raw = [m for group in batch["turns"] for m in (group if isinstance(group, list) else [group])]
        anchors = [parse_anchor(m.get("time_anchor")) for m in raw if isinstance(m, Mapping)]
        when = parse_anchor(batch.get("time_anchor")) or next((a for a in anchors if a), None) or when
        messages = []
        for index, message in enumerate(raw):
            built = _message(message, f"{where}, message {index}", when, index)
            if built is None:
                continue
            if built["id"] in seen:
                raise ValidationError(f"{where}: message id {built['id']!r} appears twice")
            seen.add(built["id"])
            messages.append(built)
        sessions.append(Session(f"batch_{batch.get('batch_number', number)}", when, messages))
    return Conversation(conversation_id, sessions)


def _message(message: object, where: str, when: datetime | None, index: int) -> dict[str, Any] | None:
    if not isinstance(message, Mapping):
        raise ValidationError(f"{where} must be an object")
    role, message_id, content = message.get("role"), message.get("id"), message.get("content")
    if role not in ("user", "assistant"):
        raise ValidationError(f"{where}: role must be 'user' or 'assistant', not {role!r}")
    if message_id is None or isinstance(message_id, bool) or str(message_id).strip() == "":
        raise ValidationError(f"{where}: id is missing")
    if not isinstance(content, str):
        raise ValidationError(f"{where}: content must be a string")
    text = clean_content(content)
    if not text:
        return None  # nothing was said; Memory.add would reject an empty message
    metadata: dict[str, Any] = {"beam_id": str(message_id)}
    text = within_limit(text, metadata)
    built: dict[str, Any] = {"role": role, "content": text, "metadata": metadata, "id": str(message_id)}
    if when is not None:
        # One second per message keeps the order within a batch visible in time.
        built["timestamp"] = when + timedelta(seconds=index)
    return built


def _question(
    item: object,
    where: str,
    conversation_id: str,
    ability: str,
    index: int,
    turn_sessions: Mapping[str, str],
) -> Question:
    if not isinstance(item, Mapping):
        raise ValidationError(f"{where} must be an object")
    text = item.get("question")
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"{where}.question must be a non-empty string")
    answer = next((item[f] for f in ANSWER_FIELDS if item.get(f) not in (None, "")), "")
    abstention = ability == ABSTENTION
    gold = () if abstention else tuple(i for i in evidence_ids(item) if i in turn_sessions)
    return Question(
        id=f"{conversation_id}:{ability}:{index}",
        conversation_id=conversation_id,
        question=text,
        answer=str(answer),
        category=ability,
        question_date=None,
        evidence_ids=gold,
        evidence_sessions=tuple(dict.fromkeys(turn_sessions[i] for i in gold)),
        abstention=abstention,
    )
