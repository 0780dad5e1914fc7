"""Find time expressions in a message and resolve them to UTC date ranges.

"I moved here last May" said on 2023-08-10 dates the move to 2023-05-01..2023-05-31. The
rules are English, deliberately conservative (a wrong date is worse than none) and resolved
against the message's own time: "yesterday" means the day before the message was written.
Weeks run Monday to Sunday; seasons are the northern meteorological ones (winter is
December to February).

Where English leaves the year or the direction open, the sentence's tense decides: a bare
"on Friday" is the latest Friday before the message unless the sentence speaks of the future
("I'm going hiking on Friday", "we'll ..."), and "in December" or "May 25th" without a year
is the latest one for a past sentence, the next one for a future sentence, and otherwise the
nearer of the two. "Last <weekday>" is the latest one before the message, "this <weekday>"
the one of the current week, "next <weekday>" the one of the following week.
"""

from __future__ import annotations

import bisect
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from engram.text.timerules import RULES, Resolved, trigger_tokens

__all__ = ["TimeMention", "find_time_mentions", "format_range"]


@dataclass(frozen=True, slots=True)
class TimeMention:
    """A time expression found in a text, resolved against a reference time.

    Attributes:
        text: the phrase as written, e.g. ``"last May"``.
        start: offset of the phrase's first character in the input.
        end: offset just past the phrase's last character.
        begin: start of the range (inclusive), midnight UTC.
        until: end of the range (exclusive), midnight UTC.
        granularity: ``"day"``, ``"week"``, ``"weekend"``, ``"month"``, ``"season"``, ``"year"``
            or ``"span"`` (a vague stretch such as "recently").
        direction: ``"past"``, ``"present"`` or ``"future"`` relative to the reference date.
    """

    text: str
    start: int
    end: int
    begin: datetime
    until: datetime
    granularity: str
    direction: str


_MIDNIGHT = time(tzinfo=UTC)
_TRIGGERS = frozenset().union(*(rule.triggers for rule in RULES))


def _direction(begin: date, until: date, day: date) -> str:
    if until <= day:
        return "past"
    return "future" if begin > day else "present"


def find_time_mentions(
    text: str, reference: datetime, *, triggers: AbstractSet[str] | None = None
) -> list[TimeMention]:
    """Find the time expressions of ``text`` and resolve them against ``reference``.

    Args:
        text: a message, any case.
        reference: when the message was written (aware); its UTC date anchors "yesterday".
        triggers: the text's :func:`~engram.text.timerules.trigger_tokens` when the caller has
            them (:func:`~engram.text.timerules.trigger_tokens_from`); else they are found here.

    Returns:
        Non-overlapping mentions in order of appearance; where two candidates overlap the
        longer one wins.
    """
    day = reference.astimezone(UTC).date()
    tokens = trigger_tokens(text) if triggers is None else triggers
    found: list[tuple[int, int, Resolved]] = []
    for rule in RULES if not _TRIGGERS.isdisjoint(tokens) else ():  # most messages name no time
        if rule.triggers.isdisjoint(tokens):
            continue
        for match in rule.pattern.finditer(text):
            resolved = rule.resolve(match, day, text)
            if resolved is not None:
                has_x = "x" in rule.pattern.groupindex and match.start("x") >= 0
                start, end = match.span("x") if has_x else match.span()
                found.append((start, end, resolved))
    found.sort(key=lambda item: (item[0] - item[1], item[0]))
    chosen: list[tuple[int, int, Resolved]] = []  # non-overlapping, by start (so by end too)
    starts: list[int] = []
    for item in found:
        # Of the chosen spans starting before this one ends, the last ends latest: the only one
        # to check (a pasted document has thousands of dates: not every pair).
        before = bisect.bisect_left(starts, item[1])
        if before == 0 or chosen[before - 1][1] <= item[0]:
            chosen.insert(before, item)
            starts.insert(before, item[0])
    return [
        TimeMention(
            text=text[start:end],
            start=start,
            end=end,
            begin=datetime.combine(begin, _MIDNIGHT),
            until=datetime.combine(until, _MIDNIGHT),
            granularity=granularity,
            direction=direction or _direction(begin, until, day),
        )
        for start, end, (begin, until, granularity, direction) in chosen
    ]


def format_range(mention: TimeMention) -> str:
    """A compact ISO rendering: ``2023-05-08`` (a day), ``2023-05`` (a month), else ``first..last``."""
    first = mention.begin.date()
    last = (mention.until - timedelta(days=1)).date()
    if mention.granularity == "day" and first == last:
        return first.isoformat()
    if mention.granularity == "month" and first.day == 1 and last.month == first.month:
        return first.isoformat()[:7]
    return f"{first.isoformat()}..{last.isoformat()}"
