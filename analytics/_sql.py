"""What every metric shares: the store it reads, its time window and filters, grouping, time
buckets, and DataFrames with fixed columns and dtypes.

Values only ever reach DuckDB as named parameters (``$p0``, ``$p1``, ...): :meth:`Sql.param`
stores a value and returns its placeholder.  Column names never come from the caller as
text: they are checked against fixed lists here first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Protocol

import duckdb
import pandas as pd
from faultcast.ingest.durations import is_duration, parse_duration, resolve_time
from faultcast.ingest.durations import utc as _utc

#: A filter value: one value or several (any of them matches).
Values = str | Sequence[str] | None
#: A time bound: a datetime (naive means UTC), a date, ISO 8601 text, or a duration before the
#: latest event (``"24h"``, ``"15m"``, a :class:`~datetime.timedelta`).
TimeLike = datetime | date | timedelta | str | None
#: Grouping: one column, several, or none.
By = str | Sequence[str] | None

#: Columns an event filter may name (the keyword arguments of every metric).
FILTER_COLUMNS: Final[tuple[str, ...]] = (
    "service",
    "host",
    "component",
    "level",
    "category",
    "error_type",
    "template_id",
)
#: Columns a metric may group by (``by=``).
GROUP_COLUMNS: Final[tuple[str, ...]] = (
    "service",
    "host",
    "component",
    "level",
    "category",
    "error_type",
    "template_id",
    "template",
    "session_key",
    "recovery_action",
    "recovery_outcome",
)

#: An event is an *error* when it has a category (the store gives one to every event with an
#: error type and to every warning or worse).
IS_ERROR: Final[str] = "category IS NOT NULL"

#: dtype of a text column (pandas' string dtype; ``str`` is its alias from pandas 3 on).
TEXT: Final[str] = "str"
COUNT: Final[str] = "int64"
FLOAT: Final[str] = "float64"
TIME: Final[str] = "datetime64[us, UTC]"
#: A yes/no that may be unknown.
FLAG: Final[str] = "boolean"


class Source(Protocol):
    """What the metrics read: a :class:`faultcast.ingest.Store` or a
    :class:`faultcast.ingest.shards.ShardedStore` (tables as ``store.<name>``); the part of
    :class:`faultcast.ingest.store.StoreReader` a metric needs."""

    def reading(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...

    def exists(self) -> bool: ...


def _needs_latest(value: TimeLike) -> bool:
    return bool(is_duration(value))


def _values(name: str, value: str | Sequence[str]) -> list[str]:
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        raise TypeError(f"{name} must be text or a list of text, not {type(value).__name__}")
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name} values must be text, got {item!r}")
    return [v.lower() for v in items] if name == "level" else items


def grouping(by: By, allowed: Sequence[str] = GROUP_COLUMNS, name: str = "by") -> list[str]:
    """The validated list of columns to group by.

    >>> grouping("service"), grouping(["service", "category"]), grouping(None)
    (['service'], ['service', 'category'], [])
    """
    if by is None:
        return []
    columns = [by] if isinstance(by, str) else list(by)
    for column in columns:
        if column not in allowed:
            raise ValueError(f"cannot group by {column!r}; {name} takes any of {list(allowed)}")
    if len(set(columns)) != len(columns):
        raise ValueError(f"{name}={columns!r} names a column twice")
    return columns


def bucket_seconds(bucket: str | timedelta | None) -> float | None:
    """The width of a time bucket in seconds (``"5m"`` -> 300.0), or None for no bucketing."""
    if bucket is None:
        return None
    return float(parse_duration(bucket, "bucket"))


class Sql:
    """The named parameters of one query.

    >>> q = Sql()
    >>> q.param("x' OR '1'='1"), q.param(3, "DOUBLE")
    ('$p0', '$p1::DOUBLE')
    >>> q.params
    {'p0': "x' OR '1'='1", 'p1': 3}
    """

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def param(self, value: Any, cast: str = "") -> str:
        """Keep ``value`` as a parameter and return its placeholder (with a cast, if given)."""
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}::{cast}" if cast else f"${name}"

    def bucket(self, seconds: float | None, column: str = "ts") -> str | None:
        """The expression of the start of ``column``'s time bucket, or None for no bucketing."""
        if seconds is None:
            return None
        return (
            f"time_bucket(to_microseconds({self.param(round(seconds * 1e6), 'BIGINT')}), {column})"
        )

    def limit(self, limit: int | None) -> str:
        """``LIMIT`` with ``limit`` as a parameter (empty for None: no limit)."""
        if limit is None:
            return ""
        if int(limit) < 0:
            raise ValueError(f"limit must be 0 or more, not {limit!r}")
        return f"LIMIT {self.param(int(limit), 'BIGINT')}"

    def run(self, con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
        return con.execute(sql, self.params).df()


@dataclass(frozen=True)
class Window:
    """A resolved time window: ``start <= ts < end`` (either side open when None)."""

    start: datetime | None
    end: datetime | None
    #: The latest event time of the whole store (None when it has no events).
    latest: datetime | None


@dataclass(frozen=True)
class Scope:
    """A metric's time window and event filters, as the caller gave them."""

    since: TimeLike = None
    until: TimeLike = None
    service: Values = None
    host: Values = None
    component: Values = None
    level: Values = None
    category: Values = None
    error_type: Values = None
    template_id: Values = None

    def filters(self, only: Sequence[str] = FILTER_COLUMNS) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name in FILTER_COLUMNS:
            value = getattr(self, name)
            if value is not None and name in only:
                found[name] = _values(name, value)
        return found

    def window(self, con: duckdb.DuckDBPyConnection) -> Window:
        """Resolve the time bounds (durations count back from the latest event)."""
        latest: datetime | None = None
        if _needs_latest(self.since) or _needs_latest(self.until):
            row = con.execute("SELECT max(ts) FROM store.events").fetchall()[0]
            latest = None if row[0] is None else _utc(row[0])
        start = resolve_time(self.since, latest, "since")
        end = resolve_time(self.until, latest, "until")
        if start is not None and end is not None and end < start:
            raise ValueError(f"until ({end.isoformat()}) is before since ({start.isoformat()})")
        return Window(start, end, latest)

    def where(
        self,
        q: Sql,
        window: Window,
        *,
        alias: str = "",
        only: Sequence[str] = FILTER_COLUMNS,
        time: bool = True,
    ) -> str:
        """The WHERE condition of this scope (``TRUE`` when it has none)."""
        prefix = f"{alias}." if alias else ""
        clauses: list[str] = []
        if time and window.start is not None:
            clauses.append(f"{prefix}ts >= {q.param(window.start, 'TIMESTAMPTZ')}")
        if time and window.end is not None:
            clauses.append(f"{prefix}ts < {q.param(window.end, 'TIMESTAMPTZ')}")
        for column, values in self.filters(only).items():
            if not values:
                clauses.append("FALSE")
            elif len(values) == 1:
                clauses.append(f"{prefix}{column} = {q.param(values[0], 'VARCHAR')}")
            else:
                listed = ", ".join(q.param(v, "VARCHAR") for v in values)
                clauses.append(f"{prefix}{column} IN ({listed})")
        return " AND ".join(clauses) if clauses else "TRUE"


def columns_sql(columns: Sequence[str], alias: str = "") -> str:
    """``a, b, `` for a SELECT list (empty for no columns); the names are already checked."""
    prefix = f"{alias}." if alias else ""
    return "".join(f"{prefix}{c}, " for c in columns)


def frame(df: pd.DataFrame | None, schema: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """``df`` with exactly the columns of ``schema``, in order, with their dtypes (an empty
    frame of them when ``df`` is None)."""
    if df is None:
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in schema})
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for name, dtype in schema:
        column = df[name]
        if dtype == COUNT and column.isna().any():
            column = column.fillna(0)
        out[name] = column.astype(dtype)
    return out


def read(
    source: Source,
    schema: Sequence[tuple[str, str]],
    query: Callable[[duckdb.DuckDBPyConnection], pd.DataFrame | None],
) -> pd.DataFrame:
    """Run ``query`` on a read connection and type its result by ``schema``; a store that does
    not exist yet, or a query that returns None, reads as empty."""
    if not source.exists():
        return frame(None, schema)
    with source.reading() as con:
        df = query(con)
    return frame(df, schema)


def grouped(columns: Sequence[str], bucket: bool) -> list[tuple[str, str]]:
    """The schema of the leading columns of a grouped metric: ``bucket`` first, then ``by``."""
    lead = [("bucket", TIME)] if bucket else []
    return lead + [(c, TEXT) for c in columns]


def group_by(columns: Sequence[str], bucket: bool) -> str:
    """``GROUP BY ...`` for the bucket and ``columns``; with neither, a total row only when
    something was counted (so an empty store reads as an empty frame)."""
    names = (["bucket"] if bucket else []) + list(columns)
    return f"GROUP BY {', '.join(names)}" if names else "HAVING count(*) > 0"


def order_by(columns: Sequence[str], bucket: bool, then: str) -> str:
    names = (["bucket"] if bucket else []) + [then] + [f"{c} NULLS LAST" for c in columns]
    return "ORDER BY " + ", ".join(names)


def window_bounds(
    con: duckdb.DuckDBPyConnection, window: Window
) -> tuple[datetime, datetime] | None:
    """The window's start and end; an open side ends at the store's first or last event (None
    when the store has no events)."""
    start, end = window.start, window.end
    if start is None or end is None:
        first, last = con.execute("SELECT min(ts), max(ts) FROM store.events").fetchall()[0]
        start = start if start is not None else (None if first is None else _utc(first))
        end = end if end is not None else (None if last is None else _utc(last))
    if start is None or end is None:
        return None
    return start, end


def window_minutes(con: duckdb.DuckDBPyConnection, window: Window) -> float | None:
    """Minutes in the window (:func:`window_bounds`), at least one."""
    bounds = window_bounds(con, window)
    if bounds is None:
        return None
    return max((bounds[1] - bounds[0]).total_seconds() / 60, 1.0)


def per_minute(q: Sql, con: duckdb.DuckDBPyConnection, window: Window, width: float | None) -> str:
    """A parameter holding the minutes to divide counts by: the bucket width, else the window."""
    minutes = width / 60 if width is not None else window_minutes(con, window)
    return q.param(minutes, "DOUBLE")
