"""Sets of query terms for full-text search's MaxScore pruning (:mod:`engram.store.sqlite.fulltext`).

Each term adds at most a known bound to a turn's bm25 score. For a floor, the minimal sets
of terms whose bounds add up to it are what a turn must hold to reach it; an FTS5 query for
the turns holding one of them gives the candidates worth scoring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: The text columns searched (the scope token's column is left out).
TEXT_COLUMNS = "{content name keys}"
#: Most term sets in a candidate query (beyond, every term alone: no pruning).
MAX_TERM_SETS = 64
#: Candidates per row asked for that a first pass may score: above, the floor is raised
#: (scoring a candidate costs about as much as walking 40 rows of a term's posting list, and
#: a second pass walks them again).
PROBE_CANDIDATES = 25
#: How much each step raises the first floor.
PROBE_STEP = 1.15


def sufficient_sets(bounds: dict[str, float], floor: float) -> list[list[str]]:
    """The smallest sets of terms whose ``bounds`` add up to ``floor``: a turn holding none of
    them scores below it. Each term alone whose bound reaches ``floor``, then the minimal
    pairs, triples... of the others; every term alone when the sets would be too many.
    """
    alone = [term for term, bound in bounds.items() if bound >= floor]
    light = sorted((term for term in bounds if term not in alone), key=lambda term: -bounds[term])
    rest = [sum(bounds[term] for term in light[i:]) for i in range(len(light) + 1)]  # bounds from i on
    sets: list[list[str]] = [[term] for term in alone]
    steps = [0]

    def extend(chosen: list[str], total: float, start: int) -> bool:
        for i in range(start, len(light)):
            steps[0] += 1
            if steps[0] > 16 * MAX_TERM_SETS or len(sets) > MAX_TERM_SETS:
                return False
            if total + rest[i] < floor:
                return True  # no set from here on reaches it
            term = light[i]
            if total + bounds[term] >= floor:
                sets.append([*chosen, term])
            elif not extend([*chosen, term], total + bounds[term], i + 1):
                return False
        return True

    return sets if extend([], 0.0, 0) else [[term] for term in bounds]


def first_floor(bounds: dict[str, float], counts: dict[str, int], rows: int, floor: float, budget: float) -> float:
    """The floor of a first pass: ``floor``, raised step by step while the turns holding a
    sufficient set would be more than ``budget`` (estimated from the terms' ``counts`` among
    ``rows``, as if the terms fell independently). A floor too high costs a second pass at the
    score found; too low, scoring every candidate: the first floor only picks the work, never
    the ranking."""
    top = sum(bounds.values())
    while 0.0 < floor < top:
        sets = sufficient_sets(bounds, floor)
        if sum(rows * math.prod(counts.get(term, 0) / max(rows, 1) for term in group) for group in sets) <= budget:
            break
        floor *= PROBE_STEP
    return min(floor, top)


def any_set(sets: Sequence[Sequence[str]]) -> str:
    """An FTS5 query for rows holding every term of one of ``sets``, in the text columns."""
    groups = [" AND ".join('"' + term.replace('"', '""') + '"' for term in group) for group in sets]
    return f"{TEXT_COLUMNS} : ({' OR '.join(f'({group})' for group in groups)})"
