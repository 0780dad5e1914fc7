"""A run's working memory inside a token budget (HiAgent's subgoal-chunked working memory). Pure.

HiAgent keeps, in the prompt of a long task, only the current subgoal's actions and
observations verbatim and replaces each finished subgoal by a summary of it. So does this:

1. the goal (and the outcome, once the run ended);
2. each closed subgoal as one line with its outcome and its summary (made when it closed,
   extractive or by the LLM: :func:`engram.write.lessons.summarise_subgoal`);
3. the open subgoals, outermost first, and the steps of open work verbatim: the newest
   that fit, in order, with a note of how many older ones did not.

The open work comes first: its newest steps take up to :data:`STEP_SHARE` of the budget, the
closed subgoals' lines the rest (the newest first, when they do not all fit: the oldest are
left out with a note), and room still left goes to older steps of the open work. Every line cites
its turn (``S2`` a subgoal, ``#14`` a step), so a 100-step run fits a few hundred tokens and
each line can still be traced back to the lossless record.
"""

from __future__ import annotations

from collections.abc import Callable

from engram.model.run import RunContext, RunRecord, Step, Subgoal

CountTokens = Callable[[str], int]
#: Share of the budget the open work's steps may take before closed subgoals get the rest.
STEP_SHARE = 0.6


def step_line(step: Step) -> str:
    """A step as the working memory shows it: ``[#12] search(q="x") → 3 results``."""
    who = "" if step.kind == "tool_call" else f"{step.role}: "
    return f"[#{step.index}] {who}{step.content}"


def subgoal_line(subgoal: Subgoal) -> str:
    """A closed subgoal in one line, or an open one as a heading."""
    if subgoal.open:
        return f"Now working on [{subgoal.id}] {subgoal.title}"
    return f"[{subgoal.id}] {subgoal.title}: {subgoal.outcome} — {subgoal.summary or ''}".rstrip(" —")


def _fit(line: str, room: int, count: CountTokens) -> str:
    """``line`` cut (by characters, marked …) to fit ``room`` tokens; empty when nothing fits."""
    if count(line) <= room:
        return line
    keep = len(line)
    while keep > 8:
        keep = int(keep * 0.8)
        cut = line[:keep].rstrip() + " …"
        if count(cut) <= room:
            return cut
    return ""


def run_context(run: RunRecord, *, budget_tokens: int, count: CountTokens) -> RunContext:
    """The working memory of ``run`` inside ``budget_tokens`` (see the module docstring)."""
    head = [f"Goal: {run.goal}"]
    if run.outcome is not None:
        extras = "".join(f", {name} {value:g}" for name, value in (("score", run.score), ("cost", run.cost)) if value is not None)
        head.append(f"Outcome: {run.outcome}{extras}" + (f" — {run.summary}" if run.summary else ""))
    closed = [s for s in run.subgoals if not s.open]
    opened = run.open_subgoals
    open_ids = {s.id for s in opened}
    live = [step for step in run.steps if step.subgoal_id is None or step.subgoal_id in open_ids]
    heads = [subgoal_line(s) for s in opened]
    used = count("\n".join(head + heads)) + 1
    citations: dict[str, str] = {}

    # Open work first, in up to STEP_SHARE of the room: the newest steps that fit, shown in order.
    shown: list[tuple[Step, str]] = []
    room = budget_tokens - used - 1
    step_room = int(room * STEP_SHARE)
    for step in reversed(live):
        line = step_line(step)
        cost = count(line) + 1
        if cost > step_room:
            if not shown:  # the newest step is always shown, cut to the room left
                line = _fit(line, room - 8, count)
                if line:
                    shown.insert(0, (step, line))
                    used += count(line) + 1
            break
        shown.insert(0, (step, line))
        step_room -= cost
        used += cost

    # Closed subgoals with what is left: newest kept first when they do not all fit, shown oldest first.
    summary_lines: list[tuple[Subgoal, str]] = []
    for subgoal in reversed(closed):
        line = subgoal_line(subgoal)
        cost = count(line) + 1
        if used + cost > budget_tokens - 12:  # room for the "left out" notes
            break
        used += cost
        summary_lines.insert(0, (subgoal, line))
    dropped_subgoals = len(closed) - len(summary_lines)

    # Room left when the subgoals all fit: more of the open work.
    for step in reversed(live[: len(live) - len(shown)]):
        line = step_line(step)
        cost = count(line) + 1
        if used + cost > budget_tokens - 12:
            break
        shown.insert(0, (step, line))
        used += cost
    dropped_steps = len(live) - len(shown)

    lines = list(head)
    if dropped_subgoals:
        lines.append(f"({dropped_subgoals} earlier subgoals left out)")
    if summary_lines:
        lines.append("Done:")
        for subgoal, line in summary_lines:
            lines.append(line)
            citations[subgoal.id] = subgoal.turn_id
    lines += heads
    if dropped_steps:
        lines.append(f"({dropped_steps} earlier steps left out)")
    for step, line in shown:
        lines.append(line)
        citations[f"#{step.index}"] = step.turn_id
    text = "\n".join(lines)
    while count(text) > budget_tokens and len(lines) > 1:  # the counter is not additive: trim the oldest
        lines.pop(1)
        text = "\n".join(lines)
    trace = "\n".join([f"Goal: {run.goal}", *(step_line(step) for step in run.steps)])
    return RunContext(
        text=text,
        tokens=count(text),
        budget_tokens=budget_tokens,
        citations={ref: tid for ref, tid in citations.items() if f"[{ref}]" in text},
        verbatim_steps=len(shown),
        left_out_steps=dropped_steps,
        summarised=len(summary_lines),
        trace_tokens=count(trace),
    )
