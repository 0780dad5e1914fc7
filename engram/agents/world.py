"""Agent memory, the world half: observations of any subject as bi-temporal facts.

KARMA keeps a short-term memory of object states that change and a long-term memory of the
environment; Mem4Nav keeps places inside places. Here an observation is a turn (lossless, found
by retrieval, forgotten like any turn) and the facts it states (kind ``world``, one
single-valued slot per subject and attribute: :mod:`engram.write.observe`), so
``facts(subject="red mug")`` answers now and ``as_of`` any time, its versions are the history
of moves, and ``context("where is the red mug?")`` finds the fact by its statement.
:class:`engram.Memory` inherits these methods.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engram.errors import ValidationError
from engram.model.fact import FactVersion
from engram.model.run import MEMORY_KIND, OBSERVATION_KIND
from engram.model.scope import check_id
from engram.model.timeutil import parse_timestamp
from engram.model.turn import check_text
from engram.model.world import ObservationResult, Observed, Sighting, Whereabouts
from engram.store.base import Store, UserScope
from engram.write.absorb import AbsorbReport, absorb_facts
from engram.write.observe import (
    LOCATION,
    normalise,
    observation_candidates,
    parse_observation,
    place_chain,
    seen_in,
    structured,
)

if TYPE_CHECKING:
    from engram.model import AddResult

#: The session observations go to when the caller names none.
OBSERVATIONS_SESSION = "observations"


def read_observation(
    text: str | None, *, subject: str | None, attribute: str, value: str | None, where: str | None
) -> list[Observed]:
    """What an observation states: its given structure, else what its text says.

    Raises:
        ValidationError: neither a text nor a subject and value, or a text nothing could be read from.
    """
    if subject is not None or value is not None:
        if subject is None or value is None:
            raise ValidationError("a structured observation needs both subject and value")
        return structured(subject, attribute, value, where=where, statement=text)
    if text is None:
        raise ValidationError("give the observation's text, or its subject and value")
    check_text(text, "text")
    observed = parse_observation(text)
    if not observed:
        raise ValidationError(
            f"no observation could be read from {text[:80]!r}; give subject=, value= (and attribute=) to store it structured"
        )
    return observed


class WorldMethods:
    """``observe``, ``where``, ``seen_in`` and ``moves`` for :class:`engram.Memory`."""

    store: Store
    tenant: str
    _clock: Callable[[], datetime]

    if TYPE_CHECKING:  # provided by Memory

        def add(
            self,
            messages: Any,
            *,
            user_id: str,
            session_id: str,
            agent_id: str | None = None,
            timestamp: datetime | str | float | None = None,
        ) -> AddResult: ...

    def observe(
        self,
        text: str | None = None,
        *,
        user_id: str,
        agent_id: str | None = None,
        subject: str | None = None,
        attribute: str = LOCATION,
        value: str | None = None,
        where: str | None = None,
        when: datetime | str | float | None = None,
        session_id: str = OBSERVATIONS_SESSION,
        metadata: Mapping[str, Any] | None = None,
    ) -> ObservationResult:
        """Store an observation and the world-state facts it states.

        Give ``text`` ("the red mug is on the kitchen shelf"; sentence shapes of
        :func:`engram.write.observe.parse_observation`), or the structure: ``subject``,
        ``attribute`` (default ``location``), ``value`` and optionally ``where``. A place is a
        subject too: ``observe(subject="kitchen shelf", value="kitchen")`` puts the shelf in
        the kitchen.

        Args:
            when: when it was observed (default now): the facts hold from then.
            session_id: the session the observation turn goes to (a run's id puts it in the run's
                session; default ``observations``).

        Raises:
            ValidationError: neither a text nor a subject and value, or a text nothing could be
                read from and no structure given; nothing was stored.
        """
        check_id(user_id, "user_id")
        check_id(agent_id, "agent_id", required=False)
        at = parse_timestamp(when, "when") if when is not None else self._clock()
        observed = read_observation(text, subject=subject, attribute=attribute, value=value, where=where)
        content = text or " ".join(o.statement.rstrip(".") + "." for o in observed)
        message = {
            "role": "tool",
            "content": content,
            "timestamp": at,
            "metadata": {
                **dict(metadata or {}),
                MEMORY_KIND: OBSERVATION_KIND,
                "observation": [
                    {"subject": o.subject, "attribute": o.attribute, "value": o.value, "where": o.where} for o in observed
                ],
            },
        }
        turn = self.add(message, user_id=user_id, session_id=session_id, agent_id=agent_id).turns[0]
        facts = self._world_facts(turn.scope.user_id, turn.scope.agent_id, turn.timestamp, turn.id, observed)
        return ObservationResult(turn_id=turn.id, observed=observed, facts=facts)

    def _world_facts(
        self, user_id: str, agent_id: str | None, at: datetime, turn_id: str, observed: builtins.list[Observed]
    ) -> builtins.list[FactVersion]:
        """Reconcile what an observation turn states into the world-state facts."""
        candidates = observation_candidates(
            observed, tenant=self.tenant, user_id=user_id, agent_id=agent_id, at=at, turn_id=turn_id
        )
        with self.store.atomic():
            return absorb_facts(self.store, UserScope(self.tenant, user_id), candidates, now=self._clock(), report=AbsorbReport())

    def _locations(self, user_id: str, at: datetime) -> dict[str, FactVersion]:
        """Each subject's location fact true at ``at`` (the latest, when versions overlap)."""
        check_id(user_id, "user_id")
        facts = self.store.list_facts(UserScope(self.tenant, user_id), include_history=True, include_archived=True)
        located: dict[str, FactVersion] = {}
        for fact in sorted(facts, key=lambda f: (f.valid_from, f.seq)):
            if fact.kind == "world" and fact.attribute == LOCATION and fact.true_at(at):
                located[fact.subject] = fact
        return located

    def where(self, subject: str, *, user_id: str, as_of: datetime | str | float | None = None) -> Whereabouts:
        """Where ``subject`` was last seen at ``as_of`` (default now), with the places containing it."""
        check_text(subject, "subject")
        at = parse_timestamp(as_of, "as_of") if as_of is not None else self._clock()
        located = self._locations(user_id, at)
        key = normalise(subject)
        fact = located.get(key)
        return Whereabouts(
            subject=key, places=place_chain(key, located), since=fact.valid_from if fact else None, fact=fact
        )

    def seen_in(self, place: str, *, user_id: str, as_of: datetime | str | float | None = None) -> builtins.list[Sighting]:
        """What was last seen in ``place`` or in a place inside it, at ``as_of`` (default now);
        most recently seen first."""
        check_text(place, "place")
        at = parse_timestamp(as_of, "as_of") if as_of is not None else self._clock()
        return [
            Sighting(subject=fact.subject, path=path, since=fact.valid_from, fact=fact)
            for fact, path in seen_in(place, self._locations(user_id, at))
        ]

    def moves(self, subject: str, *, user_id: str) -> builtins.list[FactVersion]:
        """Every place ``subject`` was seen in, oldest first: the history of its moves."""
        check_text(subject, "subject")
        check_id(user_id, "user_id")
        key = normalise(subject)
        facts = self.store.list_facts(UserScope(self.tenant, user_id), include_history=True, include_archived=True)
        return sorted(
            (f for f in facts if f.kind == "world" and f.attribute == LOCATION and f.subject == key),
            key=lambda f: (f.valid_from, f.seq),
        )
