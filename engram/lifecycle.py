"""The lifecycle half of the public API: facts, profile, episodes, consolidation, forgetting.

:class:`engram.Memory` inherits these methods; they are here to keep each module about one
thing. Every method names a user, validates its input and makes one call into the store or a
pure step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from engram.errors import NotFoundError, ValidationError
from engram.model import DeleteReceipt, EpisodePage
from engram.model.fact import KINDS, FactVersion
from engram.model.profile import Profile, build_profile
from engram.model.results import decode_cursor, encode_cursor
from engram.model.retention import RetentionPolicy
from engram.model.scope import check_id
from engram.model.timeutil import parse_timestamp, to_micros
from engram.providers.llm import LLM
from engram.store.base import ForgetReceipt, Store, UserScope
from engram.write.absorb import AbsorbReport, resegment
from engram.write.consolidate import ConsolidationReport, consolidate
from engram.write.reconcile import rechain
from engram.write.segment import SegmentConfig

if TYPE_CHECKING:
    from engram.model.episode import Episode


#: Memory id prefixes and their kinds.
KIND_BY_PREFIX = {"t_": "turn", "e_": "episode", "f_": "fact"}


def kind_of(memory_id: str) -> str:
    """``turn``, ``episode`` or ``fact``, from an id's prefix."""
    kind = KIND_BY_PREFIX.get(memory_id[:2])
    if kind is None:
        raise ValidationError(f"{memory_id!r} is not a memory id (turn t_…, episode e_… or fact f_…)")
    return kind


class LifecycleMethods:
    """Facts, profile, episodes, consolidation and forgetting, for :class:`engram.Memory`."""

    store: Store
    tenant: str
    llm: LLM | None
    retention_policy: RetentionPolicy
    _clock: Callable[[], datetime]

    def _at(self, moment: datetime | str | float | None, what: str = "as_of") -> datetime:
        return parse_timestamp(moment, what) if moment is not None else self._clock()

    def _user(self, user_id: str, agent_id: str | None = None) -> UserScope:
        check_id(user_id, "user_id")
        check_id(agent_id, "agent_id", required=False)
        return UserScope(self.tenant, user_id, agent_id)

    # -- facts and profile --------------------------------------------------------------------

    def facts(
        self,
        *,
        user_id: str,
        agent_id: str | None = None,
        as_of: datetime | str | float | None = None,
        subject: str | None = None,
        kind: str | None = None,
        include_history: bool = False,
        include_archived: bool = False,
    ) -> list[FactVersion]:
        """Facts true at ``as_of`` (default now), oldest first; every version with ``include_history``.

        A version that was true stays answerable as of its time: decay never archives fact
        versions, and one archived by hand is still returned when ``as_of`` is given or with
        ``include_history`` (archive leaves it out of retrieval, not out of history). Without
        either, the facts true now are listed, leaving out archived ones unless
        ``include_archived``.
        """
        if kind is not None and kind not in KINDS:
            raise ValidationError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        at = self._at(as_of)
        about_time = include_history or as_of is not None
        versions = self.store.list_facts(
            self._user(user_id, agent_id), include_history=True, include_archived=include_archived or about_time
        )
        return [
            v
            for v in versions
            if (include_history or v.true_at(at))
            and (subject is None or v.subject.casefold() == subject.casefold())
            and (kind is None or v.kind == kind)
        ]

    def history(self, fact_id: str, *, user_id: str) -> list[FactVersion]:
        """Every version of a fact's slot, oldest first: what was true when, and when we learned it.

        Raises:
            NotFoundError: no such fact for this user.
        """
        scope = self._user(user_id)
        found = self.store.list_facts(scope, ids=[fact_id], include_history=True, include_archived=True)
        if not found:
            raise NotFoundError(f"no fact {fact_id!r} for user {user_id!r}")
        versions = self.store.list_facts(scope, slots=[found[0].slot], include_history=True, include_archived=True)
        return sorted(versions, key=lambda v: (v.valid_from, v.recorded_at, v.seq))

    def profile(
        self, *, user_id: str, agent_id: str | None = None, as_of: datetime | str | float | None = None
    ) -> Profile:
        """A typed view over the facts true at ``as_of``: per person, name, location, work, ...

        As of a given time it shows what was true then, versions archived since included (see
        :meth:`facts`).
        """
        at = self._at(as_of)
        versions = self.store.list_facts(
            self._user(user_id, agent_id), include_history=True, include_archived=as_of is not None
        )
        return build_profile(user_id, versions, at)

    # -- episodes -------------------------------------------------------------------------------

    def episodes(
        self,
        *,
        user_id: str,
        session_id: str | None = None,
        agent_id: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        include_archived: bool = False,
    ) -> EpisodePage:
        """Episodes in time order, one page at a time."""
        check_id(session_id, "session_id", required=False)
        if not 1 <= limit <= 1000:
            raise ValidationError("limit must be between 1 and 1000")
        after = decode_cursor(cursor) if cursor else None
        items: list[Episode] = self.store.list_episodes(
            self._user(user_id, agent_id),
            session_id=session_id,
            include_archived=include_archived,
            limit=limit + 1,
            after=after,
        )
        more = len(items) > limit
        items = items[:limit]
        next_cursor = encode_cursor(to_micros(items[-1].start), items[-1].seq) if more and items else None
        return EpisodePage(items=items, next_cursor=next_cursor)

    # -- consolidation and forgetting ---------------------------------------------------------

    def consolidate(self, *, user_id: str, decay: bool = True) -> ConsolidationReport:
        """Run the sleep-time work for a user (see :mod:`engram.write.consolidate`)."""
        return consolidate(
            self.store,
            self._user(user_id),
            now=self._clock(),
            llm=self.llm,
            policy=self.retention_policy,
            decay=decay,
        )

    def forget(
        self, *, user_id: str, session_id: str | None = None, ids: Iterable[str] | None = None
    ) -> ForgetReceipt:
        """Delete memories everywhere: a whole user, one session, or these ids.

        Turn ids (``t_…``) delete those turns and what derives from them; episode ids
        (``e_…``) delete the turns they span; fact ids (``f_…``) delete the fact's every
        version. Afterwards no query finds the forgotten text and its bytes are gone from the
        file. Episodes of the sessions touched are rebuilt from what is left.
        """
        scope = self._user(user_id)
        check_id(session_id, "session_id", required=False)
        turn_ids: list[str] | None = None
        fact_ids: list[str] | None = None
        if ids is not None:
            wanted = [ids] if isinstance(ids, str) else list(ids)
            if not wanted:
                raise ValidationError("no ids given to forget")
            turn_ids = [i for i in wanted if kind_of(i) == "turn"]
            fact_ids = [i for i in wanted if kind_of(i) == "fact"]
            episode_ids = [i for i in wanted if kind_of(i) == "episode"]
            for episode in self.store.list_episodes(scope, ids=episode_ids, include_archived=True) if episode_ids else []:
                turn_ids.extend(episode.turn_ids)
        receipt = self.store.forget(scope, session_id=session_id, ids=turn_ids, fact_ids=fact_ids)
        self._repair_after_forget(scope, receipt, rebuild_episodes=ids is not None)
        return receipt

    def delete(self, ids: str | Iterable[str], *, user_id: str) -> DeleteReceipt:
        """Delete turns everywhere they are held: rows, indexes, vectors, and what derives from them.

        Episodes that contained them are rebuilt from the turns left; facts keep only the
        sources left (and go when none is). See :meth:`forget` to drop a session or a user.
        """
        check_id(user_id, "user_id")
        wanted = [ids] if isinstance(ids, str) else list(ids)
        if not wanted:
            raise ValidationError("no turn ids given to delete")
        scope = UserScope(self.tenant, user_id)
        receipt = self.store.forget(scope, ids=wanted)
        self._repair_after_forget(scope, receipt, rebuild_episodes=True)
        gone = set(receipt.turn_ids)
        return DeleteReceipt(
            deleted_ids=receipt.turn_ids,
            not_found_ids=[turn_id for turn_id in wanted if turn_id not in gone],
            removed_from=("turns", "full-text index", "vectors", "episodes", "facts", "links"),
            scrub_pending=receipt.scrub_pending,
        )

    def _repair_after_forget(self, scope: UserScope, receipt: ForgetReceipt, *, rebuild_episodes: bool) -> None:
        """Re-link fact timelines that lost versions, and rebuild the touched sessions' episodes."""
        now = self._clock()
        if receipt.slots:
            versions = self.store.slot_versions(scope, receipt.slots)
            changed = [v for slot in receipt.slots for v in rechain(versions[slot], now=now)]
            if changed:
                self.store.save_facts(scope, changed)
        if rebuild_episodes and receipt.sessions:
            resegment(self.store, scope, receipt.sessions, now=now, config=SegmentConfig(), report=AbsorbReport())

    def pin(self, ids: Iterable[str], *, user_id: str) -> list[str]:
        """Pin memories (turns, episodes, facts): they never fade. Returns the ids pinned."""
        return self._flag(ids, user_id, pinned=True)

    def unpin(self, ids: Iterable[str], *, user_id: str) -> list[str]:
        """Let pinned memories fade again."""
        return self._flag(ids, user_id, pinned=False)

    def restore(self, ids: Iterable[str], *, user_id: str) -> list[str]:
        """Bring archived memories back into default retrieval."""
        return self._flag(ids, user_id, archived_at=None)

    def archive(self, ids: Iterable[str], *, user_id: str) -> list[str]:
        """Archive memories now, as decay would: kept, but left out of default retrieval."""
        return self._flag(ids, user_id, archived_at=self._clock())

    def retention(
        self, memory_id: str, *, user_id: str, at: datetime | str | float | None = None
    ) -> float:
        """The memory's retention R in [0, 1] at ``at`` (default now): the forgetting curve, visible."""
        kind = kind_of(memory_id)
        for state in self.store.memory_states(kind, self._user(user_id)):
            if state.id == memory_id:
                return self.retention_policy.retention(
                    reinforced_at=state.reinforced_at,
                    at=self._at(at, "at"),
                    importance=state.importance,
                    recalls=state.recalls,
                    pinned=state.pinned,
                )
        raise NotFoundError(f"no {kind} {memory_id!r} for user {user_id!r}")

    def _flag(
        self, ids: Iterable[str], user_id: str, *, pinned: bool | None = None, archived_at: datetime | bool | None = False
    ) -> list[str]:
        scope = self._user(user_id)
        wanted = [ids] if isinstance(ids, str) else list(ids)
        if not wanted:
            raise ValidationError("no memory ids given")
        done: list[str] = []
        for kind in ("turn", "episode", "fact"):
            mine = [i for i in wanted if kind_of(i) == kind]
            if mine:
                done += self.store.set_memory_flags(kind, scope, mine, pinned=pinned, archived_at=archived_at)
        return done
