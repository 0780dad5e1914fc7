"""Export and import in Engram's JSONL format: the portable half of :class:`engram.Memory`.

See :mod:`engram.formats.jsonl` for the format. Export streams a tenant (or one user) with
vectors; import validates the whole file before writing and reuses vectors of the same model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from engram.formats import jsonl
from engram.model import AddResult, NewTurn, Scope
from engram.model.fact import FactVersion
from engram.model.messages import parse_messages
from engram.model.scope import check_id
from engram.providers.embedder import Embedder
from engram.store.base import Store, UserScope
from engram.write.ingest import Ready, embed_ahead, write_turns
from engram.write.reconcile import rechain

#: Turns per write of a bulk import (one transaction, then one unit of work a user for what
#: derives from them). Its texts are embedded ahead with those of the next batches
#: (:data:`AHEAD_BATCHES`): a session's 20-odd turns at a time embedded at about four fifths of
#: the model's bulk rate (``benchmarks/ingest_rate.py``), 500 at a time at 80-92% of it.
IMPORT_BATCH = 1000
#: Batches whose texts an import embeds ahead, in one length sort (:func:`~engram.write.ingest.
#: embed_ahead`): batch by batch, the model padded 1.7% more word pieces on all of LoCoMo.
#: Eight thousand turns' vectors hold 12 MB with the default model.
AHEAD_BATCHES = 8


@dataclass(frozen=True, slots=True)
class AddCall:
    """The arguments of one :meth:`engram.Memory.add` call, for ``Memory._add_many`` (bulk imports)."""

    messages: Sequence[Mapping[str, Any]]
    user_id: str
    session_id: str
    timestamp: datetime | None = None
    #: The messages already parsed into this tenant's turns, with their final event times
    #: (an import's validation, :class:`~engram.formats.validate.CheckedImport`); else parsed here.
    turns: Sequence[NewTurn] | None = None


class PortableMethods:
    """``export`` and ``import_`` for :class:`engram.Memory`."""

    store: Store
    tenant: str
    _embedder: Embedder | None
    _clock: Callable[[], datetime]

    if TYPE_CHECKING:  # provided by Memory

        @property
        def embedder(self) -> Embedder: ...

    # -- export / import --------------------------------------------------------------------

    def export(self, dest: IO[str], *, user_id: str | None = None, with_vectors: bool = True) -> int:
        """Write this tenant's turns (or one user's) and their fact versions as Engram JSONL;
        returns the turn count."""
        check_id(user_id, "user_id", required=False)
        model = getattr(self.store, "embedding_model", None)
        # the default embedder is not loaded to export: the store knows its vectors' length
        dim = self._embedder.dim if self._embedder is not None else getattr(self.store, "embedding_dim", None)
        count = 0
        users: dict[str, None] = dict.fromkeys([user_id] if user_id is not None else [])
        dest.write(
            jsonl.header(tenant=self.tenant, embedding_model=model, dim=dim, exported_at=self._clock()) + "\n"
        )
        for turn, vector in self.store.iter_turns(self.tenant, user_id):
            if dim is None and vector is not None:
                dim = int(vector.size)
            dest.write(jsonl.turn_line(turn, vector if with_vectors else None) + "\n")
            users.setdefault(turn.scope.user_id)
            count += 1
        for user in users:  # the tenant's users are the ones its turns named
            scope = UserScope(self.tenant, user)
            for fact in self.store.list_facts(scope, include_history=True, include_archived=True):
                dest.write(jsonl.fact_line(fact) + "\n")
        return count

    def import_(
        self,
        source: Iterable[str],
        *,
        batch: int = IMPORT_BATCH,
        progress: Callable[[int], None] | None = None,
    ) -> AddResult:
        """Read Engram JSONL (see :mod:`engram.formats.jsonl`) into this tenant.

        Vectors in the file are reused when its embedding model is this store's; otherwise
        the text is embedded again. A file with fact lines (version 2) brings its facts, and
        facts are not derived from its turns again; a version 1 file derives them as ``add``
        does. The whole file is validated before anything is written.
        Turns are written ``batch`` at a time, one transaction each; the texts of
        :data:`AHEAD_BATCHES` batches are embedded ahead of their writes, shortest first.
        ``progress`` is called as the import advances with a number of turns (the embedding,
        nearly all of an import's time, moves it in proportion to the texts embedded); the
        calls add up to the file's turn count.
        """
        started = time.perf_counter()
        checked = jsonl.check_lines(source, tenant=self.tenant)
        return self._import_checked(checked, batch=batch, progress=progress, started=started)

    def _import_checked(
        self,
        checked: jsonl.CheckedExport,
        *,
        batch: int = IMPORT_BATCH,
        progress: Callable[[int], None] | None = None,
        started: float | None = None,
        written: Callable[[int], None] | None = None,
    ) -> AddResult:
        """What :meth:`import_` gives for a file already checked and parsed (``engram import
        jsonl`` checks it before the store is opened): each line is parsed once. ``written`` is
        called after each batch is stored, with its size."""
        if checked.tenant != self.tenant:
            raise ValueError(
                f"the file was checked for tenant {checked.tenant!r}, not this memory's {self.tenant!r}"
            )
        started = time.perf_counter() if started is None else started
        head = checked.header
        # An export made while the default embedder was not loaded said "dim": null until this
        # was mended (2026-12-05): of this model, its vectors are checked against this model's.
        same_model = head.get("embedding_model") == self.embedder.model_id and head.get("dim") in (
            None,
            self.embedder.dim,
        )
        given = checked.vectors(self.embedder.dim if same_model else None)
        parsed = [(turn, vector) for (turn, _, _), vector in zip(checked.turns, given, strict=True)]
        facts = checked.facts
        results: list[AddResult] = []
        stored_as: dict[str, str] = {}
        window = batch * AHEAD_BATCHES
        for first in range(0, len(parsed), window):
            part = parsed[first : first + window]
            shown = WindowProgress(progress, len(part))
            carried = {turn.id: vector for turn, vector in part if vector is not None}
            ready = embed_ahead(
                self.store, self.embedder, [turn for turn, _ in part], vectors=carried, progress=shown.embedded
            )
            for start in range(0, len(part), batch):
                turns = [turn for turn, _ in part[start : start + batch]]
                result = write_turns(
                    self.store,
                    self.embedder,
                    turns,
                    clock=self._clock,
                    started=started,
                    vectors=carried,
                    derive_facts=not facts,
                    ready=ready,
                )
                stored_as.update({given.id: turn.id for given, turn in zip(turns, result.turns, strict=True)})
                results.append(result)
                shown.written(start + len(turns))
                if written:
                    written(len(turns))
        _save_imported_facts(self.store, facts, stored_as, now=self._clock())
        return _merged(results, started)

    def _embed_ahead(self, turns: Sequence[NewTurn], progress: Callable[[int, int], None] | None = None) -> Ready:
        """The vectors writing ``turns`` will need, embedded now (:func:`~engram.write.ingest.embed_ahead`),
        for the ``ready`` of the :meth:`_add_many` calls that write them."""
        return embed_ahead(self.store, self.embedder, turns, progress=progress)

    def _add_many(self, calls: Sequence[AddCall], ready: Ready | None = None) -> AddResult:
        """What ``add`` gives for each of ``calls`` in turn, written as one batch (a bulk import's
        step): one embedding call for all their new texts (none for those in ``ready``, from
        :meth:`_embed_ahead`), one transaction for their turns, then one unit of work per user
        for what derives from them. Turn ids are the ones each ``add`` would give, so
        re-importing stores nothing twice.

        Raises:
            ValidationError: a message is bad; nothing was written.
        """
        started = time.perf_counter()
        now = self._clock()
        turns = [
            turn
            for call in calls
            for turn in (
                call.turns
                if call.turns is not None
                else parse_messages(
                    call.messages,
                    Scope(self.tenant, call.user_id, None, call.session_id),
                    timestamp=call.timestamp,
                    now=now,
                )
            )
        ]
        return write_turns(self.store, self.embedder, turns, clock=self._clock, started=started, ready=ready)


class WindowProgress:
    """A window's share of an import's progress, in turns, for a callback that counts them.

    The window's embedding, nearly all of its time, moves it in proportion to the texts
    embedded; its writes move it to the turns written (all of it, when nothing needed the
    model). The calls add up to the window's turns.
    """

    def __init__(self, update: Callable[[int], None] | None, turns: int) -> None:
        self.update = update
        self.turns = turns
        self.told = 0

    def embedded(self, done: int, total: int) -> None:
        """``done`` of the window's ``total`` texts are embedded."""
        self._to(self.turns * done // total)

    def written(self, turns: int) -> None:
        """The window's first ``turns`` turns are stored."""
        self._to(turns)

    def _to(self, turns: int) -> None:
        if self.update is not None and turns > self.told:
            self.update(turns - self.told)
            self.told = turns


def _save_imported_facts(
    store: Store, facts: Sequence[FactVersion], stored_as: Mapping[str, str], *, now: datetime
) -> None:
    """Save an import's fact versions, user by user, their sources named by the ids the turns
    were stored under (a turn id taken by another tenant is derived again for this one).

    Into a user who already holds versions of the same slots (two memories merged), each such
    single-valued slot is chained again in valid time (:func:`~engram.write.reconcile.rechain`):
    the later value replaces the earlier, whichever side it came from, so no two values of one
    slot are current at once.
    """
    by_user: dict[tuple[str, str], list[FactVersion]] = {}
    for fact in facts:
        sources = tuple(stored_as.get(turn_id, turn_id) for turn_id in fact.source_turn_ids)
        by_user.setdefault((fact.tenant, fact.user_id), []).append(replace(fact, source_turn_ids=sources))
    for (tenant, user_id), versions in by_user.items():
        scope = UserScope(tenant, user_id)
        with store.atomic():
            imported = {v.id for v in versions}
            slots = sorted({v.slot for v in versions if not v.multi})
            held = store.slot_versions(scope, slots) if slots else {}
            merged = [slot for slot in slots if any(v.id not in imported for v in held.get(slot, []))]
            store.save_facts(scope, versions)
            if merged:
                after = store.slot_versions(scope, merged)
                changed = [v for slot in merged for v in rechain(after[slot], now=now)]
                if changed:
                    store.save_facts(scope, changed)


def _merged(results: Sequence[AddResult], started: float) -> AddResult:
    """One result for the batches of an import."""
    return AddResult(
        turns=[turn for result in results for turn in result.turns],
        added=sum(r.added for r in results),
        duplicates=sum(r.duplicates for r in results),
        embedded=sum(r.embedded for r in results),
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
