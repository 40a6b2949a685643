"""The raw read path: stored events, quarantined input, and what the whole store holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import duckdb
import pandas as pd
from faultcast.analytics._sql import (
    COUNT,
    FLAG,
    FLOAT,
    IS_ERROR,
    TEXT,
    TIME,
    Scope,
    Source,
    Sql,
    TimeLike,
    Values,
    _values,
    read,
)
from faultcast.ingest.durations import resolve_time
from faultcast.ingest.schema import EVENT_COLUMNS

_DTYPES: Final[dict[str, str]] = {
    "VARCHAR": TEXT,
    "JSON": TEXT,
    "TIMESTAMPTZ": TIME,
    "BOOLEAN": FLAG,
    "INTEGER": "Int64",
    "BIGINT": "Int64",
    "DOUBLE": FLOAT,
}
#: Every column of ``events`` with its dtype.
_EVENTS_SCHEMA: Final[list[tuple[str, str]]] = [
    (name, _DTYPES[kind]) for name, kind in EVENT_COLUMNS
]

_QUARANTINE_SCHEMA: Final[list[tuple[str, str]]] = [
    ("source", TEXT),
    ("source_offset", COUNT),
    ("raw", TEXT),
    ("reason", TEXT),
    ("ingested_at", TIME),
]


def events(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    limit: int | None = None,
    newest_first: bool = False,
    service: Values = None,
    host: Values = None,
    component: Values = None,
    level: Values = None,
    category: Values = None,
    error_type: Values = None,
    template_id: Values = None,
    session_key: Values = None,
) -> pd.DataFrame:
    """Stored events in ``since <= ts < until``, oldest first (``newest_first=True`` for the
    latest first), at most ``limit``, filtered by any of service, host, component, level,
    category, error_type, template_id, session_key (a value or a list of values).

    Returns
    -------
    DataFrame
        Every column of the ``events`` table (see DESIGN.md, "The event"); an empty frame of
        them when nothing matches or the store does not exist yet.

    Examples
    --------
    >>> from faultcast.analytics import events, example_store
    >>> events(example_store(), service="payments", level="critical", limit=1)[
    ...     ["service", "level", "error_type"]]
        service     level           error_type
    0  payments  critical  BudgetExceededError
    """
    scope = Scope(since, until, service, host, component, level, category, error_type, template_id)
    direction = "DESC" if newest_first else ""

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        where = scope.where(q, scope.window(con))
        if session_key is not None:
            keys = _values("session_key", session_key)
            listed = ", ".join(q.param(k, "VARCHAR") for k in keys) or "NULL"
            where += f" AND session_key IN ({listed})"
        order = f"ts {direction}, source {direction}, source_offset {direction}"
        columns = ", ".join(name for name, _ in _EVENTS_SCHEMA)
        sql = f"SELECT {columns} FROM store.events WHERE {where} ORDER BY {order} {q.limit(limit)}"
        return q.run(con, sql)

    return read(source, _EVENTS_SCHEMA, query)


def quarantine(
    store: Source,
    *,
    source: str | Sequence[str] | None = None,
    since: TimeLike = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> pd.DataFrame:
    """Quarantined input (what could not be stored, with its reason), by source and line
    (``newest_first=True``: the latest quarantined first, each source's last line first).

    ``source`` keeps one input (a file path, ``<stdin>``, ``kafka:topic:partition``) or a list
    of them; ``since`` keeps what was quarantined from then on (a time, or a duration before now).

    Returns
    -------
    DataFrame
        ``source`` (str), ``source_offset`` (int64: line number or Kafka offset), ``raw``
        (str: the line, redacted), ``reason`` (str), ``ingested_at`` (datetime64[us, UTC]).

    Examples
    --------
    >>> from faultcast.analytics import example_store, quarantine
    >>> quarantine(example_store()).empty
    True
    """

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        clauses = ["TRUE"]
        if source is not None:
            names = _values("source", source)
            clauses.append(
                f"source IN ({', '.join(q.param(n, 'VARCHAR') for n in names) or 'NULL'})"
            )
        if since is not None:
            start = resolve_time(since, datetime.now(UTC), "since")
            clauses.append(f"ingested_at >= {q.param(start, 'TIMESTAMPTZ')}")
        order = (
            "ingested_at DESC, source, source_offset DESC"
            if newest_first
            else "source, source_offset"
        )
        sql = (
            f"SELECT source, source_offset, raw, reason, ingested_at FROM store.quarantine "
            f"WHERE {' AND '.join(clauses)} ORDER BY {order} {q.limit(limit)}"
        )
        return q.run(con, sql)

    return read(store, _QUARANTINE_SCHEMA, query)


def store_summary(source: Source) -> dict[str, Any]:
    """Counts of the whole store: ``events``, ``services``, ``first`` and ``last`` (ISO 8601
    or None), ``failures``, ``errors`` (events with a category), ``templates``, ``levels``
    and ``categories`` (counts by value, the most common first) and ``quarantined``.

    Examples
    --------
    >>> from faultcast.analytics import example_store, store_summary
    >>> summary = store_summary(example_store())
    >>> summary["events"], summary["services"], summary["quarantined"]
    (19, 2, 0)
    """
    empty: dict[str, Any] = {
        "events": 0,
        "services": 0,
        "first": None,
        "last": None,
        "failures": 0,
        "errors": 0,
        "templates": 0,
        "levels": {},
        "categories": {},
        "quarantined": 0,
    }
    if not source.exists():
        return empty
    with source.reading() as con:
        row = con.execute(
            f"""SELECT count(*), count(DISTINCT service), min(ts), max(ts),
                    count(*) FILTER (WHERE failure), count(*) FILTER (WHERE {IS_ERROR}),
                    count(DISTINCT template_id)
                FROM store.events"""
        ).fetchall()[0]
        levels = con.execute(
            "SELECT level, count(*) FROM store.events GROUP BY ALL ORDER BY 2 DESC, 1"
        ).fetchall()
        categories = con.execute(
            "SELECT category, count(*) FROM store.events WHERE category IS NOT NULL "
            "GROUP BY ALL ORDER BY 2 DESC, 1"
        ).fetchall()
        quarantined = con.execute("SELECT count(*) FROM store.quarantine").fetchall()[0][0]
    return {
        **empty,
        "events": int(row[0]),
        "services": int(row[1]),
        "first": row[2].isoformat() if row[2] else None,
        "last": row[3].isoformat() if row[3] else None,
        "failures": int(row[4]),
        "errors": int(row[5]),
        "templates": int(row[6]),
        "levels": {k: int(v) for k, v in levels},
        "categories": {k: int(v) for k, v in categories},
        "quarantined": int(quarantined),
    }
