"""Calendar arithmetic on dates: weeks (Monday to Sunday), months, seasons, relative months.

Every range is a pair ``(begin, until)`` with ``until`` exclusive. Seasons are the northern
hemisphere's meteorological ones: spring is March to May, summer June to August, fall (autumn)
September to November and winter December to February, so a winter is named by the year of
its December.
"""

from __future__ import annotations

from datetime import date, timedelta

DateRange = tuple[date, date]

MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
}
MONTH_ABBREVIATIONS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7,
    "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
WEEKDAYS = {
    name: number
    for number, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}
#: First month of each season, in calendar order within a season-year (winter last).
SEASON_START = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}

_DAY = timedelta(days=1)


def day_range(day: date) -> DateRange:
    """The single day ``day``."""
    return day, day + _DAY


def week_range(day: date, weeks: int = 0) -> DateRange:
    """The Monday-to-Sunday week holding ``day``, shifted by ``weeks`` weeks."""
    monday = day - timedelta(days=day.weekday()) + timedelta(weeks=weeks)
    return monday, monday + timedelta(weeks=1)


def weekend_range(day: date, weeks: int = 0) -> DateRange:
    """Saturday and Sunday of the week holding ``day``, shifted by ``weeks`` weeks."""
    monday, _ = week_range(day, weeks)
    return monday + timedelta(days=5), monday + timedelta(days=7)


def shift_month(year: int, month: int, months: int) -> tuple[int, int]:
    """The (year, month) ``months`` months after (or before, when negative) ``year``/``month``."""
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


def month_range(year: int, month: int) -> DateRange:
    """The calendar month ``month`` of ``year``."""
    next_year, next_month = shift_month(year, month, 1)
    return date(year, month, 1), date(next_year, next_month, 1)


def year_range(year: int) -> DateRange:
    """The calendar year ``year``."""
    return date(year, 1, 1), date(year + 1, 1, 1)


def season_range(year: int, season: str) -> DateRange:
    """The season ``season`` that begins in ``year`` (a winter runs into the next year)."""
    start = SEASON_START[season]
    end_year, end_month = shift_month(year, start, 3)
    return date(year, start, 1), date(end_year, end_month, 1)


def _season_index(year: int, season: str) -> int:
    return year * 4 + (SEASON_START[season] - 3) // 3


def _season_of_index(index: int) -> tuple[int, str]:
    return index // 4, ("spring", "summer", "fall", "winter")[index % 4]


def current_season(day: date) -> tuple[int, str]:
    """(year it began, season name) of the season holding ``day``."""
    year, month = shift_month(day.year, day.month, -2)  # March becomes month 1 of a season-year
    return _season_of_index(year * 4 + (month - 1) // 3)


def relative_season(day: date, season: str, which: str) -> DateRange:
    """Resolve "last", "this" or "next" ``season`` seen from ``day``.

    "last" is the latest such season that began before the current one; "next" the earliest
    that begins after it; "this" is the one of the current calendar year, except that "this
    winter" is the current winter, or in spring the one just ended, otherwise the coming one.
    """
    year, name = current_season(day)
    now = _season_index(year, name)
    target = (SEASON_START[season] - 3) // 3
    if which == "last":
        index = now - 1 - (now - 1 - target) % 4
    elif which == "next":
        index = now + 1 + (target - now - 1) % 4
    elif season != "winter":
        return season_range(day.year, season)
    elif name == "winter":
        index = now
    else:
        index = _season_index(day.year - (1 if day.month <= 5 else 0), "winter")
    return season_range(*_season_of_index(index))


def previous_weekday(day: date, weekday: int) -> date:
    """The latest date strictly before ``day`` that falls on ``weekday`` (Monday = 0)."""
    return day - timedelta(days=(day.weekday() - weekday - 1) % 7 + 1)


def following_weekday(day: date, weekday: int) -> date:
    """The earliest date strictly after ``day`` that falls on ``weekday`` (Monday = 0)."""
    return day + timedelta(days=(weekday - day.weekday() - 1) % 7 + 1)


def nearest_month(day: date, month: int, *, future: bool | None, strict: bool = False) -> tuple[int, int]:
    """The (year, month) of the latest ``month`` up to ``day``'s month, or the earliest from it.

    Args:
        day: the reference date.
        month: 1-12.
        future: look forward (True), back (False) or to whichever is closer (None; a tie
            goes back).
        strict: exclude the reference month itself.
    """
    current = day.year * 12 + day.month - 1
    ahead = (month - 1 - current) % 12 or (12 if strict else 0)
    back = (current - month + 1) % 12 or (12 if strict else 0)
    index = current + ahead if future or (future is None and ahead < back) else current - back
    return index // 12, index % 12 + 1


def nearest_date(day: date, month: int, day_of_month: int, *, future: bool | None) -> date | None:
    """The latest date on or before ``day`` (or earliest on or after) with that month and day.

    With ``future`` None, whichever of the two is closer (a tie goes back). Returns None when
    no year within eight has that date (February 30).
    """
    if future is None:
        back = nearest_date(day, month, day_of_month, future=False)
        ahead = nearest_date(day, month, day_of_month, future=True)
        if back is None or ahead is None:
            return back or ahead
        return ahead if ahead - day < day - back else back
    step = 1 if future else -1
    for years in range(8):
        try:
            candidate = date(day.year + step * years, month, day_of_month)
        except ValueError:
            continue
        if (candidate >= day) if future else (candidate <= day):
            return candidate
    return None
