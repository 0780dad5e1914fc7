"""Engram's JSONL export format: one header line, then one turn per line. Lossless.

Header::

    {"format": "engram-jsonl", "version": 1, "exported_at": "...", "tenant": "default",
     "embedding_model": "all-MiniLM-L6-v2-onnx-int8", "dim": 384}

Turn line::

    {"type": "turn", "id": "t_…", "tenant": "default", "user_id": "alice", "agent_id": null,
     "session_id": "s1", "role": "user", "name": "Alice", "content": "…",
     "timestamp": "2024-05-08T13:56:00.000000+00:00", "recorded_at": "…",
     "metadata": {…}, "content_hash": "…", "embedding": "<base64 float32 little-endian>"}

Timestamps keep microseconds and offsets, so export → import → export is byte-identical apart
from ``exported_at``. ``embedding`` may be null; vectors are reused on import only when the
header's model matches the target store's. ``embedding`` is the turn's own vector: a long
turn's chunk vectors (:class:`~engram.store.base.TurnChunks`) are not exported, they are
derived from the content and embedded again on import (the same windows, so the same vectors
and the same search).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from engram.errors import ValidationError
from engram.model import NewTurn, Scope, Turn
from engram.model.scope import check_id
from engram.model.timeutil import iso, parse_timestamp
from engram.model.turn import check_metadata, check_role, check_text, content_hash

FORMAT = "engram-jsonl"
VERSION = 1


def header(*, tenant: str, embedding_model: str | None, dim: int | None, exported_at: datetime) -> str:
    """The first line of an export."""
    return json.dumps(
        {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": iso(exported_at),
            "tenant": tenant,
            "embedding_model": embedding_model,
            "dim": dim,
        },
        ensure_ascii=False,
    )


def turn_line(turn: Turn, vector: np.ndarray | None) -> str:
    """One turn as a JSON line."""
    record: dict[str, Any] = {
        "type": "turn",
        "id": turn.id,
        "tenant": turn.scope.tenant,
        "user_id": turn.scope.user_id,
        "agent_id": turn.scope.agent_id,
        "session_id": turn.scope.session_id,
        "role": turn.role,
        "name": turn.name,
        "content": turn.content,
        "timestamp": iso(turn.timestamp),
        "recorded_at": iso(turn.recorded_at),
        "metadata": dict(turn.metadata),
        "content_hash": turn.content_hash,
        "embedding": (
            base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
            if vector is not None
            else None
        ),
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def parse_header(line: str) -> dict[str, Any]:
    """Validate the header line.

    Raises:
        ValidationError: it is not an Engram export of a version this code reads.
    """
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"line 1 is not JSON: {exc.msg}") from exc
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise ValidationError(f"not an {FORMAT} file: line 1 must be its header")
    if data.get("version") != VERSION:
        raise ValidationError(
            f"{FORMAT} version {data.get('version')!r} is not supported (this Engram reads {VERSION})"
        )
    return dict(data)


def parse_turn_line(
    line: str, number: int, *, tenant: str, dim: int | None
) -> tuple[NewTurn, np.ndarray | None]:
    """Validate one turn line into a turn (in ``tenant``) and its vector, if it has one.

    Raises:
        ValidationError: naming the line number and field.
    """
    where = f"line {number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{where} is not JSON: {exc.msg}") from exc
    if not isinstance(data, Mapping) or data.get("type") != "turn":
        raise ValidationError(f'{where} is not a turn record (expected "type": "turn")')
    try:
        scope = Scope(tenant, data["user_id"], data.get("agent_id"), data["session_id"])
        content = check_text(data["content"], f"{where}.content")
        turn_id = data["id"]
        if not isinstance(turn_id, str) or not turn_id:
            raise ValidationError(f"{where}.id must be a non-empty string")
        turn = NewTurn(
            id=turn_id,
            scope=scope,
            role=check_role(data["role"], f"{where}.role"),
            content=content,
            timestamp=parse_timestamp(data["timestamp"], f"{where}.timestamp"),
            content_hash=content_hash(content),
            name=check_id(data.get("name"), f"{where}.name", required=False),
            metadata=check_metadata(data.get("metadata"), f"{where}.metadata"),
            recorded_at=parse_timestamp(data["recorded_at"], f"{where}.recorded_at")
            if data.get("recorded_at")
            else None,
        )
    except KeyError as exc:
        raise ValidationError(f"{where} lacks the field {exc.args[0]!r}") from exc
    except ValidationError as exc:
        message = str(exc)
        raise ValidationError(message if message.startswith(where) else f"{where}: {message}") from exc
    vector = None
    if data.get("embedding") and dim:
        try:
            raw = base64.b64decode(data["embedding"], validate=True)
            vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"{where}.embedding is not base64 float32") from exc
        if vector.shape != (dim,):
            raise ValidationError(f"{where}.embedding has {vector.size} values, expected {dim}")
    return turn, vector


def check_lines(lines: Sequence[str], *, tenant: str) -> int:
    """Validate a whole export (header and every turn line) without a store; the turn count.

    Used before a store is opened, so that a refused file does not even create one.

    Raises:
        ValidationError: the file is empty, or a line is not valid (naming it).
    """
    if not lines:
        raise ValidationError("the file is empty")
    parse_header(lines[0])
    count = 0
    for number, line in enumerate(lines[1:], start=2):
        if line.strip():
            parse_turn_line(line, number, tenant=tenant, dim=None)
            count += 1
    return count
