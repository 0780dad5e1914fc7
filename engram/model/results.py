"""What the engine returns: add reports, search hits, contexts, pages and receipts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engram.errors import ValidationError
from engram.model.episode import Episode
from engram.model.fact import FactVersion
from engram.model.limits import ROLES
from engram.model.timeutil import from_micros, parse_timestamp
from engram.model.turn import Turn


@dataclass(frozen=True, slots=True)
class AddResult:
    """What one ``add`` call wrote.

    ``turns`` holds every turn of the call in order, whether new or already stored;
    ``added`` and ``duplicates`` count them; ``embedded`` counts texts sent to the embedder
    (the rest came from the content-hash cache). The lifecycle fields say what the write
    path extracted: fact versions added, superseded and reinforced (ids), episodes rebuilt.
    """

    turns: list[Turn]
    added: int
    duplicates: int
    embedded: int
    elapsed_ms: float
    facts_added: list[str] = field(default_factory=list)
    facts_superseded: list[str] = field(default_factory=list)
    facts_reinforced: list[str] = field(default_factory=list)
    episodes: int = 0


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Narrow a search. Every given condition must hold.

    Attributes:
        session_ids: only these sessions.
        roles: only these roles.
        since: only turns said at or after this time.
        until: only turns said at or before this time.
        metadata: only turns whose metadata has these exact (scalar) values; ``None`` matches
            a key whose value is null and a key the turn's metadata does not have.
        include_archived: also turns that forgetting archived (left out by default).
    """

    session_ids: tuple[str, ...] | None = None
    roles: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    metadata: Mapping[str, str | int | float | bool | None] | None = None
    include_archived: bool = False

    @classmethod
    def coerce(cls, value: SearchFilters | Mapping[str, Any] | None) -> SearchFilters:
        """Build filters from a dict such as ``{"session_id": "s1", "role": "user"}``."""
        if value is None:
            return cls()
        if isinstance(value, SearchFilters):
            return value
        if not isinstance(value, Mapping):
            raise ValidationError("filters must be a dict or SearchFilters")
        allowed = {"session_id", "session_ids", "role", "roles", "since", "until", "metadata", "include_archived"}
        unknown = set(value) - allowed
        if unknown:
            raise ValidationError(
                f"unknown filter(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}"
            )
        sessions = _as_tuple(value.get("session_ids", value.get("session_id")), "session_id")
        roles = _as_tuple(value.get("roles", value.get("role")), "role")
        for role in roles or ():
            if role not in ROLES:
                raise ValidationError(f"filter role {role!r} is not one of {', '.join(ROLES)}")
        meta = value.get("metadata")
        if meta is not None:
            if not isinstance(meta, Mapping):
                raise ValidationError("filter metadata must be an object of key: value")
            for key, item in meta.items():
                if not isinstance(key, str) or not key.replace("_", "").replace("-", "").isalnum():
                    raise ValidationError(f"metadata filter key {key!r} must be letters, digits, '_' or '-'")
                if item is not None and not isinstance(item, (str, int, float, bool)):
                    raise ValidationError(f"metadata filter {key!r} must be a scalar value")
        since = parse_timestamp(value["since"], "since") if value.get("since") else None
        until = parse_timestamp(value["until"], "until") if value.get("until") else None
        if since and until and since > until:
            raise ValidationError("filter since is after until")
        archived = value.get("include_archived", False)
        if not isinstance(archived, bool):
            raise ValidationError("filter include_archived must be true or false")
        return cls(sessions, roles, since, until, dict(meta) if meta else None, archived)


def _as_tuple(value: object, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise ValidationError(f"filter {what} must be a non-empty string or list of strings")
    return items


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved turn with its fused score.

    ``signals`` holds every ranking signal (ranks and raw scores per retriever, the fused
    score); it is filled when the search was made with ``explain=True``.
    """

    turn: Turn
    score: float
    signals: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Hits, best first, plus timing; with ``explain``, the candidates left out and the facts
    and episodes (with their route scores) that retrieval went through."""

    query: str
    hits: list[Hit]
    reference_time: datetime
    took_ms: float
    left_out: list[Hit] = field(default_factory=list)
    facts: list[tuple[FactVersion, float]] = field(default_factory=list)
    episodes: list[tuple[Episode, float]] = field(default_factory=list)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, index: int) -> Hit:
        return self.hits[index]


@dataclass(frozen=True, slots=True)
class ContextItem:
    """One turn placed in a context, with the citation id it carries in the text."""

    ref: str
    turn: Turn
    section: str  # "working_memory" or "memories"
    tokens: int
    score: float | None = None
    excerpt: bool = False  # shown as a query-focused excerpt of a long turn, not whole


@dataclass(frozen=True, slots=True)
class ContextResult:
    """A prompt-ready context and its structured form.

    ``text`` fits in ``budget_tokens`` (counted by the store's token counter); ``items`` are
    the turns it shows, with the citation ids used in the text; ``left_out`` lists retrieved
    turns that did not fit, with the reason.
    """

    text: str
    tokens: int
    budget_tokens: int
    items: list[ContextItem]
    left_out: list[tuple[Turn, str]]
    reference_time: datetime
    took_ms: float
    facts: list[tuple[str, FactVersion]] = field(default_factory=list)

    @property
    def turn_ids(self) -> list[str]:
        """Ids of every turn the text shows."""
        return [item.turn.id for item in self.items]

    @property
    def citations(self) -> dict[str, str]:
        """Citation id in the text → memory id (turns ``W``/``M``, facts ``F``)."""
        return {**{ref: fact.id for ref, fact in self.facts}, **{item.ref: item.turn.id for item in self.items}}


def encode_cursor(micros: int, seq: int) -> str:
    """An opaque page cursor for a keyset (time in microseconds, insertion seq)."""
    return f"{micros}.{seq}"


def decode_cursor(cursor: str) -> tuple[int, int]:
    """The keyset of a cursor made by :func:`encode_cursor`; anything else is a ValidationError."""
    try:
        micros, seq = (int(part) for part in cursor.split("."))
        from_micros(micros)
        if not 0 <= seq < 2**63:
            raise ValueError(seq)
        return micros, seq
    except (ValueError, OverflowError) as exc:
        raise ValidationError(f"cursor {cursor!r} is not one this API returned") from exc


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list; pass ``next_cursor`` to get the next (``None`` at the end)."""

    items: list[Turn]
    next_cursor: str | None

    def __iter__(self) -> Iterator[Turn]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class EpisodePage:
    """One page of episodes; pass ``next_cursor`` to get the next (``None`` at the end)."""

    items: list[Episode]
    next_cursor: str | None

    def __iter__(self) -> Iterator[Episode]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class DeleteReceipt:
    """What a delete removed: the turn ids, and from where.

    ``scrub_pending``: other connections' readers kept the deleted bytes in the store's
    write-ahead log; no query finds them, and the store scrubs them from the files once the
    readers let go.
    """

    deleted_ids: list[str]
    not_found_ids: list[str]
    removed_from: tuple[str, ...]
    scrub_pending: bool = False


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts and sizes of a store, or of one user in it."""

    turns: int
    users: int
    sessions: int
    first_timestamp: datetime | None
    last_timestamp: datetime | None
    store_bytes: int | None
    embedding_model: str | None
    path: str | None
    by_role: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserSummary:
    """One user of a tenant: how much memory, over what time."""

    user_id: str
    turns: int
    sessions: int
    first_timestamp: datetime
    last_timestamp: datetime


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One session of a user."""

    session_id: str
    agent_ids: tuple[str, ...]
    turns: int
    first_timestamp: datetime
    last_timestamp: datetime
