"""Validation of input: scopes, messages, timestamps, filters. Pure, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram import Scope, SearchFilters, ValidationError
from engram.model.limits import MAX_BATCH_MESSAGES, MAX_CONTENT_BYTES, MAX_ID_CHARS
from engram.model.messages import parse_messages
from engram.model.timeutil import from_micros, iso, parse_timestamp, to_micros

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SCOPE = Scope("t", "alice", None, "s1")


def parse(messages, **kw):
    return parse_messages(messages, SCOPE, now=NOW, **kw)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-08T13:56:00Z", datetime(2024, 5, 8, 13, 56, tzinfo=UTC)),
        ("2024-05-08T15:56:00+02:00", datetime(2024, 5, 8, 13, 56, tzinfo=UTC)),
        ("2024-05-08 13:56", datetime(2024, 5, 8, 13, 56, tzinfo=UTC)),  # naive = UTC
        ("2024-05-08", datetime(2024, 5, 8, tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (1715176560.5, datetime(2024, 5, 8, 13, 56, 0, 500000, tzinfo=UTC)),
        (datetime(2024, 5, 8, 13, 56), datetime(2024, 5, 8, 13, 56, tzinfo=UTC)),
    ],
)
def test_timestamps_parse_to_utc(value, expected):
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", "", True, [], "99999-01-01", 1e20])
def test_malformed_timestamps_are_rejected(value):
    with pytest.raises(ValidationError):
        parse_timestamp(value)


def test_microsecond_timestamps_round_trip_exactly():
    moment = datetime(2023, 5, 30, 23, 40, 12, 345678, tzinfo=UTC)
    assert from_micros(to_micros(moment)) == moment
    assert parse_timestamp(iso(moment)) == moment


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tenant": "", "user_id": "u"}, "tenant"),
        ({"tenant": "t", "user_id": None}, "user_id is required"),
        ({"tenant": "t", "user_id": " u"}, "spaces"),
        ({"tenant": "t", "user_id": "u\n"}, "spaces"),
        ({"tenant": "t", "user_id": "a\x00b"}, "control"),
        ({"tenant": "t", "user_id": "x" * (MAX_ID_CHARS + 1)}, "longer"),
        ({"tenant": "t", "user_id": 7}, "string"),
    ],
)
def test_bad_scopes_are_rejected(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        Scope(**kwargs)


def test_emails_and_uuids_are_valid_ids():
    Scope("acme", "alice@example.com", "agent-1", "3f1c0a8e-9b0e-4d1e-8f7a-1c2d3e4f5a6b")


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "empty"),
        ([{"role": "user", "content": ""}], "empty"),
        ([{"role": "user", "content": "   \n"}], "empty"),
        ([{"role": "robot", "content": "hi"}], "role 'robot'"),
        ([{"content": "hi"}], "role None"),
        ([{"role": "user"}], "must be a string"),
        ([{"role": "user", "content": 5}], "must be a string"),
        ([{"role": "user", "content": "x" * (MAX_CONTENT_BYTES + 1)}], "limit"),
        ([{"role": "user", "content": "bad \udc80 surrogate"}], "UTF-8"),
        ([{"role": "user", "content": b"\xff\xfe"}], "UTF-8"),
        ([{"role": "user", "content": "nul \x00 byte"}], "NUL"),
        ([{"role": "user", "content": "hi", "timestamp": "last tuesday"}], "ISO 8601"),
        ([{"role": "user", "content": "hi", "metadata": [1]}], "JSON object"),
        ([{"role": "user", "content": "hi", "metadata": {"x": object()}}], "JSON"),
        ([{"role": "user", "content": "hi", "color": "red"}], "unknown field"),
        (["just a string in a list"], "must be an object"),
        (42, "list"),
        ([{"role": "user", "content": "ok"}] * (MAX_BATCH_MESSAGES + 1), "limit"),
    ],
)
def test_bad_messages_are_rejected_with_a_clear_error(messages, message):
    with pytest.raises(ValidationError, match=message):
        parse(messages)


def test_the_error_names_the_bad_message():
    with pytest.raises(ValidationError, match=r"messages\[1\]\.role"):
        parse([{"role": "user", "content": "fine"}, {"role": "bot", "content": "bad"}])


def test_a_string_is_one_user_message():
    (turn,) = parse("I like tea")
    assert (turn.role, turn.content, turn.timestamp) == ("user", "I like tea", NOW)


def test_ids_are_stable_and_respect_explicit_times_and_repeats():
    batch = [
        {"role": "user", "content": "ok"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "ok"},
    ]
    first = parse(batch)
    again = parse_messages(batch, SCOPE, now=NOW + timedelta(hours=1))
    assert [t.id for t in first] == [t.id for t in again]  # no explicit time: a retry is recognised
    assert len({t.id for t in first}) == 3  # a repeated message in one call is two turns
    timed = parse(batch, timestamp="2024-01-01T00:00:00Z")
    later = parse(batch, timestamp="2024-01-02T00:00:00Z")
    assert {t.id for t in timed}.isdisjoint({t.id for t in later})  # same words, another time
    other_session = parse_messages(batch, SCOPE.with_session("s2"), now=NOW)
    assert {t.id for t in first}.isdisjoint({t.id for t in other_session})


def test_caller_ids_make_the_identity():
    a = parse([{"role": "user", "content": "v1", "id": "m-1"}])
    b = parse([{"role": "user", "content": "edited", "id": "m-1"}])
    assert a[0].id == b[0].id


def test_metadata_is_merged_message_over_call():
    (turn,) = parse([{"role": "user", "content": "hi", "metadata": {"a": 2}}], metadata={"a": 1, "b": 1})
    assert turn.metadata == {"a": 2, "b": 1}


def test_session_is_required_to_add():
    with pytest.raises(ValidationError, match="session_id"):
        parse_messages("hi", Scope("t", "u"), now=NOW)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"colour": "red"}, "unknown filter"),
        ({"role": "wizard"}, "role"),
        ({"session_id": ""}, "non-empty"),
        ({"metadata": {"a b": 1}}, "letters"),
        ({"metadata": {"a": [1]}}, "scalar"),
        ({"since": "2024-02-01", "until": "2024-01-01"}, "after"),
        ({"since": "soon"}, "ISO"),
    ],
)
def test_bad_filters_are_rejected(raw, message):
    with pytest.raises(ValidationError, match=message):
        SearchFilters.coerce(raw)


def test_filters_accept_singular_and_plural_forms():
    flt = SearchFilters.coerce({"session_id": "s1", "roles": ["user", "assistant"], "metadata": {"k": True}})
    assert flt.session_ids == ("s1",) and flt.roles == ("user", "assistant") and flt.metadata == {"k": True}
