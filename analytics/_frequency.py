"""How often errors happen: counts by type, category, service and time; error rates per unit."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import duckdb
import pandas as pd
from faultcast.analytics._sql import (
    COUNT,
    FLOAT,
    IS_ERROR,
    TEXT,
    By,
    Scope,
    Source,
    Sql,
    TimeLike,
    Values,
    bucket_seconds,
    columns_sql,
    group_by,
    grouped,
    grouping,
    order_by,
    per_minute,
    read,
)


def error_frequency(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    by: By = "category",
    bucket: str | timedelta | None = None,
    service: Values = None,
    host: Values = None,
    component: Values = None,
    level: Values = None,
    category: Values = None,
    error_type: Values = None,
    template_id: Values = None,
) -> pd.DataFrame:
    """How many errors there were, per ``by`` group and (with ``bucket``) per time bucket.

    An *error* is an event with a category: every event with an error type, and every warning
    or worse (the store's taxonomy).

    Parameters
    ----------
    since, until
        The window ``since <= ts < until``: a datetime (naive is UTC), ISO 8601 text, or a
        duration before the latest event (``"24h"``).  Default: the whole history.
    by
        Columns to group by: any of service, host, component, level, category, error_type,
        template_id, template, session_key, recovery_action, recovery_outcome (one name, a
        list, or None for one total).
    bucket
        Time bucket width (``"1m"``, ``"5m"``, ``"1h"``, ``"1d"``), aligned to UTC; buckets
        without errors are absent.
    service, host, component, level, category, error_type, template_id
        Keep only events with this value (or any of these values).

    Returns
    -------
    DataFrame
        ``bucket`` (datetime64[us, UTC], the start of the bucket, only with ``bucket``), the
        ``by`` columns (str), ``errors`` (int64), ``failures`` (int64: errors that mark a
        failure), ``share`` (float64: of all errors in the same bucket, or in the window);
        ordered by bucket, then most errors first.

    Examples
    --------
    >>> from faultcast.analytics import example_store, error_frequency
    >>> store = example_store()
    >>> print(error_frequency(store).to_string(index=False))
         category  errors  failures    share
         security       5         0 0.333333
    communication       4         0 0.266667
           budget       3         1 0.200000
        streaming       2         2 0.133333
             data       1         0 0.066667
    >>> error_frequency(store, by=["service", "error_type"], since="2026-01-01T00:10",
    ...                 service="payments").head(2)[["error_type", "errors"]]
                error_type  errors
    0  AuthenticationError       3
    1          BudgetError       2
    """
    columns = grouping(by)
    width = bucket_seconds(bucket)
    scope = Scope(since, until, service, host, component, level, category, error_type, template_id)
    schema = [*grouped(columns, width is not None), ("errors", COUNT), ("failures", COUNT)]
    schema.append(("share", FLOAT))

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        where = scope.where(q, scope.window(con))
        b = q.bucket(width)
        lead = f"{b} AS bucket, " if b else ""
        partition = "PARTITION BY bucket" if b else ""
        sql = f"""
            SELECT {lead}{columns_sql(columns)}
                count(*) AS errors,
                count(*) FILTER (WHERE failure) AS failures,
                count(*) / sum(count(*)) OVER ({partition}) AS share
            FROM store.events
            WHERE {IS_ERROR} AND {where}
            {group_by(columns, b is not None)}
            {order_by(columns, b is not None, "errors DESC")}
        """
        return q.run(con, sql)

    return read(source, schema, query)


#: A call report: an event whose message is ``calls`` with a ``calls`` count in its attributes,
#: the calls its unit made since its previous report (``log.info("calls", calls=1200)`` once a
#: minute).  Its template is ``calls`` too: a cheap filter (the JSON is parsed only there).
CALLS: Final[str] = "TRY_CAST(json_extract_string(attrs, '$.calls') AS DOUBLE)"
_REPORTS_CALLS: Final[str] = "template = 'calls' AND message = 'calls'"
#: The units calls can be reported for (a category or an error type makes no calls).
_CALL_UNITS: Final[tuple[str, ...]] = ("service", "host", "component")


def error_rate(
    source: Source,
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    by: By = "service",
    bucket: str | timedelta | None = None,
    service: Values = None,
    host: Values = None,
    component: Values = None,
    level: Values = None,
    category: Values = None,
    error_type: Values = None,
    template_id: Values = None,
) -> pd.DataFrame:
    """Errors per unit (``by``, the service by default): their rate per call where the unit
    reports its calls, else their share of its logged events; and errors per minute.

    **The denominator.**  Applications log few of their successes, so errors over logged
    events overstates the error rate (87% for an app that logs every error and one success
    in ten).  Where a unit reports its calls (events with the message ``calls`` and a numeric
    ``calls`` attribute: the calls made since its previous report), ``error_rate`` is
    errors / calls and
    ``error_rate_basis`` is ``"calls"``; elsewhere it is errors / events and the basis is
    ``"logged events"``: a share of what was logged, not of what was called.  Calls are
    counted per service, host or component (with ``by`` made of those, or None) over the
    window and unit filters only: ``level``, ``category``, ``error_type`` and ``template_id``
    narrow the errors, not the calls.

    Parameters are those of :func:`error_frequency`.  ``errors_per_minute`` divides by the
    bucket's width with ``bucket``, else by the window: ``since`` (or the store's first event)
    to ``until`` (or its last event), at least one minute.

    Returns
    -------
    DataFrame
        ``bucket`` (only with ``bucket``), the ``by`` columns (str), ``events`` (int64: all
        events, any level), ``errors`` (int64), ``failures`` (int64), ``error_rate``
        (float64: errors / calls, or errors / events: see ``error_rate_basis``),
        ``errors_per_minute`` (float64), ``calls`` (int64: calls reported, 0 when none),
        ``error_rate_basis`` (str: ``"calls"`` or ``"logged events"``); ordered by bucket,
        then the highest error rate first.

    Examples
    --------
    >>> from faultcast.analytics import example_store, error_rate
    >>> print(error_rate(example_store()).drop(columns="calls").to_string(index=False))
     service  events  errors  failures  error_rate  errors_per_minute error_rate_basis
    payments       9       8         1    0.888889           0.190476    logged events
    checkout      10       7         2    0.700000           0.166667    logged events
    """
    columns = grouping(by)
    width = bucket_seconds(bucket)
    scope = Scope(since, until, service, host, component, level, category, error_type, template_id)
    schema = [
        *grouped(columns, width is not None),
        ("events", COUNT),
        ("errors", COUNT),
        ("failures", COUNT),
        ("error_rate", FLOAT),
        ("errors_per_minute", FLOAT),
        ("calls", COUNT),
        ("error_rate_basis", TEXT),
    ]
    counts_calls = all(c in _CALL_UNITS for c in columns)

    def query(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        q = Sql()
        window = scope.window(con)
        where = scope.where(q, window)
        b = q.bucket(width)
        lead = f"{b} AS bucket, " if b else ""
        minutes = per_minute(q, con, window, width)
        keys = (["bucket"] if b else []) + columns
        if counts_calls:
            unit_where = scope.where(q, window, only=_CALL_UNITS)
            calls_cte = f""", k AS (
                SELECT {lead}{columns_sql(columns)} sum(calls) AS calls
                FROM (SELECT *, {CALLS} AS calls FROM store.events
                      WHERE {unit_where} AND {_REPORTS_CALLS})
                WHERE calls >= 0 AND isfinite(calls)
                {group_by(columns, b is not None)}
            )"""
            match = " AND ".join(f"e.{c} IS NOT DISTINCT FROM k.{c}" for c in keys) or "TRUE"
            join = f"LEFT JOIN k ON {match}"
            calls = "coalesce(k.calls, 0)"
        else:
            calls_cte, join, calls = "", "", "0"
        sql = f"""
            WITH e AS (
                SELECT {lead}{columns_sql(columns)}
                    count(*) AS events,
                    count(*) FILTER (WHERE {IS_ERROR}) AS errors,
                    count(*) FILTER (WHERE failure) AS failures
                FROM store.events
                WHERE {where}
                {group_by(columns, b is not None)}
            ){calls_cte}
            SELECT * FROM (
                SELECT {columns_sql(keys, "e")}e.events, e.errors, e.failures,
                    CASE WHEN {calls} > 0 THEN e.errors / {calls}
                         ELSE e.errors / e.events END AS error_rate,
                    e.errors / {minutes} AS errors_per_minute,
                    CAST(round({calls}) AS BIGINT) AS calls,
                    CASE WHEN {calls} > 0 THEN 'calls' ELSE 'logged events' END
                        AS error_rate_basis
                FROM e {join}
            )
            {order_by(columns, b is not None, "error_rate DESC")}
        """
        return q.run(con, sql)

    return read(source, schema, query)
