"""Time expressions: found where they are, resolved against the message's time, never invented."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from engram.text import dates
from engram.text.timeexpr import TimeMention, find_time_mentions, format_range

#: A Monday afternoon.
REF = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def _resolved(text: str, reference: datetime = REF) -> list[tuple[str, str, str, str]]:
    return [
        (m.text, format_range(m), m.granularity, m.direction) for m in find_time_mentions(text, reference)
    ]


@pytest.mark.parametrize(
    ("text", "phrase", "expected", "granularity", "direction"),
    [
        # days
        ("I went there yesterday", "yesterday", "2023-05-07", "day", "past"),
        ("Yesterday morning was rough", "Yesterday morning", "2023-05-07", "day", "past"),
        ("what a day today", "today", "2023-05-08", "day", "present"),
        ("Tonight we eat out", "Tonight", "2023-05-08", "day", "present"),
        ("I ran this morning", "this morning", "2023-05-08", "day", "present"),
        ("last night was fun", "last night", "2023-05-07", "day", "past"),
        ("the day before yesterday I cooked", "the day before yesterday", "2023-05-06", "day", "past"),
        ("see you tomorrow", "tomorrow", "2023-05-09", "day", "future"),
        ("tomorrow night works", "tomorrow night", "2023-05-09", "day", "future"),
        ("the day after tomorrow", "the day after tomorrow", "2023-05-10", "day", "future"),
        # ago
        ("2 days ago", "2 days ago", "2023-05-06", "day", "past"),
        ("three days ago", "three days ago", "2023-05-05", "day", "past"),
        ("a few days ago", "a few days ago", "2023-05-05", "day", "past"),
        ("a week ago", "a week ago", "2023-05-01..2023-05-07", "week", "past"),
        ("3 weeks ago", "3 weeks ago", "2023-04-17..2023-04-23", "week", "past"),
        ("a couple of weeks ago", "a couple of weeks ago", "2023-04-24..2023-04-30", "week", "past"),
        ("a couple weeks ago", "a couple weeks ago", "2023-04-24..2023-04-30", "week", "past"),
        ("several weeks ago", "several weeks ago", "2023-04-17..2023-04-23", "week", "past"),
        ("a month ago", "a month ago", "2023-04", "month", "past"),
        ("six months ago", "six months ago", "2022-11", "month", "past"),
        ("about 5 months ago", "5 months ago", "2022-12", "month", "past"),
        ("a year ago", "a year ago", "2022-01-01..2022-12-31", "year", "past"),
        ("two years ago", "two years ago", "2021-01-01..2021-12-31", "year", "past"),
        # ahead
        ("we leave in 3 days", "in 3 days", "2023-05-11", "day", "future"),
        ("I'll see you in two weeks", "in two weeks", "2023-05-22..2023-05-28", "week", "future"),
        ("two weeks from now", "two weeks from now", "2023-05-22..2023-05-28", "week", "future"),
        # last / this / next
        ("last week was good", "last week", "2023-05-01..2023-05-07", "week", "past"),
        ("this week is busy", "this week", "2023-05-08..2023-05-14", "week", "present"),
        ("next week", "next week", "2023-05-15..2023-05-21", "week", "future"),
        ("last month", "last month", "2023-04", "month", "past"),
        ("this month", "this month", "2023-05", "month", "present"),
        ("next month", "next month", "2023-06", "month", "future"),
        ("last year", "last year", "2022-01-01..2022-12-31", "year", "past"),
        ("this year", "this year", "2023-01-01..2023-12-31", "year", "present"),
        ("next year", "next year", "2024-01-01..2024-12-31", "year", "future"),
        ("last weekend", "last weekend", "2023-05-06..2023-05-07", "weekend", "past"),
        ("this weekend", "this weekend", "2023-05-13..2023-05-14", "weekend", "future"),
        ("next weekend", "next weekend", "2023-05-20..2023-05-21", "weekend", "future"),
        ("this past weekend", "this past weekend", "2023-05-06..2023-05-07", "weekend", "past"),
        ("the week before last", "the week before last", "2023-04-24..2023-04-30", "week", "past"),
        # spans
        ("earlier this month", "earlier this month", "2023-05-01..2023-05-07", "span", "past"),
        ("earlier this year", "earlier this year", "2023-01-01..2023-05-07", "span", "past"),
        ("later this month", "later this month", "2023-05-09..2023-05-31", "span", "future"),
        ("I moved recently", "recently", "2023-04-08..2023-05-08", "span", "past"),
        ("lately I run", "lately", "2023-04-08..2023-05-08", "span", "past"),
        ("over the last few days", "last few days", "2023-05-05..2023-05-08", "span", "past"),
        ("over the past few weeks", "past few weeks", "2023-04-17..2023-05-08", "span", "past"),
        ("the past week", "the past week", "2023-05-01..2023-05-08", "span", "past"),
        # weekdays (REF is a Monday)
        ("last Friday", "last Friday", "2023-05-05", "day", "past"),
        ("on Friday I went out", "Friday", "2023-05-05", "day", "past"),
        ("on Monday", "Monday", "2023-05-01", "day", "past"),
        ("last Monday", "last Monday", "2023-05-01", "day", "past"),
        ("this Monday", "this Monday", "2023-05-08", "day", "present"),
        ("this Friday", "this Friday", "2023-05-12", "day", "future"),
        ("next Friday", "next Friday", "2023-05-19", "day", "future"),
        ("I'm going hiking on Saturday", "Saturday", "2023-05-13", "day", "future"),
        ("on Friday night", "Friday night", "2023-05-05", "day", "past"),
        # months
        ("last May", "last May", "2022-05", "month", "past"),
        ("last April", "last April", "2023-04", "month", "past"),
        ("this May", "this May", "2023-05", "month", "present"),
        ("next May", "next May", "2024-05", "month", "future"),
        ("next June", "next June", "2023-06", "month", "future"),
        ("I went there in December", "December", "2022-12", "month", "past"),
        ("We will go in December", "December", "2023-12", "month", "future"),
        ("since March", "March", "2023-03", "month", "past"),
        ("in early June", "early June", "2023-06", "month", "future"),
        ("by the end of June", "the end of June", "2023-06", "month", "future"),
        ("In May I moved", "May", "2023-05", "month", "present"),
        ("May 2023", "May 2023", "2023-05", "month", "present"),
        ("in May of 2022", "May of 2022", "2022-05", "month", "past"),
        ("Jan 2022", "Jan 2022", "2022-01", "month", "past"),
        # dates
        ("March 5th", "March 5th", "2023-03-05", "day", "past"),
        ("on March 5th, 2021", "March 5th, 2021", "2021-03-05", "day", "past"),
        ("May 5th", "May 5th", "2023-05-05", "day", "past"),
        ("I went there on May 25th", "May 25th", "2022-05-25", "day", "past"),
        ("on May 20th we will go", "May 20th", "2023-05-20", "day", "future"),
        ("8 May, 2023", "8 May, 2023", "2023-05-08", "day", "present"),
        ("12 June 2022", "12 June 2022", "2022-06-12", "day", "past"),
        ("on the 5th of May", "the 5th of May", "2023-05-05", "day", "past"),
        ("Sept 5, 2021", "Sept 5, 2021", "2021-09-05", "day", "past"),
        ("on 2023-05-01", "2023-05-01", "2023-05-01", "day", "past"),
        ("February 29th", "February 29th", "2024-02-29", "day", "future"),
        # years and seasons
        ("in 2022 I moved", "2022", "2022-01-01..2022-12-31", "year", "past"),
        ("since 2019", "2019", "2019-01-01..2019-12-31", "year", "past"),
        ("last summer", "last summer", "2022-06-01..2022-08-31", "season", "past"),
        ("this summer", "this summer", "2023-06-01..2023-08-31", "season", "future"),
        ("next winter", "next winter", "2023-12-01..2024-02-29", "season", "future"),
        ("last winter", "last winter", "2022-12-01..2023-02-28", "season", "past"),
        ("last fall", "last fall", "2022-09-01..2022-11-30", "season", "past"),
        ("last autumn", "last autumn", "2022-09-01..2022-11-30", "season", "past"),
        ("next spring", "next spring", "2024-03-01..2024-05-31", "season", "future"),
        ("the summer of 2021", "summer of 2021", "2021-06-01..2021-08-31", "season", "past"),
    ],
)
def test_resolves(text: str, phrase: str, expected: str, granularity: str, direction: str) -> None:
    assert _resolved(text) == [(phrase, expected, granularity, direction)]


@pytest.mark.parametrize(
    "text",
    [
        "I have 3 cats",
        "I am 25",
        "I am 25 years old",
        "see you at 5 pm",
        "It took 3 days",
        "I finished it in 3 days",
        "first time in 2 weeks",
        "May I ask you something?",
        "I may go, you may be right",
        "3 may be enough",
        "April is my best friend",
        "a poem by June",
        "in 2000 steps",
        "in 2022 dollars",
        "room 2023",
        "my score was 2023",
        "a while ago",
        "years ago I lived there",
        "over a year ago",
        "more than 3 weeks ago",
        "it's been 10 years",
        "the last night of our trip",
        "the last week of the trip",
        "the next year was hard",
        "every Friday",
        "on Fridays I swim",
        "the next day",
        "one day I will",
        "someday",
        "until recently",
        "I fall asleep fast",
        "spring cleaning",
        "in the summer",
        "march on",
        "February 30th",
        "",
    ],
)
def test_does_not_invent_dates(text: str) -> None:
    assert find_time_mentions(text, REF) == []


def test_several_mentions_in_order_with_offsets() -> None:
    text = "I moved last May and started work 2 weeks ago, back in 2019 I was in Lisbon."
    mentions = find_time_mentions(text, REF)
    assert [m.text for m in mentions] == ["last May", "2 weeks ago", "2019"]
    for mention in mentions:
        assert text[mention.start : mention.end] == mention.text


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("the day before yesterday", "the day before yesterday"),
        ("on March 5th, 2021 we met", "March 5th, 2021"),
        ("in May 2022", "May 2022"),
        ("this past Friday", "this past Friday"),
    ],
)
def test_longest_match_wins(text: str, phrase: str) -> None:
    assert [m.text for m in find_time_mentions(text, REF)] == [phrase]


def test_ranges_are_aware_utc_midnights_with_exclusive_end() -> None:
    (mention,) = find_time_mentions("last week", REF)
    assert mention.begin == datetime(2023, 5, 1, tzinfo=UTC)
    assert mention.until == datetime(2023, 5, 8, tzinfo=UTC)
    assert mention.begin.tzinfo is not None and mention.begin.utcoffset() == timedelta(0)


def test_reference_is_taken_as_its_utc_date() -> None:
    evening_in_new_york = datetime(
        2023, 5, 8, 23, 30, tzinfo=timezone(timedelta(hours=-5))
    )  # 04:30 UTC on the 9th
    (mention,) = find_time_mentions("yesterday", evening_in_new_york)
    assert format_range(mention) == "2023-05-08"


@pytest.mark.parametrize(
    ("reference", "text", "expected"),
    [
        (datetime(2024, 1, 15, tzinfo=UTC), "this winter", "2023-12-01..2024-02-29"),
        (datetime(2024, 1, 15, tzinfo=UTC), "last winter", "2022-12-01..2023-02-28"),
        (datetime(2024, 1, 15, tzinfo=UTC), "last December", "2023-12"),
        (datetime(2024, 1, 15, tzinfo=UTC), "last week", "2024-01-08..2024-01-14"),
        (datetime(2024, 1, 2, tzinfo=UTC), "last month", "2023-12"),
        (datetime(2024, 1, 2, tzinfo=UTC), "3 weeks ago", "2023-12-11..2023-12-17"),
        (datetime(2023, 10, 10, tzinfo=UTC), "last summer", "2023-06-01..2023-08-31"),
        (datetime(2023, 10, 10, tzinfo=UTC), "this winter", "2023-12-01..2024-02-29"),
        (datetime(2023, 5, 14, tzinfo=UTC), "next Friday", "2023-05-19"),  # a Sunday: next week's Friday
        (datetime(2023, 5, 14, tzinfo=UTC), "this Friday", "2023-05-12"),
        (datetime(2023, 5, 13, tzinfo=UTC), "last weekend", "2023-05-06..2023-05-07"),
    ],
)
def test_boundaries(reference: datetime, text: str, expected: str) -> None:
    assert [format_range(m) for m in find_time_mentions(text, reference)] == [expected]


@pytest.mark.parametrize(
    ("granularity", "begin", "until", "expected"),
    [
        ("day", date(2023, 5, 8), date(2023, 5, 9), "2023-05-08"),
        ("month", date(2023, 5, 1), date(2023, 6, 1), "2023-05"),
        ("week", date(2023, 5, 1), date(2023, 5, 8), "2023-05-01..2023-05-07"),
        ("year", date(2022, 1, 1), date(2023, 1, 1), "2022-01-01..2022-12-31"),
        ("span", date(2023, 4, 8), date(2023, 5, 9), "2023-04-08..2023-05-08"),
    ],
)
def test_format_range(granularity: str, begin: date, until: date, expected: str) -> None:
    mention = TimeMention(
        "x",
        0,
        1,
        datetime.combine(begin, datetime.min.time(), UTC),
        datetime.combine(until, datetime.min.time(), UTC),
        granularity,
        "past",
    )
    assert format_range(mention) == expected


@pytest.mark.parametrize(
    ("day", "season", "which", "expected"),
    [
        (date(2023, 5, 8), "summer", "last", (date(2022, 6, 1), date(2022, 9, 1))),
        (date(2023, 7, 1), "summer", "this", (date(2023, 6, 1), date(2023, 9, 1))),
        (date(2023, 7, 1), "summer", "next", (date(2024, 6, 1), date(2024, 9, 1))),
        (date(2023, 2, 1), "winter", "this", (date(2022, 12, 1), date(2023, 3, 1))),
        (date(2023, 2, 1), "winter", "last", (date(2021, 12, 1), date(2022, 3, 1))),
        (date(2023, 2, 1), "spring", "next", (date(2023, 3, 1), date(2023, 6, 1))),
        (date(2023, 12, 5), "fall", "last", (date(2023, 9, 1), date(2023, 12, 1))),
    ],
)
def test_relative_season(day: date, season: str, which: str, expected: tuple[date, date]) -> None:
    assert dates.relative_season(day, season, which) == expected
