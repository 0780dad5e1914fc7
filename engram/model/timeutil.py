"""Timestamps: everything is stored as timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engram.errors import ValidationError

__all__ = ["UTC", "from_micros", "iso", "now", "parse_timestamp", "to_micros"]

_MIN_YEAR, _MAX_YEAR = 1000, 9000


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def parse_timestamp(value: object, what: str = "timestamp") -> datetime:
    """Turn a datetime, an ISO 8601 string or Unix seconds into an aware UTC datetime.

    Naive datetimes and ISO strings without an offset are taken to be UTC.
    """
    if isinstance(value, bool):
        raise ValidationError(f"{what} must be a datetime, ISO 8601 string or Unix seconds")
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)):
        try:
            moment = datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValidationError(f"{what} {value!r} is out of range") from exc
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValidationError(
                f"{what} {value!r} is not an ISO 8601 date-time (e.g. 2024-05-08T13:56:00Z)"
            ) from exc
    else:
        raise ValidationError(
            f"{what} must be a datetime, ISO 8601 string or Unix seconds, not {type(value).__name__}"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not _MIN_YEAR <= moment.year <= _MAX_YEAR:
        raise ValidationError(f"{what} {value!r} is outside the years {_MIN_YEAR}-{_MAX_YEAR}")
    return moment.astimezone(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    """Whole microseconds since the Unix epoch of an aware datetime (exact)."""
    return (moment - _EPOCH) // _MICRO


def from_micros(micros: int) -> datetime:
    """Aware UTC datetime of microseconds since the Unix epoch (exact)."""
    return _EPOCH + timedelta(microseconds=int(micros))


def iso(moment: datetime) -> str:
    """ISO 8601 with microseconds and an explicit UTC offset: round-trips exactly."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def iso_or_none(moment: datetime | None) -> str | None:
    """:func:`iso` of ``moment``, or None: an optional time in Engram's JSON."""
    return iso(moment) if moment is not None else None
