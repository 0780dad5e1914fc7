"""The rules behind :mod:`engram.text.timeexpr`: one regex and one resolver per kind of phrase.

A resolver turns a match into ``(begin, until, granularity, direction)`` dates (``until``
exclusive, direction None when it follows from the dates) or None to reject the match. A
rule runs only when the message holds one of its trigger words, which keeps the common case
(a message without any time words) to a single tokenisation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from engram.text import dates
from engram.text.dates import MONTH_ABBREVIATIONS, MONTHS, WEEKDAYS
from engram.text.stopwords import STOPWORDS


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


__all__ = ["RULES", "Resolved", "TimeRule", "trigger_tokens", "trigger_tokens_from"]

#: A resolved range: begin, until (exclusive), granularity, direction (None: from the dates).
Resolved = tuple[date, date, str, str | None]
Resolver = Callable[[re.Match[str], date, str], Resolved | None]

_I = re.IGNORECASE
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "several": 3, "few": 3, "couple": 2,
}  # fmt: skip
_NUM = (
    r"(?P<n>\d{1,3}|a\s+couple(?:\s+of)?|couple\s+of|a\s+few|several|an?|one|two|three|four|five|six"
    r"|seven|eight|nine|ten|eleven|twelve)"
)
_MONTH = "(?P<m>" + "|".join([*MONTHS, *sorted(MONTH_ABBREVIATIONS, key=len, reverse=True)]) + ")"
_FULL_MONTH = "(?P<m>" + "|".join(MONTHS) + ")"
_WEEKDAY = "(?P<wd>" + "|".join(WEEKDAYS) + ")"
_YEAR = r"(?P<y>(?:19|20)\d{2})"
_SEASON = r"(?P<s>summer|winter|spring|fall|autumn)"
#: Months that are also given names: never taken after "by" ("a poem by June").
_NAME_MONTHS = {"april", "may", "june", "august"}

_FUTURE_CUE = re.compile(
    r"\b(?:will|shall|gonna|going\s+to|plan(?:s|ning)?\s+(?:to|on)|upcoming|can't\s+wait|looking\s+forward"
    r"|hope\s+to|hoping\s+to|excited\s+to|about\s+to|soon|next)\b|'ll\b",
    _I,
)
_PAST_CUE = re.compile(
    r"\b(?:was|were|did|had|went|took|finished|completed|done|read|wrote|lost|gained|learned|learnt"
    r"|made|built|ran|got)\b",
    _I,
)
_ED_WORD = re.compile(r"\b[a-z]{2,}ed\b", _I)
_NOT_PAST_ED = {
    "need", "indeed", "speed", "seed", "feed", "bed", "red", "breed", "exceed", "proceed", "succeed",
    "excited", "interested", "tired", "married", "scared", "bored", "worried", "used", "supposed",
    "blessed", "engaged", "stressed", "pleased", "amazed", "thrilled", "obsessed", "inspired",
}  # fmt: skip
_PROGRESSIVE = re.compile(r"\b(?:am|are|'m|'re)\s+(?:\w+\s+)?\w+ing\b", _I)
_SENTENCE_END = re.compile(r"[.!?\n]")
_DETERMINER_BEFORE = re.compile(r"\b(?:the|that|every|each|one|a|whole|entire|our|my|his|her|their)\s+$", _I)
_APPROXIMATE_BEFORE = re.compile(
    r"\b(?:over|more\s+than|at\s+least|almost|nearly|less\s+than|under|up\s+to|within)\s+$", _I
)
_DURATION_BEFORE = re.compile(r"\b(?:time|times|once|twice|first|ever|all|it|them|this|that)\s+$", _I)
_UNTIL_BEFORE = re.compile(r"\b(?:until|till)\s+$", _I)
_NEXT_WORD = re.compile(r"\s+([^\W\d_]+)")
_SAFE_AFTER_YEAR = STOPWORDS | {"ago", "last", "next", "already", "again", "too", "yet", "though"}


def _sentence(text: str, start: int, end: int) -> str:
    left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    right = _SENTENCE_END.search(text, end)
    return text[left : right.start() if right else len(text)]


def _tense(match: re.Match[str], text: str) -> bool | None:
    """True for a future sentence, False for a past one, None when it cannot be told."""
    sentence = _sentence(text, match.start(), match.end())
    if _FUTURE_CUE.search(sentence):
        return True
    if _PAST_CUE.search(sentence):
        return False
    for word in _ED_WORD.findall(sentence):
        if word.lower() not in _NOT_PAST_ED:
            return False
    if _PROGRESSIVE.search(sentence):
        return True  # "I'm meeting her on Friday": the present progressive of a plan
    return None


def _before(text: str, match: re.Match[str], pattern: re.Pattern[str], group: str | int = 0) -> bool:
    start = match.start(group)
    return pattern.search(text, max(0, start - 24), start) is not None


def _count(words: str) -> int:
    key = words.lower().split()[-1] if not words.isdigit() else words
    if key == "of":
        return 2
    return int(key) if key.isdigit() else _NUMBER_WORDS[key]


def _resolve_day_word(match: re.Match[str], day: date, text: str) -> Resolved | None:
    word = " ".join(match.group("w").lower().split())
    if word == "last night" and _before(text, match, _DETERMINER_BEFORE):
        return None
    offset = {"the day before yesterday": -2, "yesterday": -1, "last night": -1, "tomorrow": 1}.get(word, 0)
    offset = 2 if word == "the day after tomorrow" else offset
    return *dates.day_range(day + timedelta(days=offset)), "day", None


def _resolve_ago(match: re.Match[str], day: date, text: str) -> Resolved | None:
    count, unit = _count(match.group("n")), match.group("u").lower()
    if count < 1 or _before(text, match, _APPROXIMATE_BEFORE) or count * {"day": 1}.get(unit, 30) > 36500:
        return None
    if unit == "day":
        return *dates.day_range(day - timedelta(days=count)), "day", "past"
    if unit == "week":
        return *dates.week_range(day, -count), "week", "past"
    if unit == "month":
        return *dates.month_range(*dates.shift_month(day.year, day.month, -count)), "month", "past"
    return *dates.year_range(day.year - count), "year", "past"


def _resolve_ahead(match: re.Match[str], day: date, text: str) -> Resolved | None:
    count, unit = _count(match.group("n")), match.group("u").lower()
    if count < 1 or count > 60 or _before(text, match, _APPROXIMATE_BEFORE):
        return None
    if match.group(0).lower().startswith("in"):
        sentence = _sentence(text, match.start(), match.end())
        if _before(text, match, _DURATION_BEFORE) or (
            _PAST_CUE.search(sentence) and not _FUTURE_CUE.search(sentence)
        ):
            return None
    if unit == "day":
        return *dates.day_range(day + timedelta(days=count)), "day", "future"
    return *dates.week_range(day, count), "week", "future"


def _resolve_relative_unit(match: re.Match[str], day: date, text: str) -> Resolved | None:
    which, unit = " ".join(match.group("q").lower().split()), match.group("u").lower()
    if which in ("last", "next") and _before(text, match, _DETERMINER_BEFORE):
        return None
    if which.startswith("this") and which != "this":
        if unit != "weekend":
            return None  # "this past week" is a span, found by another rule
        saturday = dates.previous_weekday(day, 5)
        return saturday, saturday + timedelta(days=2), "weekend", None
    shift = {"last": -1, "this": 0, "next": 1}[which]
    if unit == "week":
        return *dates.week_range(day, shift), "week", None
    if unit == "weekend":
        return *dates.weekend_range(day, shift), "weekend", None
    if unit == "month":
        return *dates.month_range(*dates.shift_month(day.year, day.month, shift)), "month", None
    return *dates.year_range(day.year + shift), "year", None


def _resolve_week_before_last(match: re.Match[str], day: date, text: str) -> Resolved | None:
    return *dates.week_range(day, -2), "week", "past"


def _period(day: date, unit: str) -> dates.DateRange:
    if unit == "week":
        return dates.week_range(day)
    if unit == "month":
        return dates.month_range(day.year, day.month)
    return dates.year_range(day.year)


def _resolve_earlier_later(match: re.Match[str], day: date, text: str) -> Resolved | None:
    begin, until = _period(day, match.group("u").lower())
    if match.group("q").lower() == "earlier":
        return begin, max(day, begin + timedelta(days=1)), "span", "past"
    return min(day + timedelta(days=1), until - timedelta(days=1)), until, "span", "future"


def _resolve_recent_span(match: re.Match[str], day: date, text: str) -> Resolved | None:
    unit = (match.group("u") or "day").lower()
    count = _count(match.group("n")) if match.group("n") else 1
    days = count * {"day": 1, "week": 7, "month": 30, "year": 365}[unit]
    return day - timedelta(days=days), day + timedelta(days=1), "span", "past"


def _resolve_recently(match: re.Match[str], day: date, text: str) -> Resolved | None:
    if _before(text, match, _UNTIL_BEFORE):
        return None
    return day - timedelta(days=30), day + timedelta(days=1), "span", "past"


def _resolve_weekday(match: re.Match[str], day: date, text: str) -> Resolved | None:
    which = " ".join((match.group("q") or "").lower().split())
    if not which and not match.group("on"):
        return None
    if which in ("last", "next") and _before(text, match, _DETERMINER_BEFORE, "x"):
        return None
    weekday = WEEKDAYS[match.group("wd").lower()]
    if which in ("this", "next"):
        target = dates.week_range(day, 1 if which == "next" else 0)[0] + timedelta(days=weekday)
    elif not which and _tense(match, text):
        target = dates.following_weekday(day, weekday)
    else:
        target = dates.previous_weekday(day, weekday)
    return *dates.day_range(target), "day", None


def _resolve_relative_month(match: re.Match[str], day: date, text: str) -> Resolved | None:
    which, month = " ".join(match.group("q").lower().split()), MONTHS[match.group("m").lower()]
    if which in ("last", "next") and _before(text, match, _DETERMINER_BEFORE):
        return None
    if which == "this":
        return *dates.month_range(day.year, month), "month", None
    year, month = dates.nearest_month(day, month, future=which == "next", strict=True)
    return *dates.month_range(year, month), "month", None


def _month_number(match: re.Match[str]) -> int:
    name = match.group("m").lower()
    return MONTHS.get(name) or MONTH_ABBREVIATIONS[name]


def _resolve_month_year(match: re.Match[str], day: date, text: str) -> Resolved | None:
    return *dates.month_range(int(match.group("y")), _month_number(match)), "month", None


def _resolve_month_alone(match: re.Match[str], day: date, text: str) -> Resolved | None:
    preposition, qualifier = (match.group("p") or "").lower(), match.group("q")
    name = match.group("m")
    if not preposition and not qualifier:
        return None
    if preposition == "by" and not qualifier and name.lower() in _NAME_MONTHS:
        return None
    if name == "may" and not qualifier and preposition not in ("in", "during", "since", "until", "till"):
        return None
    future = _tense(match, text)
    if future is None and preposition in ("by", "until", "till"):
        future = True
    year, month = dates.nearest_month(day, MONTHS[name.lower()], future=future)
    return *dates.month_range(year, month), "month", None


def _resolve_month_day(match: re.Match[str], day: date, text: str) -> Resolved | None:
    name, ordinal, year = match.group("m"), match.group("o"), match.group("y")
    weak = name == "may" or name.lower() in MONTH_ABBREVIATIONS or name.islower()
    if weak and not (ordinal or year or match.groupdict().get("of")):
        return None
    month, day_of_month = _month_number(match), int(match.group("d"))
    if year:
        try:
            target = date(int(year), month, day_of_month)
        except ValueError:
            return None
    else:
        found = dates.nearest_date(day, month, day_of_month, future=_tense(match, text))
        if found is None:
            return None
        target = found
    return *dates.day_range(target), "day", None


def _resolve_iso(match: re.Match[str], day: date, text: str) -> Resolved | None:
    try:
        target = date(int(match.group("y")), int(match.group("mo")), int(match.group("d")))
    except ValueError:
        return None
    return *dates.day_range(target), "day", None


def _resolve_year(match: re.Match[str], day: date, text: str) -> Resolved | None:
    year = int(match.group("y"))
    following = _NEXT_WORD.match(text, match.end())
    if following and following.group(1).islower() and following.group(1) not in _SAFE_AFTER_YEAR:
        return None  # "in 2000 steps": a quantity, not a year
    if year > day.year + 30:
        return None
    return *dates.year_range(year), "year", None


def _resolve_relative_season(match: re.Match[str], day: date, text: str) -> Resolved | None:
    which = " ".join(match.group("q").lower().split())
    if which in ("last", "next") and _before(text, match, _DETERMINER_BEFORE):
        return None
    season = match.group("s").lower()
    return *dates.relative_season(day, season, "last" if which == "this past" else which), "season", None


def _resolve_season_year(match: re.Match[str], day: date, text: str) -> Resolved | None:
    return *dates.season_range(int(match.group("y")), match.group("s").lower()), "season", None


_AFTER_NUMBER = r"(?![:.,]?\d|\s*(?:am|pm|a\.m|p\.m|%|hours?|hrs?|minutes?|mins?)\b)"
_MONTH_WORDS = frozenset([*MONTHS, *MONTH_ABBREVIATIONS])
_UNITS = _words("day days week weeks month months year years")
_SEASON_WORDS = _words("summer winter spring fall autumn")
#: Stands for a four-digit number among a text's trigger tokens.
YEAR_TOKEN = "#year"


@dataclass(frozen=True, slots=True)
class TimeRule:
    """A regex, the resolver of its matches, and the words one of which a text must hold."""

    pattern: re.Pattern[str]
    resolve: Resolver
    triggers: frozenset[str]


def _rules(*table: tuple[str, Resolver, frozenset[str] | str]) -> tuple[TimeRule, ...]:
    return tuple(
        TimeRule(
            re.compile(pattern, _I), resolver, frozenset(words.split()) if isinstance(words, str) else words
        )
        for pattern, resolver, words in table
    )


_TOKEN = re.compile(r"[a-z]+|\d+")


def trigger_tokens(text: str) -> set[str]:
    """The lower-case words of ``text``, plus :data:`YEAR_TOKEN` when it holds a four-digit number."""
    tokens = set(_TOKEN.findall(text.lower()))
    if _has_year(tokens):
        tokens.add(YEAR_TOKEN)
    return tokens


def trigger_tokens_from(words: Iterable[str]) -> set[str]:
    """:func:`trigger_tokens` of a text from its key-phrase tokens, without reading it again.

    Those (:func:`engram.text.keyphrases.phrase_tokens`) are the lower-case text's runs of
    letters and digits with inner apostrophes kept ("don't") and a possessive "'s" dropped, and
    punctuation: split into their runs of a-z and of digits they are the text's trigger tokens,
    less the "s" of a possessive, which no rule is triggered by.
    """
    tokens: set[str] = set()
    year = False
    for word in words:
        if word.isascii() and word.isalpha():  # most words: one run of a-z
            tokens.add(word)
        elif word[0].isalnum():  # a number, a contraction, other letters (punctuation holds no run)
            runs = _TOKEN.findall(word)
            tokens.update(runs)
            year = year or _has_year(runs)
    if year:
        tokens.add(YEAR_TOKEN)
    return tokens


def _has_year(tokens: Iterable[str]) -> bool:
    return any(len(token) == 4 and token.isdigit() for token in tokens)


RULES = _rules(
    (
        r"\b(?P<w>the\s+day\s+before\s+yesterday|the\s+day\s+after\s+tomorrow|today|tonight|last\s+night"
        r"|this\s+(?:morning|afternoon|evening)|(?:earlier|later)\s+today"
        r"|yesterday|tomorrow)(?:(?:(?<=yesterday)|(?<=tomorrow))\s+(?:morning|afternoon|evening|night))?\b",
        _resolve_day_word,
        "today tonight yesterday tomorrow night morning afternoon evening",
    ),
    (rf"\b{_NUM}\s+(?P<u>day|week|month|year)s?\s+ago\b", _resolve_ago, "ago"),
    (rf"\bin\s+{_NUM}\s+(?P<u>day|week)s?(?:'?\s+time)?\b", _resolve_ahead, "day days week weeks"),
    (rf"\b{_NUM}\s+(?P<u>day|week)s?\s+from\s+now\b", _resolve_ahead, "now"),
    (
        r"\b(?P<q>last|this\s+past|this|next)\s+(?P<u>week|month|year|weekend)\b",
        _resolve_relative_unit,
        _UNITS | {"weekend"},
    ),
    (r"\bthe\s+week\s+before\s+last\b", _resolve_week_before_last, "before"),
    (r"\b(?P<q>earlier|later)\s+this\s+(?P<u>week|month|year)\b", _resolve_earlier_later, "earlier later"),
    (
        r"\b(?:last|past)\s+(?P<n>few|couple(?:\s+of)?|several|\d{1,2}|two|three|four|five|six|seven"
        r"|eight|nine|ten|eleven|twelve)\s+(?P<u>day|week|month)s\b",
        _resolve_recent_span,
        "days weeks months",
    ),
    (
        r"\b(?:(?:this|the)\s+past|(?:over|in|during|for|throughout)\s+the\s+(?:last|past))\s+(?P<n>)"
        r"(?P<u>week|month|year)\b(?!\s+(?:of|before|after)\b)",
        _resolve_recent_span,
        "week month year",
    ),
    (r"\b(?:recently|lately)\b", _resolve_recently, "recently lately"),
    (
        rf"\b(?:(?P<on>on)\s+)?(?P<x>(?:(?P<q>last|this\s+past|this|next)\s+)?{_WEEKDAY}"
        r"(?:\s+(?:morning|afternoon|evening|night))?)\b",
        _resolve_weekday,
        frozenset(WEEKDAYS),
    ),
    (rf"\b(?P<q>last|this\s+past|this|next)\s+{_FULL_MONTH}\b", _resolve_relative_month, frozenset(MONTHS)),
    (rf"\b{_MONTH}\.?(?:\s+of|,)?\s+{_YEAR}\b", _resolve_month_year, _MONTH_WORDS),
    (
        r"\b(?:(?P<p>in|during|since|until|till|through|throughout|by|before|after)\s+)?"
        r"(?P<x>(?:(?P<q>early|mid|late|the\s+(?:end|start|beginning|middle)\s+of)[\s-]+)?"
        rf"{_FULL_MONTH})\b",
        _resolve_month_alone,
        frozenset(MONTHS),
    ),
    (
        rf"\b{_MONTH}\.?\s+(?P<d>[0-3]?\d)(?P<o>st|nd|rd|th)?\b{_AFTER_NUMBER}(?:,?\s+{_YEAR}\b)?",
        _resolve_month_day,
        _MONTH_WORDS,
    ),
    (
        rf"(?<![\d:$.,])\b(?:the\s+)?(?P<d>[0-3]?\d)(?P<o>st|nd|rd|th)?\s+(?P<of>of\s+)?{_MONTH}\b\.?"
        rf"(?:,?\s+{_YEAR}\b)?",
        _resolve_month_day,
        _MONTH_WORDS,
    ),
    (r"\b(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})\b", _resolve_iso, frozenset({YEAR_TOKEN})),
    (
        r"\b(?:in|during|since|until|till|throughout|by|before|after)\s+(?:the\s+year\s+)?"
        rf"(?P<x>{_YEAR})\b(?![-–/.,]\d|%)",
        _resolve_year,
        frozenset({YEAR_TOKEN}),
    ),
    (rf"\b(?P<q>last|this\s+past|this|next)\s+{_SEASON}\b", _resolve_relative_season, _SEASON_WORDS),
    (r"\b(?P<s>summer|spring|fall|autumn)\s+(?:of\s+)?" + _YEAR + r"\b", _resolve_season_year, _SEASON_WORDS),
)
