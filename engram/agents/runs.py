"""Agent memory, the task half: runs, their working memory, experience and lessons.

:class:`engram.Memory` inherits these methods (like :mod:`engram.lifecycle`). A run is a
session of turns in the agent's scope with the structured events in the turns' metadata
(:mod:`engram.model.run_events`), so storing, indexing, retrieval, forgetting, export and
tenant isolation are the conversation's own. Seeds (``SEEDS.md``): TME's task memory (the
run and its subgoal tree), HiAgent (working memory: :mod:`engram.read.run_context`), STE and
GoalfyMax (experience and lessons: :mod:`engram.read.experience`,
:mod:`engram.write.lessons`).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from engram.agents.run import Run
from engram.errors import NotFoundError, ValidationError
from engram.model.fact import FactVersion
from engram.model.limits import MAX_BUDGET_TOKENS
from engram.model.run import MEMORY_KIND, RUN_KIND, Experience, Outcome, RunContext, RunRecord, Step
from engram.model.run_events import check_outcome, read_run, start_message
from engram.model.scope import check_id
from engram.model.timeutil import parse_timestamp
from engram.model.turn import Turn, check_metadata, check_text
from engram.providers.llm import LLM
from engram.providers.tokens import TokenCounter
from engram.read.experience import rank_runs, render_experience, run_similarity
from engram.read.retrieve import RetrievalConfig
from engram.read.run_context import run_context
from engram.store.base import Store, UserScope
from engram.write.absorb import AbsorbReport, absorb_facts
from engram.write.lessons import lesson_candidates, summarise_subgoal

if TYPE_CHECKING:
    from engram.engine import Memory
    from engram.model import AddResult, SearchResult

#: Turns read per page when loading a run.
PAGE = 1000
#: Retrieved turns that experience groups into runs.
EXPERIENCE_CANDIDATES = 100


class RunMethods:
    """``start_run``, ``resume_run``, ``get_run``, ``runs``, ``run_context``, ``experience``,
    ``lessons`` for :class:`engram.Memory`."""

    store: Store
    tenant: str
    llm: LLM | None
    _clock: Callable[[], datetime]

    if TYPE_CHECKING:  # provided by Memory

        @property
        def token_counter(self) -> TokenCounter: ...

        def add(self, messages: Any, *, user_id: str, session_id: str, agent_id: str | None = None) -> AddResult: ...

        def search(
            self,
            query: str,
            *,
            user_id: str,
            agent_id: str | None = None,
            k: int = 10,
            filters: Mapping[str, Any] | None = None,
            reference_time: datetime | str | float | None = None,
            config: str | RetrievalConfig | None = None,
        ) -> SearchResult: ...

    # -- recording ------------------------------------------------------------------------

    def start_run(
        self,
        goal: str,
        *,
        user_id: str,
        agent_id: str | None = None,
        run_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timestamp: datetime | str | float | None = None,
    ) -> Run:
        """Start recording a task run: store its goal and return the handle to record with.

        Args:
            goal: what the run is for; retrieval finds past runs by it.
            user_id: whose memory (the person the agent works for, or the agent's own space).
            agent_id: the agent; its runs, lessons and experience are kept apart from others'.
            run_id: the run's id (its session id); default a new random one.
            metadata: the caller's own, kept with the goal.
            timestamp: when it started; default now.

        Raises:
            ValidationError: a bad argument, or ``run_id`` names a session that exists.
        """
        check_text(goal, "goal")
        check_id(user_id, "user_id")
        check_id(agent_id, "agent_id", required=False)
        run_id = check_id(run_id, "run_id", required=False) or f"run_{uuid.uuid4().hex[:16]}"
        scope = UserScope(self.tenant, user_id)
        if self.store.list_turns(scope, session_id=run_id, limit=1):
            raise ValidationError(f"session {run_id!r} exists already; resume_run() continues a run")
        message = start_message(run_id, goal, metadata=check_metadata(metadata), timestamp=self._when(timestamp))
        turn = self.add(message, user_id=user_id, session_id=run_id, agent_id=agent_id).turns[0]
        record = RunRecord(
            id=run_id, goal=goal, user_id=user_id, agent_id=agent_id, started_at=turn.timestamp, turn_id=turn.id,
            metadata=dict(metadata or {}),
        )
        return Run(cast("Memory", self), record)

    def resume_run(self, run_id: str, *, user_id: str, agent_id: str | None = None) -> Run:
        """The handle of a stored run, to record more of it (e.g. after a restart).

        Raises:
            NotFoundError: no such run.
        """
        return Run(cast("Memory", self), self.get_run(run_id, user_id=user_id, agent_id=agent_id))

    def _when(self, moment: datetime | str | float | None) -> datetime | None:
        return parse_timestamp(moment, "timestamp") if moment is not None else None

    def _run_turn(self, run: RunRecord, message: dict[str, Any]) -> Turn:
        return self.add(message, user_id=run.user_id, session_id=run.id, agent_id=run.agent_id).turns[0]

    def _summarise(self, title: str, steps: Sequence[Step], outcome: Outcome) -> str:
        return summarise_subgoal(title, steps, outcome, self.llm)

    def _learn(self, run: RunRecord) -> list[FactVersion]:
        """Reconcile the lessons of a finished run into the agent's facts."""
        held = {fact.attribute: fact for fact in self.lessons(user_id=run.user_id, agent_id=run.agent_id)}
        candidates = lesson_candidates(run, self.tenant, held)
        scope = UserScope(self.tenant, run.user_id)
        with self.store.atomic():
            return absorb_facts(self.store, scope, candidates, now=self._clock(), report=AbsorbReport())

    # -- reading --------------------------------------------------------------------------

    def _session(self, scope: UserScope, session_id: str) -> list[Turn]:
        turns: list[Turn] = []
        after: tuple[int, int] | None = None
        while True:
            page = self.store.list_turns(scope, session_id=session_id, after=after, limit=PAGE)
            turns += page
            if len(page) < PAGE:
                return turns
            last = page[-1]
            after = (int(last.timestamp.timestamp() * 1_000_000), last.seq)

    def get_run(self, run_id: str, *, user_id: str, agent_id: str | None = None) -> RunRecord:
        """A run as stored: goal, subgoals, steps (tool calls with arguments and results), outcome.

        Raises:
            NotFoundError: no run ``run_id`` for this user (and agent).
        """
        check_id(run_id, "run_id")
        scope = self._agent_scope(user_id, agent_id)
        turns = self._session(scope, run_id)
        if not turns:
            raise NotFoundError(f"no run {run_id!r} for user {user_id!r}")
        return read_run(turns, run_id)

    def runs(
        self,
        *,
        user_id: str,
        agent_id: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
    ) -> builtins.list[RunRecord]:
        """This user's (and agent's) runs, most recently active first; ``outcome`` keeps one kind
        (``success``, ``failure``, ``partial``, or ``unfinished``)."""
        if outcome is not None and outcome != "unfinished":
            check_outcome(outcome)
        if not 1 <= limit <= 1000:
            raise ValidationError("limit must be between 1 and 1000")
        scope = self._agent_scope(user_id, agent_id)
        found: list[RunRecord] = []
        after: str | None = None
        while len(found) < limit:
            sessions = self.store.list_sessions(scope, after=after, limit=100)
            for session in sessions:
                head = self.store.list_turns(scope, session_id=session.session_id, limit=1)
                if not head or head[0].metadata.get(MEMORY_KIND) != RUN_KIND:
                    continue
                try:
                    run = read_run(self._session(scope, session.session_id), session.session_id)
                except NotFoundError:
                    continue
                if outcome is None or (run.outcome or "unfinished") == outcome:
                    found.append(run)
            if len(sessions) < 100:
                break
            after = sessions[-1].session_id
        return found[:limit]

    def _agent_scope(self, user_id: str, agent_id: str | None) -> UserScope:
        check_id(user_id, "user_id")
        check_id(agent_id, "agent_id", required=False)
        return UserScope(self.tenant, user_id, agent_id)

    def run_context(
        self, run_id: str, *, user_id: str, agent_id: str | None = None, budget_tokens: int = 500
    ) -> RunContext:
        """A run's working memory inside ``budget_tokens``: the open subgoal's steps verbatim, each
        closed subgoal as one line with its outcome (HiAgent; :mod:`engram.read.run_context`)."""
        _check_budget(budget_tokens)
        run = self.get_run(run_id, user_id=user_id, agent_id=agent_id)
        return run_context(run, budget_tokens=budget_tokens, count=self.token_counter.count)

    def experience(
        self,
        goal: str,
        *,
        user_id: str,
        agent_id: str | None = None,
        budget_tokens: int = 800,
        k: int = 5,
        reference_time: datetime | str | float | None = None,
        include_failures: bool = True,
        config: str | RetrievalConfig | None = None,
    ) -> Experience:
        """Past runs useful for ``goal``, best first, with the steps that mattered and the agent's
        lessons, as a budgeted, cited context (STE, GoalfyMax; :mod:`engram.read.experience`).

        Runs are found by the read path's retrieval over their goals and steps and ranked by
        similarity weighted by outcome. Runs still in progress at ``reference_time`` count too.
        ``config`` picks a retrieval recipe (``engram``, ``bm25``, ...) as for ``search``.
        """
        _check_budget(budget_tokens)
        if not 1 <= k <= 100:
            raise ValidationError("k must be between 1 and 100")
        found = self.search(
            goal,
            user_id=user_id,
            agent_id=agent_id,
            k=EXPERIENCE_CANDIDATES,
            filters={"metadata": {MEMORY_KIND: RUN_KIND}},
            reference_time=reference_time,
            config=config,
        )
        scores: dict[str, list[float]] = {}
        for hit in found.hits:
            scores.setdefault(hit.turn.session_id, []).append(hit.score)
        similarity = {run_id: run_similarity(values) for run_id, values in scores.items()}
        best = sorted(similarity, key=lambda run_id: -similarity[run_id])[: k * 3]
        at = parse_timestamp(reference_time, "reference_time") if reference_time is not None else self._clock()
        runs: dict[str, RunRecord] = {}
        for run_id in best:
            try:
                run = self.get_run(run_id, user_id=user_id, agent_id=agent_id)
            except NotFoundError:
                continue
            if include_failures or run.outcome != "failure":
                runs[run_id] = _as_of(run, at)
        ranked = rank_runs(similarity, runs)[:k]
        tools = {step.tool for item in ranked for step in item.run.tool_calls}
        held = self.lessons(user_id=user_id, agent_id=agent_id, as_of=at)
        relevant = [fact for fact in held if any(fact.attribute.startswith(f"lesson:{tool}(") for tool in tools)]
        text, citations, shown = render_experience(
            ranked, relevant, budget_tokens=budget_tokens, count=self.token_counter.count
        )
        return Experience(
            text=text,
            tokens=self.token_counter.count(text),
            budget_tokens=budget_tokens,
            runs=ranked,
            lessons=shown,
            citations=citations,
        )

    def lessons(
        self,
        *,
        user_id: str,
        agent_id: str | None = None,
        as_of: datetime | str | float | None = None,
        include_history: bool = False,
    ) -> builtins.list[FactVersion]:
        """The agent's lessons (facts of kind ``lesson``) that hold at ``as_of`` (default now)."""
        scope = self._agent_scope(user_id, agent_id)
        at = parse_timestamp(as_of, "as_of") if as_of is not None else self._clock()
        versions = self.store.list_facts(scope, include_history=True, include_archived=True)
        return [
            v
            for v in versions
            if v.kind == "lesson"
            and (include_history or (v.true_at(at) and v.archived_at is None))
        ]


def _check_budget(budget_tokens: int) -> None:
    if isinstance(budget_tokens, bool) or not isinstance(budget_tokens, int) or not 1 <= budget_tokens <= MAX_BUDGET_TOKENS:
        raise ValidationError(f"budget_tokens must be an integer between 1 and {MAX_BUDGET_TOKENS:,}")


def _as_of(run: RunRecord, at: datetime) -> RunRecord:
    """The run as it stood at ``at``: events after it are not known yet."""
    if run.finished_at is None or run.finished_at <= at:
        return run
    return replace(
        run,
        steps=tuple(s for s in run.steps if s.timestamp <= at),
        finished_at=None,
        outcome=None,
        score=None,
        cost=None,
        summary=None,
    )
