"""Questions about several things at once, split into the parts each piece of evidence answers.

"How many days between the sprint deadline for the MVP backend and the deadline I set for
OAuth?" needs two turns, each saying one half. Searched whole, the turns that match one half
best (often several about the same deadline) fill the top ranks, and the other half's turn
falls below them. Each part of a list or a pair ("A and B", "A, B, and C") is embedded and
searched by meaning on its own as well, and its ranking fused in
(:func:`~engram.read.retrieve.retrieve`), so that each part's best turns reach the top. Only
by meaning: a part's own full-text ranking lost on BEAM (its words are mostly the question's,
which full text already weighs), and cost a search each. Pure: the caller embeds and searches.
"""

from __future__ import annotations

import re

from engram.read.query import query_terms

#: What joins the parts of a question: "and", or a comma of a list.
_JOINS = re.compile(r",? and |, ")

#: Most parts searched for one question (each costs an embedding and a vector search).
MAX_ASPECTS = 4

#: Fewest content words a part needs to be searched on its own ("Jest and Cypress" is one
#: thing named twice, not two parts).
MIN_TERMS = 2


def question_aspects(question: str) -> list[str]:
    """The parts of ``question`` joined by "and" or a list's commas, each with at least
    :data:`MIN_TERMS` content words, at most :data:`MAX_ASPECTS`; none when fewer than two."""
    parts = [part.strip() for part in _JOINS.split(question.strip().rstrip("?.!"))]
    parts = [part for part in parts if len(query_terms(part)) >= MIN_TERMS][:MAX_ASPECTS]
    return parts if len(parts) >= 2 else []
