"""Context assembly: facts, working memory and ranked hits, in a prompt that fits a budget.

Pure: token counting is passed in. Layout (each line cites its memory):

    # Memory for <user> (as of 2023-05-08 13:56 UTC)
    ## Known facts (with the dates they held)
    [F1] Caroline lives in Boston (since 2023-01-20)
    ## Current session (most recent turns)
    [W1] 2023-05-08 (Mon) 13:50 Caroline: ...
    ## Relevant memories (oldest first)
    [M1] 2023-01-20 (Fri) 09:12 [session_3] Melanie: I went there yesterday [2023-01-19] ...

Facts come first (at most ``facts_share`` of the budget): the ones retrieval found, then the
profile's. Working memory, the current session's latest turns, follows verbatim, up to
``working_share``. Retrieved turns fill the rest greedily by rank (skipping any that do not
fit) and are shown in chronological order, so the reader sees how things unfolded; relative
time phrases in them carry the date they meant.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime

from engram.model import ContextItem, Hit, Turn
from engram.model.fact import FactVersion
from engram.text.timeexpr import find_time_mentions, format_range

CountTokens = Callable[[str], int]

FACTS_HEADER = "## Known facts (with the dates they held)"
WORKING_HEADER = "## Current session (most recent turns)"
MEMORIES_HEADER = "## Relevant memories (oldest first)"


def format_time(moment: datetime) -> str:
    """``2023-05-08 (Mon) 13:56``: the date, weekday and time a reader needs for time questions."""
    return moment.strftime("%Y-%m-%d (%a) %H:%M")


@functools.lru_cache(maxsize=20_000)
def resolve_dates(text: str, said_at: datetime) -> str:
    """Annotate relative time phrases with the dates they meant: "yesterday [2023-05-07]".

    Cached: the same candidate turns come back question after question.
    """
    mentions = find_time_mentions(text, said_at)
    for mention in reversed(mentions):
        if mention.granularity == "span":
            continue
        text = f"{text[: mention.end]} [{format_range(mention)}]{text[mention.end :]}"
    return text


def format_turn(ref: str, turn: Turn, *, with_session: bool) -> str:
    """One context line: citation, time, optional session, speaker and text."""
    session = f" [{turn.session_id}]" if with_session else ""
    text = resolve_dates(" ".join(turn.content.split()), turn.timestamp)
    return f"[{ref}] {format_time(turn.timestamp)}{session} {turn.speaker}: {text}"


def format_fact(ref: str, fact: FactVersion) -> str:
    """One fact line with the span it held: "since 2024-04-20" or "2024-01-14 to 2024-04-20"."""
    since = fact.valid_from.strftime("%Y-%m-%d")
    span = f"{since} to {fact.valid_to:%Y-%m-%d}" if fact.valid_to else f"since {since}"
    return f"[{ref}] {fact.statement} ({span})"


def assemble_context(
    *,
    user_id: str,
    working: Sequence[Turn],
    ranked: Sequence[Hit],
    budget_tokens: int,
    count: CountTokens,
    reference_time: datetime,
    working_share: float = 0.5,
    facts: Sequence[FactVersion] = (),
    facts_share: float = 0.15,
) -> tuple[str, int, list[ContextItem], list[tuple[Turn, str]], list[tuple[str, FactVersion]]]:
    """Build the context text.

    Args:
        user_id: whose memory it is (named in the title line).
        working: the current session's latest turns, newest first.
        ranked: retrieved hits, best first.
        budget_tokens: the most tokens the text may have.
        count: counts tokens in a string.
        reference_time: when the question is asked.
        working_share: the largest part of the budget working memory may take.
        facts: facts to show, most relevant first.
        facts_share: the largest part of the budget facts may take.

    Returns:
        ``(text, tokens, items, left_out, fact_refs)``; ``left_out`` pairs each retrieved turn
        that was not placed with the reason; ``fact_refs`` pairs each shown fact with its ref.
    """
    title = f"# Memory for {user_id} (as of {reference_time.strftime('%Y-%m-%d %H:%M')} UTC)"
    used = count(title)
    if used > budget_tokens:
        return "", 0, [], [(hit.turn, "budget too small for any memory") for hit in ranked], []

    fact_lines: list[tuple[str, FactVersion]] = []
    if facts:
        room = int(budget_tokens * facts_share) - count(FACTS_HEADER)
        for fact in facts:
            line = format_fact(f"F{len(fact_lines) + 1}", fact)
            cost = count(line)
            if cost > room:
                break
            fact_lines.append((line, fact))
            room -= cost
        if fact_lines:
            used += count(FACTS_HEADER) + sum(count(line) for line, _ in fact_lines)

    # Working memory: a contiguous window of the newest turns, shown oldest first.
    window: list[tuple[Turn, str, int]] = []
    working_budget = int(budget_tokens * working_share)
    header_cost = count(WORKING_HEADER)
    if working and used + header_cost < budget_tokens:
        spent = header_cost
        for turn in working:
            line = format_turn("W", turn, with_session=False)
            cost = count(line) + 1  # the ref number adds about one token
            if spent + cost > working_budget:
                break
            window.append((turn, line, cost))
            spent += cost
        if window:
            used += spent
    window.reverse()
    shown = {turn.id for turn, _, _ in window}

    # Retrieved memories: greedy by rank, skipping what does not fit.
    chosen: list[tuple[Hit, int]] = []
    left_out: list[tuple[Turn, str]] = []
    header_cost = count(MEMORIES_HEADER)
    room = budget_tokens - used - header_cost
    for hit in ranked:
        if hit.turn.id in shown:
            left_out.append((hit.turn, "already in working memory"))
            continue
        cost = count(format_turn("M", hit.turn, with_session=True)) + 1
        if cost > room:
            left_out.append((hit.turn, "did not fit in the token budget"))
            continue
        chosen.append((hit, cost))
        shown.add(hit.turn.id)
        room -= cost
    if chosen:
        used += header_cost + sum(cost for _, cost in chosen)
    chosen.sort(key=lambda pair: (pair[0].turn.timestamp, pair[0].turn.seq))

    lines = [title]
    items: list[ContextItem] = []
    if fact_lines:
        lines.append(FACTS_HEADER)
        lines += [line for line, _ in fact_lines]
    if window:
        lines.append(WORKING_HEADER)
        for number, (turn, _, cost) in enumerate(window, start=1):
            ref = f"W{number}"
            lines.append(format_turn(ref, turn, with_session=False))
            items.append(ContextItem(ref, turn, "working_memory", cost))
    if chosen:
        lines.append(MEMORIES_HEADER)
        for number, (hit, cost) in enumerate(chosen, start=1):
            ref = f"M{number}"
            lines.append(format_turn(ref, hit.turn, with_session=True))
            items.append(ContextItem(ref, hit.turn, "memories", cost, hit.score))
    text = "\n".join(lines)
    tokens = count(text)
    while tokens > budget_tokens and items:  # counts are not exactly additive
        dropped = items.pop()
        left_out.append((dropped.turn, "did not fit in the token budget"))
        lines.pop()
        if lines[-1] in (WORKING_HEADER, MEMORIES_HEADER):
            lines.pop()
        text = "\n".join(lines)
        tokens = count(text)
    refs = [(f"F{number}", fact) for number, (_, fact) in enumerate(fact_lines, start=1)]
    return text, tokens, items, left_out, refs
