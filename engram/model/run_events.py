"""A run's events as chat messages, and a run's turns back as a :class:`RunRecord`. Pure.

Each event is one message whose metadata holds the event exactly (``run``), with two flat
keys a search filter can match (``memory_kind: "run"``, ``run_event``) and the run id. The
message's content is a readable rendering that the full-text index and the embedder see
("search_flights(origin="SFO") → error: timeout"). A tool's text result is kept in the
content itself (the metadata records where it starts), so a result may be as long as a
message; any other result is kept in the metadata. Message ids are ``<run id>#<event
number>``, so recording the same event again stores nothing new.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from engram.errors import NotFoundError, ValidationError
from engram.model.run import (
    MEMORY_KIND,
    OUTCOMES,
    RUN_KIND,
    STEP_KINDS,
    Outcome,
    RunRecord,
    Step,
    StepKind,
    Subgoal,
)
from engram.model.turn import Turn

#: Longest rendering of a tool call's arguments in the content (the metadata keeps them whole).
ARGS_CHARS = 400


def check_outcome(value: object, what: str = "outcome") -> Outcome:
    """Validate an outcome: one of :data:`OUTCOMES`."""
    if value not in OUTCOMES:
        raise ValidationError(f"{what} {value!r} is not one of {', '.join(OUTCOMES)}")
    return cast(Outcome, value)


def check_number(value: object, what: str) -> float | None:
    """Validate an optional finite number (a score, a cost)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"{what} must be a finite number, not {value!r}")
    return float(value)


def render_args(args: Any) -> str:
    """A call's arguments as they would be written: ``origin="SFO", date="2024-06-01"``."""
    if args is None:
        return ""
    if isinstance(args, Mapping):
        text = ", ".join(f"{key}={json.dumps(value, ensure_ascii=False, default=str)}" for key, value in args.items())
    else:
        text = json.dumps(args, ensure_ascii=False, default=str)
    return text if len(text) <= ARGS_CHARS else text[: ARGS_CHARS - 1] + "…"


def _message(
    run_id: str, index: int, event: str, role: str, content: str, data: Mapping[str, Any], timestamp: datetime | None
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": role,
        "content": content,
        "id": f"{run_id}#{index}",
        "metadata": {MEMORY_KIND: RUN_KIND, "run_id": run_id, "run_event": event, "run": {"index": index, **data}},
    }
    if timestamp is not None:
        message["timestamp"] = timestamp
    return message


def start_message(
    run_id: str, goal: str, *, metadata: Mapping[str, Any] | None = None, timestamp: datetime | None = None
) -> dict[str, Any]:
    """The message that opens a run: its goal."""
    return _message(run_id, 0, "start", "system", goal, {"goal": goal, "metadata": dict(metadata or {})}, timestamp)


def step_message(
    run_id: str,
    index: int,
    *,
    kind: StepKind,
    role: str,
    content: str | None,
    subgoal_id: str | None,
    tool: str | None = None,
    args: Any = None,
    result: Any = None,
    error: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The message of one step. A tool call's content is rendered from its call and result
    unless ``content`` is given."""
    if kind not in STEP_KINDS:
        raise ValidationError(f"step kind {kind!r} is not one of {', '.join(STEP_KINDS)}")
    data: dict[str, Any] = {"kind": kind, "subgoal": subgoal_id, "metadata": dict(metadata or {})}
    if kind == "tool_call":
        if not tool or not isinstance(tool, str):
            raise ValidationError("a tool call needs the tool's name")
        data.update(tool=tool, args=args, error=error)
        if content is None:
            head = f"{tool}({render_args(args)}) → " + (f"error: {error}" if error is not None else "")
            if isinstance(result, str) and result.strip():
                content, data["result_at"] = head + result, len(head)
            else:
                data["result"] = result
                content = head + ("" if result is None else json.dumps(result, ensure_ascii=False, default=str))
        else:
            data["result"] = result
        content = content if content.strip() else f"{tool}()"
    elif content is None:
        raise ValidationError(f"a {kind} step needs content")
    return _message(run_id, index, "step", role, content, data, timestamp)


def subgoal_message(
    run_id: str, index: int, subgoal_id: str, title: str, *, parent_id: str | None, timestamp: datetime | None = None
) -> dict[str, Any]:
    """The message that opens a subgoal."""
    data = {"subgoal": subgoal_id, "title": title, "parent": parent_id}
    return _message(run_id, index, "subgoal", "assistant", f"Subgoal {subgoal_id}: {title}", data, timestamp)


def subgoal_done_message(
    run_id: str,
    index: int,
    subgoal: Subgoal,
    outcome: Outcome,
    summary: str,
    *,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The message that closes a subgoal, with the one line that stands for it from now on."""
    data = {"subgoal": subgoal.id, "outcome": outcome, "summary": summary}
    content = f"Subgoal {subgoal.id} {outcome}: {subgoal.title}. {summary}"
    return _message(run_id, index, "subgoal_done", "assistant", content, data, timestamp)


def finish_message(
    run_id: str,
    index: int,
    goal: str,
    outcome: Outcome,
    *,
    score: float | None,
    cost: float | None,
    summary: str | None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The message that ends a run with its outcome."""
    extras = ", ".join(f"{name} {value:g}" for name, value in (("score", score), ("cost", cost)) if value is not None)
    content = f"Run {outcome}{f' ({extras})' if extras else ''}: {goal}" + (f". {summary}" if summary else "")
    data = {"outcome": outcome, "score": score, "cost": cost, "summary": summary}
    return _message(run_id, index, "finish", "assistant", content, data, timestamp)


def run_event(turn: Turn) -> Mapping[str, Any] | None:
    """The run event a turn holds, or ``None`` for a turn that is not part of a run."""
    meta = turn.metadata
    if meta.get(MEMORY_KIND) != RUN_KIND or not isinstance(meta.get("run"), Mapping):
        return None
    return cast(Mapping[str, Any], meta["run"])


def read_run(turns: Sequence[Turn], run_id: str) -> RunRecord:
    """The run that ``turns`` (a run's session, in any order) record.

    Raises:
        NotFoundError: no turn opens run ``run_id``.
    """
    events = sorted(
        ((event, turn) for turn in turns if (event := run_event(turn)) is not None and turn.metadata.get("run_id") == run_id),
        key=lambda pair: (int(pair[0].get("index", 0)), pair[1].seq),
    )
    if not events or events[0][1].metadata.get("run_event") != "start":
        raise NotFoundError(f"no run {run_id!r}")
    first, opening = events[0]
    record = RunRecord(
        id=run_id,
        goal=str(first.get("goal", opening.content)),
        user_id=opening.scope.user_id,
        agent_id=opening.scope.agent_id,
        started_at=opening.timestamp,
        turn_id=opening.id,
        metadata=dict(first.get("metadata") or {}),
        events=len(events),
    )
    steps: list[Step] = []
    subgoals: dict[str, Subgoal] = {}
    for event, turn in events[1:]:
        kind = turn.metadata.get("run_event")
        if kind == "step":
            steps.append(step_from_turn(event, turn))
        elif kind == "subgoal":
            sid = str(event["subgoal"])
            subgoals[sid] = Subgoal(
                id=sid,
                title=str(event.get("title", "")),
                opened_at=turn.timestamp,
                turn_id=turn.id,
                parent_id=event.get("parent"),
                index=int(event.get("index", 0)),
            )
        elif kind == "subgoal_done" and str(event.get("subgoal")) in subgoals:
            sid = str(event["subgoal"])
            subgoals[sid] = replace(
                subgoals[sid],
                closed_at=turn.timestamp,
                outcome=event.get("outcome"),
                summary=event.get("summary"),
                closed_index=int(event.get("index", 0)),
            )
        elif kind == "finish":
            record = replace(
                record,
                finished_at=turn.timestamp,
                outcome=event.get("outcome"),
                score=event.get("score"),
                cost=event.get("cost"),
                summary=event.get("summary"),
            )
    return replace(record, steps=tuple(steps), subgoals=tuple(subgoals.values()))


def step_from_turn(event: Mapping[str, Any], turn: Turn) -> Step:
    """The step a ``step`` event's turn holds."""
    result = event.get("result")
    if "result_at" in event:
        result = turn.content[int(event["result_at"]) :]
    return Step(
        index=int(event.get("index", 0)),
        kind=cast(StepKind, event.get("kind", "message")),
        role=turn.role,
        content=turn.content,
        turn_id=turn.id,
        timestamp=turn.timestamp,
        subgoal_id=event.get("subgoal"),
        tool=event.get("tool"),
        args=event.get("args"),
        result=result,
        error=event.get("error"),
        metadata=dict(event.get("metadata") or {}),
    )
