"""Agent memory as JSON: one form for the CLI's ``--json``, the REST routes and the MCP tools."""

from __future__ import annotations

from typing import Any

from engram.model.fact import FactVersion
from engram.model.run import Experience, RankedRun, RunContext, RunRecord, Step, Subgoal
from engram.model.timeutil import iso_or_none
from engram.model.world import ObservationResult, Sighting, Whereabouts


def step_json(step: Step) -> dict[str, Any]:
    """A step: kind, content, tool call with arguments, result and error, subgoal, turn."""
    return {
        "index": step.index,
        "kind": step.kind,
        "role": step.role,
        "content": step.content,
        "tool": step.tool,
        "args": step.args,
        "result": step.result,
        "error": step.error,
        "ok": step.ok,
        "subgoal_id": step.subgoal_id,
        "timestamp": iso_or_none(step.timestamp),
        "turn_id": step.turn_id,
        "metadata": dict(step.metadata),
    }


def subgoal_json(subgoal: Subgoal) -> dict[str, Any]:
    """A subgoal: title, parent, when it opened and closed, outcome and summary line."""
    return {
        "id": subgoal.id,
        "title": subgoal.title,
        "parent_id": subgoal.parent_id,
        "opened_at": iso_or_none(subgoal.opened_at),
        "closed_at": iso_or_none(subgoal.closed_at),
        "outcome": subgoal.outcome,
        "summary": subgoal.summary,
        "turn_id": subgoal.turn_id,
        "index": subgoal.index,
        "closed_index": subgoal.closed_index,
    }


def run_json(run: RunRecord, *, steps: bool = True) -> dict[str, Any]:
    """A run: goal, outcome, score, cost, subgoals and (unless ``steps`` is false) its steps."""
    return {
        "id": run.id,
        "goal": run.goal,
        "user_id": run.user_id,
        "agent_id": run.agent_id,
        "started_at": iso_or_none(run.started_at),
        "finished_at": iso_or_none(run.finished_at),
        "outcome": run.outcome,
        "score": run.score,
        "cost": run.cost,
        "summary": run.summary,
        "metadata": dict(run.metadata),
        "turn_id": run.turn_id,
        "step_count": len(run.steps),
        "subgoals": [subgoal_json(s) for s in run.subgoals],
        "steps": [step_json(s) for s in run.steps] if steps else [],
    }


def lesson_json(fact: FactVersion) -> dict[str, Any]:
    """A lesson (a fact about the agent): its statement, since when it holds, how often seen."""
    return {
        "id": fact.id,
        "statement": fact.statement,
        "attribute": fact.attribute,
        "value": fact.value,
        "valid_from": iso_or_none(fact.valid_from),
        "valid_to": iso_or_none(fact.valid_to),
        "mentions": fact.mentions,
        "source_turn_ids": list(fact.source_turn_ids),
    }


def ranked_json(item: RankedRun) -> dict[str, Any]:
    """A past run brought back for a new goal, with the steps that mattered."""
    return {
        "ref": item.ref,
        "score": item.score,
        "similarity": item.similarity,
        "run": run_json(item.run, steps=False),
        "key_steps": [step_json(s) for s in item.key_steps],
    }


def experience_json(found: Experience) -> dict[str, Any]:
    """Experience: the text, its size and citations, the ranked runs and the lessons."""
    return {
        "text": found.text,
        "tokens": found.tokens,
        "budget_tokens": found.budget_tokens,
        "citations": found.citations,
        "runs": [ranked_json(r) for r in found.runs],
        "lessons": [lesson_json(f) for f in found.lessons],
    }


def run_context_json(context: RunContext) -> dict[str, Any]:
    """A run's working memory and how it was made."""
    return {
        "text": context.text,
        "tokens": context.tokens,
        "budget_tokens": context.budget_tokens,
        "citations": context.citations,
        "verbatim_steps": context.verbatim_steps,
        "left_out_steps": context.left_out_steps,
        "summarised": context.summarised,
        "trace_tokens": context.trace_tokens,
    }


def world_fact_json(fact: FactVersion) -> dict[str, Any]:
    """A world-state fact: subject, attribute, value, when it held."""
    return {
        "id": fact.id,
        "subject": fact.subject,
        "attribute": fact.attribute,
        "value": fact.value,
        "statement": fact.statement,
        "valid_from": iso_or_none(fact.valid_from),
        "valid_to": iso_or_none(fact.valid_to),
    }


def observation_json(result: ObservationResult) -> dict[str, Any]:
    """What an observation stored."""
    return {"turn_id": result.turn_id, "facts": [world_fact_json(f) for f in result.facts]}


def whereabouts_json(found: Whereabouts) -> dict[str, Any]:
    """Where a subject is, innermost place first."""
    return {"subject": found.subject, "places": found.places, "since": iso_or_none(found.since)}


def sighting_json(sighting: Sighting) -> dict[str, Any]:
    """Something last seen in a place."""
    return {"subject": sighting.subject, "path": sighting.path, "since": iso_or_none(sighting.since)}
