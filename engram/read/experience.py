"""Experience for a new goal: past runs ranked and cited inside a budget (STE, GoalfyMax). Pure.

STE's agents improve by recalling which tool calls worked for a similar query before;
GoalfyMax's Experience Pack keeps, per task, the trajectory that solved it. Engram finds the
runs by the read path's own retrieval over the runs' turns (goal and steps alike: a past run
whose steps mention the same place or tool is similar even when its goal is worded
differently), then:

* **rank**: each run's similarity is the sum of its best turns' fused scores (so a run
  matching in its goal and in several steps beats one stray matching turn), relative to the
  best run, weighted by the outcome: a success is the most useful precedent, a partial one
  less, a failure least (still shown: it says what not to do); newer first on ties;
* **cite the steps that mattered**: a run's successful tool calls, and for a failed run the
  failure that ended it;
* **lessons** first: the agent's current lessons (facts of kind ``lesson``) about the tools
  those runs used;
* **budget**: lessons take at most a quarter; then runs in rank order, each with as many of its
  key steps as fit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from engram.model.fact import FactVersion
from engram.model.run import RankedRun, RunRecord, Step

CountTokens = Callable[[str], int]

#: How much a run's outcome makes it a useful precedent.
OUTCOME_WEIGHT = {"success": 1.0, "partial": 0.75, None: 0.6, "failure": 0.5}
#: The turns of a run whose scores add up to its similarity.
TOP_TURNS = 3
#: Most key steps shown per run.
KEY_STEPS = 6
#: Longest step shown, in characters.
STEP_CHARS = 240
#: Share of the budget lessons may take.
LESSON_SHARE = 0.25


def key_steps(run: RunRecord) -> tuple[Step, ...]:
    """The steps that mattered: successful tool calls, and the failure that ended a failed run."""
    calls = run.tool_calls
    chosen = [step for step in calls if step.ok]
    if run.outcome == "failure":
        failures = [step for step in calls if step.ok is False]
        if failures:
            chosen.append(failures[-1])
    if not chosen:
        chosen = list(run.steps[-2:])
    chosen.sort(key=lambda step: step.index)
    return tuple(chosen[-KEY_STEPS:])


def run_similarity(turn_scores: Sequence[float]) -> float:
    """A run's similarity from the fused scores of its retrieved turns: the sum of the best few."""
    return sum(sorted(turn_scores, reverse=True)[:TOP_TURNS])


def rank_runs(similarity: Mapping[str, float], runs: Mapping[str, RunRecord]) -> list[RankedRun]:
    """Runs ranked by similarity (relative to the best) weighted by outcome; newest first on ties."""
    best = max((similarity.get(run_id, 0.0) for run_id in runs), default=0.0) or 1.0
    scored = [
        (similarity.get(run_id, 0.0) / best * OUTCOME_WEIGHT.get(run.outcome, 0.6), similarity.get(run_id, 0.0) / best, run)
        for run_id, run in runs.items()
    ]
    scored.sort(key=lambda item: (-item[0], -item[2].started_at.timestamp()))
    return [
        RankedRun(run=run, score=round(score, 6), similarity=round(sim, 6), key_steps=key_steps(run), ref=f"R{rank}")
        for rank, (score, sim, run) in enumerate(scored, start=1)
    ]


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= STEP_CHARS else text[: STEP_CHARS - 1] + "…"


def run_header(ranked: RankedRun) -> str:
    """``[R1] 2024-06-01 success (score 0.9): goal``."""
    run = ranked.run
    extras = ", ".join(f"{name} {value:g}" for name, value in (("score", run.score), ("cost", run.cost)) if value is not None)
    outcome = run.outcome or "unfinished"
    return f"[{ranked.ref}] {run.started_at:%Y-%m-%d} {outcome}{f' ({extras})' if extras else ''}: {_clip(run.goal)}"


def render_experience(
    ranked: Sequence[RankedRun], lessons: Sequence[FactVersion], *, budget_tokens: int, count: CountTokens
) -> tuple[str, dict[str, str], list[FactVersion]]:
    """The text inside ``budget_tokens``, its citations (``L1`` lesson, ``R1`` run, ``R1.4`` step)
    and the lessons it shows."""
    lines: list[str] = []
    citations: dict[str, str] = {}
    used = 0
    shown_lessons: list[FactVersion] = []
    lesson_room = int(budget_tokens * LESSON_SHARE)
    for number, fact in enumerate(lessons, start=1):
        line = f"[L{number}] {fact.statement}" + (f" (seen in {fact.mentions} runs)" if fact.mentions > 1 else "")
        cost = count(line) + 1 + (0 if shown_lessons else count("Lessons:") + 1)
        if used + cost > lesson_room:
            break
        if not shown_lessons:
            lines.append("Lessons:")
        lines.append(line)
        citations[f"L{number}"] = fact.id
        shown_lessons.append(fact)
        used += cost
    if ranked:
        title = "Past runs, most useful first:"
        used += count(title) + 1
        lines.append(title)
    for item in ranked:
        header = run_header(item)
        cost = count(header) + 1
        if used + cost > budget_tokens:
            break
        lines.append(header)
        citations[item.ref] = item.run.turn_id
        used += cost
        for step in item.key_steps:
            ref = f"{item.ref}.{step.index}"
            line = f"  [{ref}] {_clip(step.content)}"
            cost = count(line) + 1
            if used + cost > budget_tokens:
                break
            lines.append(line)
            citations[ref] = step.turn_id
            used += cost
    text = "\n".join(lines)
    while lines and count(text) > budget_tokens:  # the counter is not additive: drop from the end
        lines.pop()
        text = "\n".join(lines)
    return text, {ref: mid for ref, mid in citations.items() if f"[{ref}]" in text}, shown_lessons
