"""Engram's JSONL export format: one header line, then one turn per line, then one fact
version per line. Lossless for turns and facts.

Header::

    {"format": "engram-jsonl", "version": 2, "exported_at": "...", "tenant": "default",
     "embedding_model": "all-MiniLM-L6-v2-onnx-int8", "dim": 384}

Turn line::

    {"type": "turn", "id": "t_…", "tenant": "default", "user_id": "alice", "agent_id": null,
     "session_id": "s1", "role": "user", "name": "Alice", "content": "…",
     "timestamp": "2024-05-08T13:56:00.000000+00:00", "recorded_at": "…",
     "metadata": {…}, "content_hash": "…", "embedding": "<base64 float32 little-endian>"}

Fact line (every version, history and archived ones included; version 2)::

    {"type": "fact", "id": "f_…", "tenant": "default", "user_id": "alice", "agent_id": null,
     "subject": "Alice", "attribute": "lives_in", "value": "Lisbon", "statement": "…",
     "kind": "location", "multi": false, "valid_from": "…", "valid_to": null,
     "recorded_at": "…", "superseded_at": null, "superseded_by": null, "confidence": 0.9,
     "source": "rules", "source_turn_ids": ["t_…"], "mentions": 1, "recalls": 0,
     "last_recalled": null, "importance": 0.6, "pinned": false, "archived_at": null}

An import of a file with fact lines saves those facts and does not derive facts from its
turns again: a fact forgotten before the export stays forgotten, and facts an LLM extracted
or a person entered come along. A version 1 file (turns only) derives them as an ``add``
would. Into another tenant, fact ids are derived again for it (and their slots).

Timestamps keep microseconds and offsets, so export → import → export is byte-identical apart
from ``exported_at``. ``embedding`` may be null; vectors are reused on import only when the
header's model matches the target store's. ``embedding`` is the turn's own vector: a long
turn's chunk vectors (:class:`~engram.store.base.TurnChunks`) are not exported, they are
derived from the content and embedded again on import (the same windows, so the same vectors
and the same search).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np

from engram.errors import ValidationError
from engram.model import NewTurn, Scope, Turn
from engram.model.fact import KINDS, FactVersion, slot_key
from engram.model.scope import check_id
from engram.model.timeutil import iso, iso_or_none, parse_timestamp
from engram.model.turn import check_metadata, check_role, check_text, content_hash

FORMAT = "engram-jsonl"
VERSION = 2
#: The versions this code reads (version 1 has no fact lines).
READABLE = (1, 2)


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
    if data.get("version") not in READABLE:
        raise ValidationError(
            f"{FORMAT} version {data.get('version')!r} is not supported "
            f"(this Engram reads {', '.join(map(str, READABLE))})"
        )
    return dict(data)


def parse_record(
    line: str, number: int, *, tenant: str, source_tenant: str | None = None
) -> tuple[NewTurn, Any] | FactVersion:
    """Validate one line after the header: a turn (in ``tenant``) with its ``embedding`` field as
    written (decoded by :meth:`CheckedExport.vectors`), or a fact version (moved into ``tenant``
    from the file's ``source_tenant``).

    Raises:
        ValidationError: naming the line number and field.
    """
    where = f"line {number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{where} is not JSON: {exc.msg}") from exc
    kind = data.get("type") if isinstance(data, Mapping) else None
    if kind not in ("turn", "fact"):
        raise ValidationError(f'{where} is not a turn or fact record (expected "type": "turn" or "fact")')
    try:
        if kind == "fact":
            return _fact(data, where, tenant=tenant, source_tenant=source_tenant or tenant)
        return _turn(data, where, tenant=tenant), data.get("embedding")
    except KeyError as exc:
        raise ValidationError(f"{where} lacks the field {exc.args[0]!r}") from exc
    except ValidationError as exc:
        message = str(exc)
        raise ValidationError(message if message.startswith(where) else f"{where}: {message}") from exc


def _turn(data: Mapping[str, Any], where: str, *, tenant: str) -> NewTurn:
    names = (data["user_id"], data.get("agent_id"), data["session_id"])
    if all(name is None or type(name) is str for name in names):
        scope = _scope(tenant, *names)
    else:
        scope = Scope(tenant, *names)  # raises the ValidationError naming the field
    content = check_text(data["content"], f"{where}.content")
    turn_id = data["id"]
    if not isinstance(turn_id, str) or not turn_id:
        raise ValidationError(f"{where}.id must be a non-empty string")
    return NewTurn(
        id=turn_id,
        scope=scope,
        role=check_role(data["role"], f"{where}.role"),
        content=content,
        timestamp=parse_timestamp(data["timestamp"], f"{where}.timestamp"),
        content_hash=content_hash(content),
        name=check_id(data.get("name"), f"{where}.name", required=False),
        metadata=check_metadata(data.get("metadata"), f"{where}.metadata", decoded=True),
        recorded_at=parse_timestamp(data["recorded_at"], f"{where}.recorded_at") if data.get("recorded_at") else None,
    )


def _vector(embedding: Any, where: str, dim: int) -> np.ndarray:
    try:
        raw = base64.b64decode(embedding, validate=True)
        vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{where}.embedding is not base64 float32") from exc
    if vector.shape != (dim,):
        raise ValidationError(f"{where}.embedding has {vector.size} values, expected {dim}")
    return vector


@lru_cache(maxsize=256)
def _scope(tenant: str, user_id: str, agent_id: str | None, session_id: str) -> Scope:
    """The (validated) scope of a turn line: a session's lines share one, checked once."""
    return Scope(tenant, user_id, agent_id, session_id)


#: A fact line's fields and the type each must have (besides the times).
_FACT_TEXT = ("id", "user_id", "subject", "attribute", "value", "statement", "source")
_FACT_TIMES = ("valid_from", "recorded_at")
_FACT_OPTIONAL_TIMES = ("valid_to", "superseded_at", "last_recalled", "archived_at")


def fact_line(fact: FactVersion) -> str:
    """One fact version as a JSON line."""
    record: dict[str, Any] = {
        "type": "fact",
        "id": fact.id,
        "tenant": fact.tenant,
        "user_id": fact.user_id,
        "agent_id": fact.agent_id,
        "subject": fact.subject,
        "attribute": fact.attribute,
        "value": fact.value,
        "statement": fact.statement,
        "kind": fact.kind,
        "multi": fact.multi,
        **{name: iso(getattr(fact, name)) for name in _FACT_TIMES},
        **{name: iso_or_none(getattr(fact, name)) for name in ("valid_to", "superseded_at")},
        "superseded_by": fact.superseded_by,
        "confidence": fact.confidence,
        "source": fact.source,
        "source_turn_ids": list(fact.source_turn_ids),
        "mentions": fact.mentions,
        "recalls": fact.recalls,
        "last_recalled": iso_or_none(fact.last_recalled),
        "importance": fact.importance,
        "pinned": fact.pinned,
        "archived_at": iso_or_none(fact.archived_at),
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def moved_fact_id(fact_id: str, *, tenant: str, user_id: str) -> str:
    """A fact version's id in another tenant (ids are unique per store; a copy gets its own)."""
    raw = f"{tenant}\x00{user_id}\x00{fact_id}"
    return "f_" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:20]


def _fact(data: Mapping[str, Any], where: str, *, tenant: str, source_tenant: str) -> FactVersion:
    for name in _FACT_TEXT:
        if not isinstance(data[name], str) or not data[name]:
            raise ValidationError(f"{where}.{name} must be a non-empty string")
    check_id(data["user_id"], f"{where}.user_id")
    user_id: str = data["user_id"]
    if data["kind"] not in KINDS:
        raise ValidationError(f"{where}.kind must be one of {', '.join(KINDS)}")
    for name in ("multi", "pinned"):
        if not isinstance(data.get(name, False), bool):
            raise ValidationError(f"{where}.{name} must be true or false")
    numbers = {name: data.get(name, default) for name, default in (("confidence", 1.0), ("importance", 0.6))}
    counts = {name: data.get(name, default) for name, default in (("mentions", 1), ("recalls", 0))}
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in numbers.values()):
        raise ValidationError(f"{where}: confidence and importance must be numbers")
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in counts.values()):
        raise ValidationError(f"{where}: mentions and recalls must be whole numbers, 0 or more")
    sources = data.get("source_turn_ids", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
        raise ValidationError(f"{where}.source_turn_ids must be a list of turn ids")
    superseded_by = data.get("superseded_by")
    if superseded_by is not None and (not isinstance(superseded_by, str) or not superseded_by):
        raise ValidationError(f"{where}.superseded_by must be a fact id or null")
    times = {name: parse_timestamp(data[name], f"{where}.{name}") for name in _FACT_TIMES}
    optional = {
        name: parse_timestamp(data[name], f"{where}.{name}") if data.get(name) is not None else None
        for name in _FACT_OPTIONAL_TIMES
    }
    fact_id, moved = data["id"], tenant != source_tenant
    if moved:
        fact_id = moved_fact_id(fact_id, tenant=tenant, user_id=user_id)
        superseded_by = moved_fact_id(superseded_by, tenant=tenant, user_id=user_id) if superseded_by else None
    multi = data.get("multi", False)
    return FactVersion(
        id=fact_id,
        slot=slot_key(tenant, user_id, data["subject"], data["attribute"], data["value"] if multi else None),
        tenant=tenant,
        user_id=user_id,
        agent_id=check_id(data.get("agent_id"), f"{where}.agent_id", required=False),
        subject=data["subject"],
        attribute=data["attribute"],
        value=data["value"],
        statement=data["statement"],
        kind=data["kind"],
        multi=multi,
        valid_from=times["valid_from"],
        valid_to=optional["valid_to"],
        recorded_at=times["recorded_at"],
        superseded_at=optional["superseded_at"],
        superseded_by=superseded_by,
        confidence=float(numbers["confidence"]),
        source=data["source"],
        source_turn_ids=tuple(sources),
        mentions=counts["mentions"],
        recalls=counts["recalls"],
        last_recalled=optional["last_recalled"],
        importance=float(numbers["importance"]),
        pinned=data.get("pinned", False),
        archived_at=optional["archived_at"],
    )


@dataclass(frozen=True, slots=True)
class CheckedExport:
    """An export validated whole by :func:`check_lines`: each line parsed once, written as parsed.

    A turn line's ``embedding`` is kept as written and decoded by :meth:`vectors` when the
    turns are written: whether the file's vectors are used depends on the store's embedding
    model, which a check before the store is opened does not know.
    """

    #: The tenant the records were parsed into.
    tenant: str
    header: dict[str, Any]
    #: Each turn with its line's ``embedding`` field as written and the line's number.
    turns: list[tuple[NewTurn, Any, int]]
    facts: list[FactVersion]

    def vectors(self, dim: int | None) -> list[np.ndarray | None]:
        """Each turn's vector, checked to have ``dim`` values; all None when ``dim`` is None (the
        file's vectors are not of this store's model) and for a turn without one.

        Raises:
            ValidationError: a vector is not base64 float32 of ``dim`` values (naming its line).
        """
        if not dim:
            return [None] * len(self.turns)
        return [_vector(field, f"line {number}", dim) if field else None for _, field, number in self.turns]


def check_lines(lines: Iterable[str], *, tenant: str) -> CheckedExport:
    """Validate a whole export (header and every line) without a store, parsing each line once.

    ``engram import jsonl`` runs it before a store is opened, so that a refused file does not
    even create one, and writes what it parsed (``Memory._import_checked``).

    Raises:
        ValidationError: the file is empty, or a line is not valid (naming it).
    """
    source = iter(lines)
    first = next(source, None)
    if first is None:
        raise ValidationError("the file is empty")
    head = parse_header(first)
    turns: list[tuple[NewTurn, Any, int]] = []
    facts: list[FactVersion] = []
    for number, line in enumerate(source, start=2):
        if line.strip():
            record = parse_record(line, number, tenant=tenant, source_tenant=head.get("tenant"))
            if isinstance(record, FactVersion):
                facts.append(record)
            else:
                turns.append((*record, number))
    return CheckedExport(tenant, head, turns, facts)
