"""What a finished run teaches: subgoal summaries (HiAgent) and tool lessons (STE, GoalfyMax).

Pure, LLM-free by default.

* **Subgoal summaries** (HiAgent's working-memory chunks): when a subgoal closes, its steps
  are replaced in a run's working memory by one line with its outcome. The extractive line
  is the step that decided it: the last successful tool call of a subgoal that succeeded, the
  last error of one that failed, else its last step. :func:`summarise_subgoal` asks the
  configured LLM instead, and falls back to the extractive line when the LLM fails.
* **Lessons** (STE's trial-and-error memory, GoalfyMax's experience pack): a tool call that
  failed, followed in the same run by a successful call that did what it could not (another
  tool, or the same tool with other arguments), becomes the lesson "X(args) fails with E;
  use Y(args2)". A failure nothing fixed becomes "X(args) fails with E". Lessons are facts
  about the agent (subject: the agent id, kind ``lesson``, one slot per failing call), so
  they are versioned like every other fact: the same lesson learned in another run
  reinforces it, a different fix supersedes it, and a later success of the very call that
  failed ends it (the lesson no longer holds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engram.errors import ProviderError
from engram.model.fact import FactVersion
from engram.model.run import Outcome, RunRecord, Step
from engram.model.run_events import render_args
from engram.providers.llm import LLM
from engram.write.reconcile import Candidate

#: Longest extractive summary line, in characters.
SUMMARY_CHARS = 200
#: Longest attribute of a lesson's slot (the failing call), in characters.
LESSON_KEY_CHARS = 160
#: Confidence of a rule-made lesson (grows as other runs teach it again).
LESSON_CONFIDENCE = 0.7
#: Subject of lessons learned by a run with no agent id.
NO_AGENT = "agent"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def call_text(step: Step) -> str:
    """A tool call as written: ``search(q="paris")``."""
    return f"{step.tool}({render_args(step.args)})"


def extractive_summary(steps: Sequence[Step], outcome: Outcome) -> str:
    """The one line that stands for a closed subgoal's ``steps`` (see the module docstring)."""
    if not steps:
        return "no steps"
    calls = [s for s in steps if s.kind == "tool_call"]
    worked = [s for s in calls if s.ok]
    failed = [s for s in calls if s.ok is False]
    if outcome != "failure" and worked:
        decisive = worked[-1]
    elif outcome == "failure" and failed:
        decisive = failed[-1]
    else:
        decisive = steps[-1]
    tried = f" after {len(calls)} tool calls" if len(calls) > 1 else ""
    return _clip(decisive.content, SUMMARY_CHARS) + tried


def summarise_subgoal(title: str, steps: Sequence[Step], outcome: Outcome, llm: LLM | None) -> str:
    """One line for a closed subgoal: the LLM's when one is configured, else extractive."""
    fallback = extractive_summary(steps, outcome)
    if llm is None or not steps:
        return fallback
    trace = "\n".join(_clip(step.content, 400) for step in steps[-30:])
    prompt = [
        {
            "role": "system",
            "content": "Summarise what an agent did for a subgoal in ONE short line: what worked or "
            "what failed and why, with the key values. No preamble.",
        },
        {"role": "user", "content": f"Subgoal: {title}\nOutcome: {outcome}\nSteps:\n{trace}"},
    ]
    try:
        line = llm.complete_text(prompt, max_tokens=80)
    except ProviderError:
        return fallback
    line = _clip(line, SUMMARY_CHARS)
    return line or fallback


def lesson_candidates(run: RunRecord, tenant: str, held: Mapping[str, FactVersion] | None = None) -> list[Candidate]:
    """The lessons a run teaches, as fact candidates about its agent (see the module docstring).

    ``held`` maps a lesson's attribute (the failing call) to the lesson that holds now: a
    failure this run did not fix says again what that lesson says (it reinforces it, keeping
    the fix another run found), rather than replacing it with "fails".
    """
    held = held or {}
    subject = run.agent_id or NO_AGENT
    calls = run.tool_calls
    out: list[Candidate] = []
    for position, step in enumerate(calls):
        key = _clip(f"lesson:{call_text(step)}", LESSON_KEY_CHARS)
        if step.ok:
            # The call works now: whatever lesson said it fails no longer holds.
            out.append(_candidate(run, tenant, subject, key, "", "", step, ends=True))
            continue
        later = calls[position + 1 :]
        if any(s.ok and s.tool == step.tool and s.args == step.args for s in later):
            continue  # the same call worked on a retry: a transient error teaches nothing
        fix = next((s for s in later if s.ok and (s.tool != step.tool or s.args != step.args)), None)
        failure = f"{call_text(step)} fails with {_clip(step.error or 'an error', 120)!r}"
        if fix is not None:
            value, statement = f"use {call_text(fix)}", f"{failure}; use {call_text(fix)} instead"
        elif key in held and held[key].value != "fails":
            value, statement = held[key].value, held[key].statement.removeprefix(f"{subject}: ")
        else:
            value, statement = "fails", failure
        out.append(_candidate(run, tenant, subject, key, value, statement, step, ends=False))
    return out


def _candidate(
    run: RunRecord, tenant: str, subject: str, key: str, value: str, statement: str, step: Step, *, ends: bool
) -> Candidate:
    return Candidate(
        tenant=tenant,
        user_id=run.user_id,
        agent_id=run.agent_id,
        subject=subject,
        attribute=key,
        value=value,
        statement=f"{subject}: {statement}" if statement else "",
        kind="lesson",
        multi=False,
        valid_from=step.timestamp,
        confidence=LESSON_CONFIDENCE,
        source="rules",
        source_turn_id=step.turn_id,
        importance=0.9,
        ends=ends,
    )
