"""Durations and time bounds: the one parser every layer (CLI, facade, models, analytics) uses.

A duration is ``"30s"``, ``"15m"``, ``"1.5h"``, ``"2d"``, ``"1w"``, a number of seconds or a
:class:`~datetime.timedelta`.  A time bound is a datetime (naive means UTC), a date, ISO 8601
text, or a duration counted back from a reference time (``--since 1h``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Final

DURATION_RE: Final[re.Pattern[str]] = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)?\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS: Final[dict[str, int]] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_HINT: Final[str] = "use e.g. 30s, 15m, 1h, 2d"


def is_duration(value: object) -> bool:
    """Whether ``value`` reads as a duration (a timedelta or text like ``"15m"``).

    >>> is_duration("15m"), is_duration("2026-01-01"), is_duration(timedelta(hours=1))
    (True, False, True)
    """
    return isinstance(value, timedelta) or (
        isinstance(value, str) and DURATION_RE.match(value) is not None
    )


def parse_duration(text: str | float | timedelta, name: str = "") -> float:
    """Seconds in a duration like ``"15m"``, ``"1h"``, ``"2d"``, a number of seconds or a
    timedelta; ``name`` names the option or argument in the error.  Must be positive.

    >>> parse_duration("15m"), parse_duration("1.5h"), parse_duration(30)
    (900.0, 5400.0, 30.0)
    >>> parse_duration("soon", "--since")
    Traceback (most recent call last):
    ...
    ValueError: --since='soon' is not a duration; use e.g. 30s, 15m, 1h, 2d
    """
    what = f"{name}={text!r}" if name else repr(text)
    if isinstance(text, timedelta):
        seconds = text.total_seconds()
    elif isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    elif isinstance(text, str) and (m := DURATION_RE.match(text)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[(m.group(2) or "s")[0].lower()]
    else:
        raise ValueError(f"{what} is not a duration; {_HINT}")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{what} is not a positive duration; {_HINT}")
    return seconds


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC (a naive datetime is taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def resolve_time(
    value: datetime | date | timedelta | str | None, latest: datetime | None, name: str
) -> datetime | None:
    """An absolute UTC time for a time bound; durations count back from ``latest`` (None when
    ``latest`` is None: nothing to count back from).

    >>> latest = datetime(2026, 1, 2, tzinfo=UTC)
    >>> resolve_time("6h", latest, "since").isoformat()
    '2026-01-01T18:00:00+00:00'
    >>> resolve_time("2026-01-01T12:00", latest, "since").isoformat()
    '2026-01-01T12:00:00+00:00'
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if is_duration(value):
        seconds = parse_duration(value, name)
        return None if latest is None else latest - timedelta(seconds=seconds)
    if isinstance(value, str):
        try:
            return utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            pass
    raise ValueError(
        f"{name}={value!r} is neither a time (a datetime or ISO 8601 text such as "
        "2026-01-01T12:00:00Z) nor a duration before the latest event (such as 24h, 15m, 2d)"
    )
