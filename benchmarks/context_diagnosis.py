"""Why evidence that retrieval ranks well is not inside a budgeted context (issue 11).

For every question whose gold turns are all in the search's top ``k`` but not all in
``Memory.context(question, budget_tokens=N)``, each missing gold turn is given one cause, the
first that holds:

- ``not offered``: the context's own candidate list (its search, neighbours and fill) never
  held the turn;
- ``too long alone``: its line (excerpt included) is longer than the budget left after the
  title and facts, so it could not fit whatever else was chosen;
- ``neighbours``: turns pulled in around stronger hits, placed before it, cost more than it
  lacked;
- ``facts``: the facts section cost more than it lacked;
- ``headers``: the title and the section and session headers cost more than it lacked;
- ``ranked above``: the turns ranked above it (direct hits) used the budget.

It is run from ``retrieval_lab.py diagnose``; the context's candidate list is read by wrapping
the assembly function the context calls (a diagnosis, not an API).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import engram.read.context as context_module
from engram import Memory
from engram.model import Hit
from engram.read.assemble import MEMORIES_HEADER, format_memory, session_header

CAUSES = ("not offered", "too long alone", "neighbours", "facts", "headers", "ranked above")


class Capture:
    """Wraps the context's assembly and keeps the arguments of its last call."""

    def __init__(self) -> None:
        self.last: dict[str, Any] = {}
        self._original = context_module.assemble_context

    def __enter__(self) -> Capture:
        def spy(**kwargs: Any) -> Any:
            self.last = kwargs
            return self._original(**kwargs)

        context_module.assemble_context = spy  # type: ignore[assignment]
        return self

    def __exit__(self, *_: object) -> None:
        context_module.assemble_context = self._original


def causes(
    memory: Memory,
    capture: Capture,
    context_kwargs: Mapping[str, Any],
    gold_turns: set[str],
    count: Callable[[str], int],
) -> list[str]:
    """The cause for each gold turn id (store ids) the context leaves out (see module docstring)."""
    result = memory.context(**context_kwargs)
    shown = set(result.turn_ids)
    missing = [turn for turn in gold_turns if turn not in shown]
    if not missing:
        return []
    call = capture.last
    ranked: list[Hit] = list(call["ranked"])
    shorten = call.get("shorten")
    budget = call["budget_tokens"]
    text = result.text
    lines = text.split("\n")
    fact_tokens = sum(count(line) for line in lines if line.startswith("[F")) + (
        count(lines[1]) if len(lines) > 1 and lines[1].startswith("## Known facts") else 0
    )
    header_tokens = count(lines[0]) + sum(count(line) for line in lines[1:] if line.startswith("#"))
    placed = {item.turn.id for item in result.items}
    position = {hit.turn.id: rank for rank, hit in enumerate(ranked)}
    out: list[str] = []
    for turn_id in missing:
        if turn_id not in position:
            out.append("not offered")
            continue
        hit = ranked[position[turn_id]]
        excerpt = shorten(hit) if shorten is not None else None
        cost = count(format_memory("M", hit.turn, hit.turn.timestamp, excerpt)) + 1 + count(session_header(hit.turn))
        alone = budget - count(lines[0]) - fact_tokens - count(MEMORIES_HEADER)
        if cost > alone:
            out.append("too long alone")
            continue
        above = ranked[: position[turn_id]]
        spent = {"neighbours": 0, "ranked above": 0}
        for other in above:
            if other.turn.id not in placed:
                continue
            other_text = shorten(other) if shorten is not None else None
            other_cost = count(format_memory("M", other.turn, other.turn.timestamp, other_text)) + 1
            spent["neighbours" if "neighbour_of_rank" in other.signals else "ranked above"] += other_cost
        lacked = cost - max(0, budget - result.tokens)
        if spent["neighbours"] >= lacked:
            out.append("neighbours")
        elif fact_tokens >= lacked:
            out.append("facts")
        elif header_tokens >= lacked:
            out.append("headers")
        else:
            out.append("ranked above")
    return out


def summary(rows: list[dict[str, Any]]) -> str:
    """A table of cause counts (one per gold turn left out) per data set, budget and how deep
    the search ranked the gold turns; ``questions`` asked, ``left out``: those missing one."""
    lines = ["| set | budget | gold in top | questions | left out | " + " | ".join(CAUSES) + " |"]
    lines.append("|---|---|---|---|---|" + "---|" * len(CAUSES))
    groups: dict[tuple[str, int, int], Counter[str]] = {}
    missed: Counter[tuple[str, int, int]] = Counter()
    asked: Counter[tuple[str, int, int]] = Counter()
    for row in rows:
        key = (row["bench"], row["budget"], row["k"])
        groups.setdefault(key, Counter()).update(row["causes"])
        missed[key] += bool(row["causes"])
        asked[key] += 1
    for key, counter in groups.items():
        cells = " | ".join(str(counter.get(cause, 0)) for cause in CAUSES)
        top = "10" if key[2] <= 10 else f"11-{key[2]}"
        lines.append(f"| {key[0]} | {key[1]} | {top} | {asked[key]} | {missed[key]} | {cells} |")
    return "\n".join(lines)
