"""Context assembly: facts, working memory and ranked hits, in a prompt that fits a budget.

Pure: token counting is passed in. Layout (each line cites its memory):

    # Memory for <user> (as of 2023-05-08 13:56 UTC)
    ## Known facts (with the dates they held)
    [F1] Caroline lives in Boston (since 2023-01-20)
    ## Current session (most recent turns)
    [W1] Mon 8 May 2023, 13:50 Caroline: ...
    ## Relevant memories (oldest first)
    ### Fri 20 Jan 2023, 09:12
    [M1] Melanie: I went there yesterday [2023-01-19] ...
    [M2] 09:40 Caroline: ...

Facts come first (at most ``facts_share`` of the budget): the ones retrieval found, then the
profile's; a fact whose slot never held another value, whose every source turn is shown
among the memories, that still holds and that no later memory contradicts, is left out (it
only repeats those dated turns) and its room goes to the next memories. Working memory, the
current session's latest turns, follows verbatim, up to ``working_share``. Retrieved turns fill the rest greedily by rank (skipping any that do not
fit; a long turn may be shown as an excerpt, see ``shorten``) and are shown in chronological
order, grouped under one dated header per session, so the reader sees how things unfolded
and the budget goes to what was said rather than to repeated dates (a turn carries its own
time only where it differs from the line before). Relative time phrases carry the date they
meant (a phrase that names its year is left as written).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from engram.model import ContextItem, Hit, Turn
from engram.model.fact import FactVersion
from engram.text.timeexpr import find_time_mentions, format_range

CountTokens = Callable[[str], int]

FACTS_HEADER = "## Known facts (with the dates they held)"
WORKING_HEADER = "## Current session (most recent turns)"
MEMORIES_HEADER = "## Relevant memories (oldest first)"


@functools.lru_cache(maxsize=20_000)
def format_time(moment: datetime) -> str:
    """``Mon 8 May 2023, 13:56``: the weekday, date and time a reader needs for time questions,
    in 12 word pieces (``2023-05-08 (Mon) 13:56`` takes 15, on every session header)."""
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M}"


#: A four-digit year in a time phrase: the phrase is absolute ("April 10, 2024", "2024-04-10").
_YEAR = re.compile(r"(?<!\d)[12]\d{3}(?!\d)")


@functools.lru_cache(maxsize=20_000)
def resolve_dates(text: str, said_at: datetime) -> str:
    """Annotate relative time phrases with the dates they meant: "yesterday [2023-05-07]".

    A phrase that names its year is left as written: the annotation would only repeat it (and
    cost a memory's worth of tokens in a text full of dates). Cached: the same candidate turns
    come back question after question.
    """
    mentions = find_time_mentions(text, said_at)
    for mention in reversed(mentions):
        if mention.granularity == "span" or _YEAR.search(mention.text):
            continue
        text = f"{text[: mention.end]} [{format_range(mention)}]{text[mention.end :]}"
    return text


def clean_text(turn: Turn, text: str | None = None) -> str:
    """A turn's text (or an excerpt of it) on one line, relative dates resolved."""
    return resolve_dates(" ".join((turn.content if text is None else text).split()), turn.timestamp)


def format_turn(ref: str, turn: Turn, *, with_session: bool, text: str | None = None) -> str:
    """One self-contained context line: citation, time, optional session, speaker and text."""
    session = f" [{turn.session_id}]" if with_session else ""
    return f"[{ref}] {format_time(turn.timestamp)}{session} {turn.speaker}: {clean_text(turn, text)}"


def session_header(turn: Turn) -> str:
    """The header of a group of retrieved turns from one session: the time of its first turn.

    The session id is left out of the text (it costs as many tokens as the date and tells a
    reader nothing); the structured items carry it."""
    return f"### {format_time(turn.timestamp)}"


def format_memory(ref: str, turn: Turn, previous: datetime, text: str | None = None) -> str:
    """A line under a session header; the time only where it differs from ``previous``."""
    stamp = ""
    if format_time(turn.timestamp) != format_time(previous):
        same_day = turn.timestamp.date() == previous.date()
        stamp = (turn.timestamp.strftime("%H:%M") if same_day else format_time(turn.timestamp)) + " "
    return f"[{ref}] {stamp}{turn.speaker}: {clean_text(turn, text)}"


def format_fact(ref: str, fact: FactVersion, note: str | None = None, at: datetime | None = None) -> str:
    """One fact line with the span it held: "since 2024-04-20" or "2024-01-14 to 2024-04-20".

    An end after ``at`` (the question's time) is not shown: as of then, the fact held. A
    ``note`` replaces an open span's "since": "2024-01-14 until 2024-03-25; later said: ..."
    for a fact a later memory contradicts, so it never reads as current.
    """
    since = fact.valid_from.strftime("%Y-%m-%d")
    if fact.valid_to and (at is None or fact.valid_to <= at):
        span = f"{since} to {fact.valid_to:%Y-%m-%d}"
    else:
        span = f"{since} {note}" if note else f"since {since}"
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
    shorten: Callable[[Hit], str] | None = None,
    fact_notes: Mapping[str, str] | None = None,
    settled: Collection[str] = (),
    count_lines: Callable[[Sequence[str]], int] | None = None,
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
        shorten: the text a retrieved hit's turn is shown with (an excerpt of a long turn; see
            :mod:`engram.read.excerpt`); default its whole content. Working memory is verbatim.
        fact_notes: by fact id, what a later memory said against a fact shown as current
            ("until 2024-03-25; later said: ..."), shown in place of its "since".
        settled: ids of facts whose slot never held another value; such a fact is left out
            when it only repeats shown turns.
        count_lines: the tokens of lines joined by line breaks, from each line's count, for a
            counter whose counts add up over white space: the lines come back from one try to
            the next and their counts are cached, where the whole text is new each time (a
            4,000-token context is counted in about 3.5 ms). Default: ``count`` of the text.

    Returns:
        ``(text, tokens, items, left_out, fact_refs)``; ``left_out`` pairs each retrieved turn
        that was not placed with the reason; ``fact_refs`` pairs each shown fact with its ref.
    """
    title = f"# Memory for {user_id} (as of {reference_time.strftime('%Y-%m-%d %H:%M')} UTC)"
    used = count(title)
    if used > budget_tokens:
        return "", 0, [], [(hit.turn, "budget too small for any memory") for hit in ranked], []

    notes = fact_notes or {}
    facts_room = int(budget_tokens * facts_share)
    fact_lines = _fact_lines(facts, facts_room, count, notes, reference_time)
    used += _facts_cost(fact_lines, count)

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
    in_window = {turn.id for turn, _, _ in window}

    texts: dict[int, str | None] = {}

    def text_of(rank: int) -> str | None:
        if rank not in texts:
            texts[rank] = shorten(ranked[rank]) if shorten is not None else None
        return texts[rank]

    room = budget_tokens - used - count(MEMORIES_HEADER)
    chosen, left_out = _choose(ranked, text_of, count, room, in_window, ())
    # A fact whose every source turn is shown, that still holds and that nothing contradicts only
    # repeats those turns (which carry their dates): its room goes to the next memories instead.
    shown = {c.hit.turn.id for c in chosen}
    kept = [fact for _, fact in fact_lines if fact.id not in settled or not _repeats(fact, shown, notes, reference_time)]
    if len(kept) < len(fact_lines):
        before = _facts_cost(fact_lines, count)
        fact_lines = _fact_lines(kept, facts_room, count, notes, reference_time)
        room += before - _facts_cost(fact_lines, count)
        chosen, left_out = _choose(ranked, text_of, count, room, in_window, chosen)
    chosen.sort(key=lambda c: (c.hit.turn.timestamp, c.hit.turn.seq))

    while True:  # estimates are not exactly additive: drop the weakest until the text fits
        lines, items = _render(title, fact_lines, window, chosen)
        text = "\n".join(lines)
        tokens = count_lines(lines) if count_lines is not None else count(text)
        if tokens <= budget_tokens or not (chosen or window):
            break
        if chosen:
            weakest = max(chosen, key=lambda c: c.rank)
            chosen.remove(weakest)
            left_out.append((weakest.hit.turn, "did not fit in the token budget"))
        else:
            turn = window.pop(0)[0]  # the oldest working-memory turn
            left_out.append((turn, "did not fit in the token budget"))
    refs = [(f"F{number}", fact) for number, (_, fact) in enumerate(fact_lines, start=1)]
    return text, tokens, items, left_out, refs


@dataclass(frozen=True, slots=True)
class _Chosen:
    rank: int
    hit: Hit
    text: str | None  # an excerpt, or None for the whole turn
    cost: int
    header: int  # its session's header, paid by the first of the session chosen


def _fact_lines(
    facts: Sequence[FactVersion], room: int, count: CountTokens, notes: Mapping[str, str], at: datetime
) -> list[tuple[str, FactVersion]]:
    """The facts' lines, most relevant first, while they fit in ``room`` (with their header)."""
    lines: list[tuple[str, FactVersion]] = []
    room -= count(FACTS_HEADER)
    for fact in facts:
        line = format_fact(f"F{len(lines) + 1}", fact, notes.get(fact.id), at)
        cost = count(line)
        if cost > room:
            break
        lines.append((line, fact))
        room -= cost
    return lines


def _facts_cost(lines: Sequence[tuple[str, FactVersion]], count: CountTokens) -> int:
    return count(FACTS_HEADER) + sum(count(line) for line, _ in lines) if lines else 0


def _repeats(fact: FactVersion, shown: set[str], notes: Mapping[str, str], at: datetime) -> bool:
    """Whether ``fact`` says nothing the shown turns do not: all its sources are shown, it holds
    at ``at`` (no end to show) and no later memory contradicts it (no note to show)."""
    return (
        bool(fact.source_turn_ids)
        and shown.issuperset(fact.source_turn_ids)
        and fact.id not in notes
        and (fact.valid_to is None or fact.valid_to > at)
    )


def _choose(
    ranked: Sequence[Hit],
    text_of: Callable[[int], str | None],
    count: CountTokens,
    room: int,
    in_window: set[str],
    kept: Sequence[_Chosen],
) -> tuple[list[_Chosen], list[tuple[Turn, str]]]:
    """Retrieved memories in ``room``: ``kept`` (chosen before, in less room), then the others
    greedily by rank, skipping what does not fit. A turn costs its line plus its session's
    header the first time that session is chosen. Returns the chosen and the left out (with why)."""
    chosen = list(kept)
    shown = {c.hit.turn.id for c in kept}
    opened = {c.hit.turn.session_id for c in kept}
    room -= sum(c.cost + c.header for c in kept)
    left_out: list[tuple[Turn, str]] = []
    for rank, hit in enumerate(ranked):
        if hit.turn.id in shown:
            continue
        if hit.turn.id in in_window:
            left_out.append((hit.turn, "already in working memory"))
            continue
        text = text_of(rank)
        text = None if text == hit.turn.content else text
        cost = count(format_memory("M", hit.turn, hit.turn.timestamp, text)) + 1
        header = 0 if hit.turn.session_id in opened else count(session_header(hit.turn))
        if cost + header > room:
            left_out.append((hit.turn, "did not fit in the token budget"))
            continue
        chosen.append(_Chosen(rank, hit, text, cost, header))
        opened.add(hit.turn.session_id)
        shown.add(hit.turn.id)
        room -= cost + header
    return chosen, left_out


def _render(
    title: str,
    fact_lines: Sequence[tuple[str, FactVersion]],
    window: Sequence[tuple[Turn, str, int]],
    chosen: Sequence[_Chosen],
) -> tuple[list[str], list[ContextItem]]:
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
        session: str | None = None
        previous = chosen[0].hit.turn.timestamp
        for number, entry in enumerate(chosen, start=1):
            turn, ref = entry.hit.turn, f"M{number}"
            if turn.session_id != session:
                lines.append(session_header(turn))
                session, previous = turn.session_id, turn.timestamp
            lines.append(format_memory(ref, turn, previous, entry.text))
            previous = turn.timestamp
            items.append(
                ContextItem(
                    ref, turn, "memories", entry.cost, entry.hit.score, excerpt=entry.text is not None
                )
            )
    return lines, items
